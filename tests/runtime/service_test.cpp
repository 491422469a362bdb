// The real `build/bin/yoco serve` process: malformed and unknown requests get error replies and are counted,
// REQ and DEALER clients both work, and the pyzmq client (tools/client/) runs its whole scenario against it
// (skipped when no python3 with pyzmq is installed).
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "tests/runtime/runtime_fixtures.h"

namespace yoco::test {
namespace {

const VideoDirCleanup cleanup;

// A yoco serve child process on a free loopback port, stopped with SIGTERM at the end.
class Server {
 public:
  Server() {
    endpoint_ = "tcp://127.0.0.1:" + std::to_string(free_loopback_port());
    pid_ = fork();
    if (pid_ == 0) {
      const std::string bin = std::string(YOCO_BIN_DIR) + "/yoco", model = runtime_model_dir();
      execl(bin.c_str(), bin.c_str(), "serve", "--model", model.c_str(), "--bind", endpoint_.c_str(),
            "--max-request-bytes", "1024", static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~Server() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  // Exit status after SIGTERM (and stops tracking the child).
  int stop() {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  bool alive() const { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }
  const std::string& endpoint() const { return endpoint_; }

 private:
  pid_t pid_ = -1;
  std::string endpoint_;
};

nlohmann::json req_round_trip(zmq::socket_t& req, const std::string& body) {
  req.send(zmq::buffer(body));
  zmq::message_t m;
  zmq::pollitem_t item{req.handle(), 0, ZMQ_POLLIN, 0};
  zmq::poll(&item, 1, std::chrono::milliseconds(20000));
  if (!(item.revents & ZMQ_POLLIN)) return nullptr;
  (void)req.recv(m);
  return nlohmann::json::parse(m.to_string());
}

TEST(Service, MalformedAndUnknownRequestsGetErrorReplies) {
  Server server;
  zmq::context_t ctx;
  zmq::socket_t req(ctx, zmq::socket_type::req);
  req.set(zmq::sockopt::linger, 0);
  req.connect(server.endpoint());
  auto r = req_round_trip(req, R"({"v": 1, "id": 1, "op": "status"})");
  ASSERT_TRUE(r.is_object()) << "no reply from yoco serve";
  EXPECT_EQ(r["ok"], true);
  EXPECT_EQ(r["id"], 1);
  EXPECT_EQ(r["streams"], nlohmann::json::array());
  const std::vector<std::string> bad = {"", "null", "[1,2]", "{\"v\":1", "\xff\xfe", R"({"v": 2, "id": 2, "op": "status"})",
                                        R"({"v": 1, "id": 3})", R"({"v": 1, "id": 4, "op": "explode"})",
                                        R"({"v": 1, "id": 5, "op": "ask", "stream": 7, "question": "x"})",
                                        R"({"v": 1, "id": 6, "op": "close", "stream": "none"})",
                                        R"({"v": 1, "id": 7, "op": "open", "stream": "a", "source": "camera:notanumber"})",
                                        R"({"v": 1, "id": 8, "op": "open", "stream": "a", "source": "x", "options": 3})",
                                        R"({"v": 1, "id": 9, "op": "open", "stream": "a", "source": "bus"})",
                                        "{\"v\": 1, \"id\": 10, \"op\": \"status\", \"pad\": \"" + std::string(2000, 'x') + "\"}"};
  for (const auto& b : bad) {
    auto e = req_round_trip(req, b);
    ASSERT_TRUE(e.is_object()) << "no reply to: " << b;
    EXPECT_EQ(e["ok"], false) << b;
    EXPECT_TRUE(e["error"].is_string()) << b;
  }
  // instruct echoes what the stream will do: the prompt it asks and the seconds each evaluation reads.
  const nlohmann::json open = {{"v", 1}, {"id", 20}, {"op", "open"}, {"stream", "ins"}, {"source", test_clip(2.0)}};
  ASSERT_EQ(req_round_trip(req, open.dump())["ok"], true);
  auto ins = req_round_trip(req, R"({"v": 1, "id": 21, "op": "instruct", "stream": "ins", "instruction": "caption every 2 s", "context": 5})");
  ASSERT_EQ(ins["ok"], true) << ins;
  EXPECT_EQ(ins["instruction"]["kind"], "caption");
  EXPECT_EQ(ins["instruction"]["every"], 2.0);
  EXPECT_EQ(ins["instruction"]["context"], 5.0);
  EXPECT_EQ(ins["instruction"]["prompt"], "what happened?");  // the test model declares none
  ins = req_round_trip(req, R"({"v": 1, "id": 22, "op": "instruct", "stream": "ins", "instruction": "say when it is red"})");
  ASSERT_EQ(ins["ok"], true) << ins;
  EXPECT_EQ(ins["instruction"]["context"], 0.0);  // alerts read everything unless told
  ins = req_round_trip(req, R"({"v": 1, "id": 23, "op": "instruct", "stream": "ins", "instruction": "x", "context": -1})");
  EXPECT_EQ(ins["ok"], false);
  ASSERT_EQ(req_round_trip(req, R"({"v": 1, "id": 24, "op": "close", "stream": "ins"})")["ok"], true);

  // DEALER without the empty delimiter frame: the reply comes back the same way.
  zmq::socket_t dealer(ctx, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);
  dealer.connect(server.endpoint());
  dealer.send(zmq::buffer(std::string(R"({"v": 1, "id": "d", "op": "stats"})")));
  std::vector<zmq::message_t> parts;
  zmq::pollitem_t item{dealer.handle(), 0, ZMQ_POLLIN, 0};
  zmq::poll(&item, 1, std::chrono::milliseconds(20000));
  ASSERT_TRUE(zmq::recv_multipart(dealer, std::back_inserter(parts)));
  const auto s = nlohmann::json::parse(parts.back().to_string());
  EXPECT_EQ(s["id"], "d");
  EXPECT_GE(s["service"]["malformed"].get<int>(), 7);
  EXPECT_GE(s["service"]["unknown_op"].get<int>(), 1);
  EXPECT_GE(s["service"]["too_large"].get<int>(), 1);
  EXPECT_TRUE(server.alive());
  EXPECT_EQ(server.stop(), 0);
}

TEST(Service, PythonClientScenario) {
  std::string python;
  for (const char* p : {"/usr/bin/python3", "python3"})
    if (run_ok(std::string(p) + " -c 'import zmq'")) {
      python = p;
      break;
    }
  if (python.empty()) GTEST_SKIP() << "no python3 with pyzmq (Debian: python3-zmq)";
  const std::string cmd = python + " " + YOCO_SOURCE_DIR + "/tools/client/service_check.py --yoco " + YOCO_BIN_DIR +
                          "/yoco --model " + runtime_model_dir() + " --clip " + test_clip(4.0) + " 2>&1";
  const std::string out = run_capture(cmd + "; echo rc=$?");
  if (out.find("rc=77") != std::string::npos) GTEST_SKIP() << out;
  EXPECT_NE(out.find("service_check: ok"), std::string::npos) << out;
  EXPECT_NE(out.find("rc=0"), std::string::npos) << out;
}

}  // namespace
}  // namespace yoco::test
