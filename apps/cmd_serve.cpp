// yoco serve --bind ENDPOINT [--events ENDPOINT] [--frames ENDPOINT]: the ZeroMQ service (docs/PROTOCOL.md).
#include <csignal>
#include <cstdio>
#include <fstream>
#include <zmq.h>

#include "apps/args.h"
#include "apps/command.h"
#include "apps/common.h"
#include "apps/service/service.h"
#include "kernels/error.h"
#include "llm/model.h"

namespace yoco::app {

namespace {
std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop = true; }

bool is_loopback(const std::string& ep) {
  return ep.rfind("ipc://", 0) == 0 || ep.rfind("inproc://", 0) == 0 || ep.rfind("tcp://127.", 0) == 0 ||
         ep.rfind("tcp://localhost:", 0) == 0 || ep.rfind("tcp://[::1]:", 0) == 0 || ep.rfind("tcp://lo:", 0) == 0;
}

// A key given as 40 Z85 characters, or "@FILE" holding them (first line).
std::string read_key(const std::string& arg) {
  if (arg.empty() || arg[0] != '@') return arg;
  std::ifstream f(arg.substr(1));
  YOCO_REQUIRE(f.good(), "cannot read key file " + arg.substr(1));
  std::string line;
  std::getline(f, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}
}  // namespace

static int run_serve(const std::vector<std::string>& args) {
  ArgParser ap("serve", "yoco serve [--bind ENDPOINT] [--events ENDPOINT] [--frames ENDPOINT] [--model DIR]",
               "The ZeroMQ service: requests on a ROUTER socket (JSON, docs/PROTOCOL.md), events on a PUB socket,\n"
               "frames from the bus on a SUB socket (publishers connect) and/or a PULL socket. Binds to loopback\n"
               "by default; with --curve-secret every socket uses CURVE encryption (clients need the public key).");
  ap.option("model", "DIR", "model directory", default_model_dir());
  ap.option("bind", "ENDPOINT", "request endpoint (ROUTER)", "tcp://127.0.0.1:5555");
  ap.option("events", "ENDPOINT", "event endpoint (PUB)");
  ap.option("frames", "ENDPOINT", "frames from the bus (SUB; publishers connect)");
  ap.option("frames-pull", "ENDPOINT", "frames from the bus (PULL; pushers connect)");
  ap.option("curve-secret", "KEY", "server secret key, 40 Z85 characters or @FILE (turns CURVE on)");
  ap.flag("curve-keygen", "print a new CURVE key pair as JSON and exit");
  ap.option("max-request-bytes", "N", "larger requests get an error reply", "65536");
  ap.option("max-streams", "N", "streams open at once", "64");
  ap.option("max-questions", "N", "questions in flight at once", "32");
  if (!ap.parse(args)) return 0;

  if (ap.has("curve-keygen")) {
    char pub[41], sec[41];
    YOCO_REQUIRE(zmq_curve_keypair(pub, sec) == 0, "this libzmq cannot make CURVE keys (built without CURVE)");
    std::printf("{\"public\": \"%s\", \"secret\": \"%s\"}\n", pub, sec);
    return 0;
  }
  ServiceOptions so;
  so.bind = ap.get("bind");
  if (auto e = ap.get_opt("events")) so.events = *e;
  if (auto e = ap.get_opt("frames")) so.frames = *e;
  if (auto e = ap.get_opt("frames-pull")) so.frames_pull = *e;
  if (auto k = ap.get_opt("curve-secret")) so.curve_secret = read_key(*k);
  const long long mrb = ap.get_int("max-request-bytes");
  YOCO_REQUIRE(mrb >= 256 && mrb <= (1ll << 30), "--max-request-bytes must be in 256..2^30");
  so.max_request_bytes = static_cast<size_t>(mrb);
  so.max_streams = static_cast<int>(ap.get_int("max-streams"));
  so.max_questions = static_cast<int>(ap.get_int("max-questions"));
  YOCO_REQUIRE(so.max_streams >= 1 && so.max_questions >= 1, "--max-streams and --max-questions must be >= 1");
  for (const std::string* ep : {&so.bind, &so.events, &so.frames, &so.frames_pull})
    if (!ep->empty() && !is_loopback(*ep) && so.curve_secret.empty())
      std::fprintf(stderr, "yoco serve: warning: %s is reachable from other hosts and CURVE is off\n", ep->c_str());

  Service service(llm::Model::load(ap.get("model")), so);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  service.run(g_stop);
  std::fprintf(stderr, "yoco serve: stopped\n");
  return 0;
}

YOCO_COMMAND("serve", "the ZeroMQ service: streams, questions, events", run_serve);

}  // namespace yoco::app
