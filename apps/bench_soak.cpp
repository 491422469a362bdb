// yoco bench soak: load and faults against the real `yoco serve` on loopback for a bounded time
// (docs/RELIABILITY.md says what it covers and what it last measured).
//
// It starts the service as a child process (this same binary, `serve`), then for --seconds:
//   - file streams: small generated clips played at real time (options.pace "realtime"), looped by closing
//     and reopening each stream when it ends; bus streams: frames published by child publisher processes
//     (apps/soak/soak_publisher.h) on the --frames endpoint. Every stream has a small memory budget
//     (stop / evict / spill in turn) that it reaches during the run;
//   - --clients threads ask questions on random streams (DEALER sockets), as fast as they are answered;
//   - faults: one publisher is SIGKILLed at 35 % of the run and started again 1.5 s later; a client sends
//     garbage (random bytes, malformed JSON, unknown ops, deep nesting, oversized and over-the-cap messages);
//     a subscriber reads events slowly;
//   - a sampler reads the service's VmRSS every second and notices at once when the service ends.
// Checks (any failure: exit 1 with the reasons): the service neither crashes nor hangs (every request is
// answered within a timeout, SIGTERM ends it within 60 s, exit status 0 — under ASan/LSan a leak makes it
// non-zero); every garbage message gets an error reply or (over the hard cap) is dropped with its connection;
// no acknowledged frame is lost (file streams: frames ingested + dropped == what the sampler keeps of the clip;
// bus streams: ingested + dropped == frames published); the killed publisher's stream keeps ingesting after
// the restart; budgets were hit; RSS over the last third of the run grows by less than a stated bound.
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "apps/args.h"
#include "apps/bench.h"
#include "apps/common.h"
#include "apps/soak/soak_process.h"
#include "apps/soak/soak_publisher.h"
#include "kernels/error.h"

namespace yoco::app {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using soak::ChildProcess;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5))];
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// An error message reduced to its kind: quoted names become '…', numbers N, at most 60 characters.
std::string error_kind(const std::string& msg) {
  std::string k;
  bool quoted = false;
  for (size_t i = 0; i < msg.size() && k.size() < 60; ++i) {
    const char c = msg[i];
    if (c == '\'') {
      quoted = !quoted;
      if (quoted) k += "'…'";
    } else if (quoted) {
      continue;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      if (k.empty() || k.back() != 'N') k += 'N';
    } else {
      k += c;
    }
  }
  return k;
}

// Thread-safe tallies shared by the worker threads.
struct Tally {
  std::mutex mu;
  std::map<std::string, int64_t> errors;  // kind -> count
  std::vector<double> first_ms, total_ms, round_trip_ms;
  int64_t answered = 0, failed = 0, timeouts = 0;
  std::vector<std::string> failures;  // failed checks, in words
  void error(const std::string& kind) {
    std::lock_guard<std::mutex> l(mu);
    errors[kind]++;
  }
  void fail(const std::string& why) {
    std::lock_guard<std::mutex> l(mu);
    failures.push_back(why);
  }
};

// A DEALER client: one request at a time, replies matched by id (partials and stale replies skipped).
class Requester {
 public:
  Requester(zmq::context_t& ctx, std::string endpoint) : ctx_(ctx), endpoint_(std::move(endpoint)) { reconnect(); }
  void reconnect() {
    sock_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::dealer);
    sock_->set(zmq::sockopt::linger, 0);
    sock_->connect(endpoint_);
  }
  void send_raw(const std::string& body) {
    sock_->send(zmq::str_buffer(""), zmq::send_flags::sndmore);
    sock_->send(zmq::buffer(body), zmq::send_flags::none);
  }
  // The reply to the request with `id`, or null after `timeout_s`.
  json receive(const json& id, double timeout_s) {
    const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
    while (Clock::now() < deadline) {
      zmq::pollitem_t item{sock_->handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::milliseconds(50));
      if (!(item.revents & ZMQ_POLLIN)) continue;
      std::vector<zmq::message_t> parts;
      if (!zmq::recv_multipart(*sock_, std::back_inserter(parts), zmq::recv_flags::dontwait) || parts.empty()) continue;
      const json r = json::parse(parts.back().to_string(), nullptr, false);
      if (r.is_object() && r.contains("ok") && (id.is_null() || r.value("id", json()) == id)) return r;
    }
    return nullptr;
  }
  json request(json body, double timeout_s) {
    body["v"] = 1;
    body["id"] = ++next_id_;
    send_raw(body.dump());
    return receive(body["id"], timeout_s);
  }

 private:
  zmq::context_t& ctx_;
  std::string endpoint_;
  std::unique_ptr<zmq::socket_t> sock_;
  int64_t next_id_ = 0;
};

struct FileStream {
  std::string id, clip, policy;
  int64_t expected = 0;      // frames the sampler keeps of the clip at `fps` (yoco frames CLIP --fps F)
  int generation = 0;        // times (re)opened
  int64_t frames_total = 0;  // over all generations
  int ended_eos = 0, ended_budget = 0, checked_ok = 0, mismatches = 0;
  bool budget_hit = false;  // stopped by it, evicted or spilled in some generation
  std::string last_mismatch;
};

struct BusStream {
  std::string id, policy, counter_path;
  std::unique_ptr<ChildProcess> publisher;
  int restarts = 0;
  int64_t published = 0, frames = 0, dropped = 0, corrupt = 0;
  int64_t evicted_tokens = 0, spilled_bytes = 0;
  std::string state, end_reason;
};

struct Settings {
  std::string model, tmp, yoco;
  double seconds = 60, budget_mb = 0.25, bus_fps = 15, file_fps = 10, clip_fps = 20;
  int streams = 8, file_streams = -1, clients = 4, max_tokens = 8;  // file_streams -1: half
  bool json = false;
};

class Soak {
 public:
  explicit Soak(Settings s) : s_(std::move(s)) {}
  // On an exception out of run(): no thread may outlive the object, and the children die with it.
  ~Soak() {
    stop_load_ = true;
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    {
      std::lock_guard<std::mutex> lock(service_mu_);
      service_.signal(SIGKILL);
      service_.wait_for(10);
    }
    if (log_thread_.joinable()) log_thread_.join();
  }
  int run();

 private:
  void start_service();
  void open_streams();
  json open_file(FileStream& f);
  void start_publisher(BusStream& b);
  void tick(double t);
  void check_file_end(FileStream& f, const json& stats);
  void client_loop(int k);
  void garbage_loop();
  void slow_subscriber_loop();
  void sampler_loop();
  void finish_bus_streams();
  void stop_service();
  int report();
  json status_request(const json& body, double timeout_s = 15.0);

  Settings s_;
  std::string rq_, ev_, fr_;
  zmq::context_t ctx_;
  ChildProcess service_;
  std::unique_ptr<Requester> control_;
  std::vector<FileStream> files_;
  std::vector<BusStream> buses_;
  std::mutex streams_mu_;
  std::vector<std::string> stream_ids_;
  Tally tally_;
  std::atomic<bool> stop_load_{false}, service_gone_{false};
  std::mutex service_mu_;  // guards service_ between the sampler and the main thread
  std::string service_end_;
  std::vector<std::pair<double, soak::Rss>> rss_;  // (seconds since the load began, bytes), guarded by rss_mu_
  std::mutex rss_mu_;
  std::vector<std::string> service_log_;  // tail of the service's stderr
  std::mutex log_mu_;
  std::thread log_thread_;
  std::vector<std::thread> threads_;  // sampler, clients, garbage, slow subscriber
  Clock::time_point t0_;
  double max_status_ms_ = 0;
  int64_t garbage_sent_ = 0, garbage_errors_ = 0, garbage_dropped_ = 0, garbage_unanswered_ = 0, garbage_accepted_ = 0;
  std::atomic<int64_t> slow_events_{0};
  int64_t killed_frames_ = -1, restarted_frames_ = -1;
  double kill_at_ = 0, restart_at_ = 0;
  bool killed_ = false, restarted_ = false;
  json final_stats_;
  double end_wall_s_ = 0;
};

json Soak::status_request(const json& body, double timeout_s) {
  const auto t = Clock::now();
  json r = control_->request(body, timeout_s);
  max_status_ms_ = std::max(max_status_ms_, seconds_since(t) * 1000.0);
  if (r.is_null()) {
    tally_.fail("hang: no reply to '" + body.value("op", "") + "' within " + std::to_string(int(timeout_s)) + " s");
    control_->reconnect();
  }
  return r;
}

void Soak::start_service() {
  rq_ = "tcp://127.0.0.1:" + std::to_string(soak::free_port());
  ev_ = "tcp://127.0.0.1:" + std::to_string(soak::free_port());
  fr_ = "tcp://127.0.0.1:" + std::to_string(soak::free_port());
  service_.start({s_.yoco, "serve", "--model", s_.model, "--bind", rq_, "--events", ev_, "--frames", fr_}, true);
  auto line = service_.read_stderr_line();
  YOCO_REQUIRE(line && line->find("ready") != std::string::npos,
               "the service did not start: " + (line ? *line : std::string("no output")));
  log_thread_ = std::thread([this] {
    while (auto l = service_.read_stderr_line()) {
      std::lock_guard<std::mutex> lock(log_mu_);
      service_log_.push_back(*l);
      if (service_log_.size() > 40) service_log_.erase(service_log_.begin());
    }
  });
  control_ = std::make_unique<Requester>(ctx_, rq_);
}

json Soak::open_file(FileStream& f) {
  json opts = {{"pace", "realtime"}, {"fps", s_.file_fps}, {"budget", s_.budget_mb * 1048576.0},
               {"budget_policy", f.policy}, {"page_tokens", 16}, {"stats_every", 0.5}};
  if (f.policy == "spill") opts["spill_dir"] = s_.tmp;
  f.generation++;
  return status_request({{"op", "open"}, {"stream", f.id}, {"source", f.clip}, {"options", opts}});
}

void Soak::start_publisher(BusStream& b) {
  b.publisher = std::make_unique<ChildProcess>();
  b.publisher->start({s_.yoco, "bench", "soak", "--publish", fr_, "--publish-stream", b.id, "--publish-fps",
                      std::to_string(s_.bus_fps), "--publish-counter", b.counter_path},
                     false);
}

void Soak::open_streams() {
  // Two clips of different lengths; what the sampler keeps of each is asked of `yoco frames`.
  const int n_files = s_.file_streams >= 0 ? s_.file_streams : s_.streams / 2, n_bus = s_.streams - n_files;
  const char* policies[] = {"stop", "evict", "spill"};
  std::vector<std::pair<std::string, int64_t>> clips;
  for (int d : {8, 13}) {
    const std::string clip = s_.tmp + "/clip" + std::to_string(d) + ".mp4";
    const std::string gen = "ffmpeg -nostdin -v error -y -f lavfi -i testsrc=s=160x120:r=" +
                            std::to_string(int(s_.clip_fps)) + ":d=" + std::to_string(d) +
                            " -c:v libx264 -preset ultrafast -pix_fmt yuv420p " + quote(clip);
    YOCO_REQUIRE(std::system(gen.c_str()) == 0, "could not generate a clip with ffmpeg (is ffmpeg installed?)");
    FILE* p = popen((quote(s_.yoco) + " frames " + quote(clip) + " --fps " + std::to_string(s_.file_fps)).c_str(), "r");
    YOCO_REQUIRE(p != nullptr, "cannot run yoco frames");
    int64_t n = 0;
    char buf[512];
    while (std::fgets(buf, sizeof buf, p))
      if (buf[0] == '{') n++;
    YOCO_REQUIRE(pclose(p) == 0 && n > 0, "yoco frames failed on the generated clip");
    clips.emplace_back(clip, n);
  }
  for (int i = 0; i < n_files; ++i) {
    FileStream f;
    f.id = "file" + std::to_string(i);
    f.clip = clips[i % 2].first;
    f.expected = clips[i % 2].second;
    f.policy = policies[i % 3];
    files_.push_back(f);
  }
  for (auto& f : files_) {
    const json r = open_file(f);
    YOCO_REQUIRE(r.is_object() && r.value("ok", false), "open " + f.id + " failed: " + r.dump());
  }
  for (int i = 0; i < n_bus; ++i) {
    BusStream b;
    b.id = "bus" + std::to_string(i);
    b.policy = i % 2 ? "spill" : "evict";
    b.counter_path = s_.tmp + "/" + b.id + ".counter";
    json opts = {{"fps", 0}, {"budget", s_.budget_mb * 1048576.0}, {"budget_policy", b.policy},
                 {"page_tokens", 16}, {"stats_every", 0.5}};
    if (b.policy == "spill") opts["spill_dir"] = s_.tmp;
    if (i == 0) opts["instruction"] = "caption every 2 s";
    const json r = status_request({{"op", "open"}, {"stream", b.id}, {"source", "bus"}, {"options", opts}});
    YOCO_REQUIRE(r.is_object() && r.value("ok", false), "open " + b.id + " failed: " + r.dump());
    buses_.push_back(std::move(b));
  }
  for (auto& b : buses_) start_publisher(b);
  std::lock_guard<std::mutex> lock(streams_mu_);
  for (const auto& f : files_) stream_ids_.push_back(f.id);
  for (const auto& b : buses_) stream_ids_.push_back(b.id);
}

// A file stream that ended: its frames must account for what the sampler keeps of the clip.
void Soak::check_file_end(FileStream& f, const json& st) {
  const int64_t frames = st.value("frames", int64_t{0}), dropped = st.value("frames_dropped", int64_t{0});
  const std::string reason = st.value("end_reason", "");
  f.frames_total += frames;
  f.budget_hit = f.budget_hit || reason == "budget" || st.value("evicted_tokens", int64_t{0}) > 0 ||
                 st.value("cache_spilled_bytes", int64_t{0}) > 0;
  bool ok = true;
  if (reason == "end of stream") {
    f.ended_eos++;
    ok = frames + dropped == f.expected;
  } else if (reason == "budget") {
    f.ended_budget++;
    ok = frames + dropped <= f.expected && frames > 0;
  } else {
    ok = false;
  }
  if (ok) {
    f.checked_ok++;
  } else {
    f.mismatches++;
    f.last_mismatch = f.id + " gen " + std::to_string(f.generation) + ": end '" + reason + "', ingested " +
                      std::to_string(frames) + " + dropped " + std::to_string(dropped) + " vs " +
                      std::to_string(f.expected) + " kept by the sampler" +
                      (st.contains("error") ? " (" + st.value("error", "") + ")" : "");
  }
}

// Once a second: status (hang check), loop ended file streams, the publisher kill and restart.
void Soak::tick(double t) {
  const json st = status_request({{"op", "status"}});
  if (!st.is_object()) return;
  std::map<std::string, json> by_id;
  for (const auto& s : st.value("streams", json::array())) by_id[s.value("stream", "")] = s;
  for (auto& f : files_) {
    auto it = by_id.find(f.id);
    if (it == by_id.end() || it->second.value("state", "") != "ended") continue;
    const json stats = status_request({{"op", "stats"}, {"stream", f.id}});
    if (!stats.is_object() || !stats.value("ok", false)) continue;
    check_file_end(f, stats["stats"]);
    status_request({{"op", "close"}, {"stream", f.id}});
    const json r = open_file(f);
    if (!r.is_object() || !r.value("ok", false)) tally_.fail("reopening " + f.id + " failed: " + r.dump());
  }
  if (buses_.empty()) return;
  BusStream& victim = buses_[0];
  const int64_t frames = by_id.count(victim.id) ? by_id[victim.id].value("frames", int64_t{0}) : 0;
  if (!killed_ && t >= 0.35 * s_.seconds) {
    victim.publisher->signal(SIGKILL);
    victim.publisher->wait_for(5);
    killed_ = true;
    kill_at_ = t;
    killed_frames_ = frames;
  } else if (killed_ && !restarted_ && t >= kill_at_ + 1.5) {
    start_publisher(victim);
    victim.restarts++;
    restarted_ = true;
    restart_at_ = t;
    restarted_frames_ = frames;
  }
}

void Soak::client_loop(int k) {
  static const char* questions[] = {"what happened?", "what colour is the shape?", "how many objects?",
                                    "what moved last?", "what is shown now?"};
  Requester c(ctx_, rq_);
  std::mt19937 rng(1234 + k);
  while (!stop_load_ && !service_gone_) {
    std::string id;
    {
      std::lock_guard<std::mutex> lock(streams_mu_);
      id = stream_ids_[rng() % stream_ids_.size()];
    }
    const auto t = Clock::now();
    const json r = c.request({{"op", "ask"}, {"stream", id}, {"question", questions[rng() % 5]},
                              {"max_tokens", s_.max_tokens}},
                             60.0);
    const double rt = seconds_since(t) * 1000.0;
    std::lock_guard<std::mutex> l(tally_.mu);
    if (r.is_null()) {
      tally_.timeouts++;
      tally_.errors["ask: no reply in 60 s"]++;
      if (!service_gone_) tally_.failures.push_back("hang: an ask on " + id + " got no reply within 60 s");
      c.reconnect();
    } else if (r.value("ok", false)) {
      tally_.answered++;
      tally_.first_ms.push_back(r.value("first_token_ms", 0.0));
      tally_.total_ms.push_back(r.value("total_ms", 0.0));
      tally_.round_trip_ms.push_back(rt);
    } else {
      tally_.failed++;
      tally_.errors["ask: " + error_kind(r.value("error", ""))]++;
    }
  }
}

// Garbage of every kind; each must get an error reply, except a message over the hard cap, which ZeroMQ drops
// together with the connection (then a fresh socket must still be served).
void Soak::garbage_loop() {
  Requester c(ctx_, rq_);
  std::mt19937 rng(99);
  int64_t n = 0;
  while (!stop_load_ && !service_gone_) {
    const int kind = static_cast<int>(n++ % 10);
    std::string body, what;
    switch (kind) {
      case 0: {
        what = "random bytes";
        body.resize(1 + rng() % 512);
        for (auto& ch : body) ch = static_cast<char>(rng());
        if (!body.empty() && (body[0] == '{' || body[0] == '[')) body[0] = '#';
        break;
      }
      case 1: what = "truncated JSON"; body = R"({"v": 1, "id": 5, "op": "ask", "stream": )"; break;
      case 2: what = "not an object"; body = R"([1, 2, {"op": "status"}])"; break;
      case 3: what = "unknown op"; body = R"({"v": 1, "id": "g", "op": "self_destruct"})"; break;
      case 4: what = "wrong version"; body = R"({"v": 99, "id": 1, "op": "status"})"; break;
      case 5: what = "mistyped fields"; body = R"({"v": 1, "id": 1, "op": "open", "stream": 7, "source": []})"; break;
      case 6: what = "deep nesting"; body = std::string(30000, '[') + std::string(30000, ']'); break;
      case 7:
        what = "oversized request";
        body = json{{"v", 1}, {"id", 1}, {"op", "ask"}, {"stream", "bus0"}, {"question", std::string(200000, 'x')}}.dump();
        break;
      case 8:
        what = "bad options";
        body = R"({"v": 1, "id": 1, "op": "open", "stream": "g", "source": "bus", "options": {"budget_policy": "explode", "fps": -3}})";
        break;
      default: what = "over the hard cap"; body = std::string(3u << 20, 'z'); break;
    }
    c.send_raw(body);
    garbage_sent_++;
    if (kind == 9) {
      // Dropped by ZeroMQ with the connection; a reply would be a bonus, not required.
      const json r = c.receive(nullptr, 2.0);
      if (r.is_null()) garbage_dropped_++;
      else garbage_errors_++;
      c.reconnect();
      const json alive = c.request({{"op", "status"}}, 15.0);
      if (alive.is_null()) tally_.fail("hang: no reply to status after a message over the hard cap");
    } else {
      const json r = c.receive(nullptr, 15.0);
      if (r.is_null()) {
        garbage_unanswered_++;
        tally_.fail("garbage (" + what + ") got no reply within 15 s");
        c.reconnect();
      } else if (r.value("ok", true)) {
        garbage_accepted_++;
        tally_.fail("garbage (" + what + ") was accepted: " + r.dump().substr(0, 120));
      } else {
        garbage_errors_++;
        tally_.error("garbage: " + error_kind(r.value("error", "")));
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// Subscribes to every event and reads one every 250 ms: the PUB socket must drop for it, never block.
void Soak::slow_subscriber_loop() {
  zmq::socket_t sub(ctx_, zmq::socket_type::sub);
  sub.set(zmq::sockopt::linger, 0);
  sub.set(zmq::sockopt::rcvhwm, 50);
  sub.set(zmq::sockopt::rcvbuf, 4096);
  sub.set(zmq::sockopt::subscribe, "");
  sub.connect(ev_);
  while (!stop_load_ && !service_gone_) {
    std::vector<zmq::message_t> parts;
    if (zmq::recv_multipart(sub, std::back_inserter(parts), zmq::recv_flags::dontwait)) slow_events_++;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

// VmRSS every second while the load runs; notices the service's end at once (crash detection).
void Soak::sampler_loop() {
  auto next = Clock::now();
  while (true) {
    {
      std::lock_guard<std::mutex> lock(service_mu_);
      if (service_.poll_exit()) {
        service_end_ = soak::describe_status(service_.status());
        service_gone_ = true;
        return;
      }
    }
    if (stop_load_) return;
    if (Clock::now() >= next) {
      const soak::Rss rss = soak::rss_of(service_.pid());
      std::lock_guard<std::mutex> lock(rss_mu_);
      rss_.emplace_back(seconds_since(t0_), rss);
      next += std::chrono::seconds(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// Stops the publishers (each sends its tail frames), waits until the bus streams have taken everything in,
// and accounts: ingested + dropped must equal the frames published.
void Soak::finish_bus_streams() {
  for (auto& b : buses_) b.publisher->signal(SIGTERM);
  for (auto& b : buses_) {
    if (!b.publisher->wait_for(15)) {
      tally_.fail("publisher of " + b.id + " did not stop");
      b.publisher->signal(SIGKILL);
      b.publisher->wait_for(5);
    } else if (b.publisher->status() != 0) {
      tally_.fail("publisher of " + b.id + " ended with " + soak::describe_status(b.publisher->status()));
    }
    b.published = soak::read_counter_file(b.counter_path);
  }
  // Drain: the totals stop moving once the queues are empty.
  int64_t last = -1;
  int stable = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline && stable < 3 && !service_gone_) {
    final_stats_ = status_request({{"op", "stats"}});
    if (!final_stats_.is_object()) break;
    int64_t sum = 0;
    for (const auto& b : buses_) {
      const json st = final_stats_["streams"].value(b.id, json::object());
      sum += st.value("frames", int64_t{0}) + st.value("frames_dropped", int64_t{0});
    }
    stable = sum == last ? stable + 1 : 0;
    last = sum;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  if (!final_stats_.is_object()) return;
  for (auto& b : buses_) {
    const json st = final_stats_["streams"].value(b.id, json::object());
    b.frames = st.value("frames", int64_t{0});
    b.dropped = st.value("frames_dropped", int64_t{0});
    b.corrupt = st.value("corrupt", int64_t{0});
    b.evicted_tokens = st.value("evicted_tokens", int64_t{0});
    b.spilled_bytes = st.value("cache_spilled_bytes", int64_t{0});
    b.state = st.value("state", "");
    b.end_reason = st.value("end_reason", "");
  }
}

void Soak::stop_service() {
  std::lock_guard<std::mutex> lock(service_mu_);
  if (!service_gone_) {
    service_.signal(SIGTERM);
    if (!service_.wait_for(60)) {
      tally_.fail("hang: the service did not stop within 60 s of SIGTERM");
      service_.signal(SIGKILL);
      service_.wait_for(10);
    }
    service_end_ = soak::describe_status(service_.status());
  }
  if (log_thread_.joinable()) log_thread_.join();
}

int Soak::run() {
  start_service();
  open_streams();  // a service that dies here fails a request, which throws
  t0_ = Clock::now();
  threads_.emplace_back([this] { sampler_loop(); });
  for (int k = 0; k < s_.clients; ++k) threads_.emplace_back([this, k] { client_loop(k); });
  threads_.emplace_back([this] { garbage_loop(); });
  threads_.emplace_back([this] { slow_subscriber_loop(); });
  int second = 0;
  while (!service_gone_ && seconds_since(t0_) < s_.seconds) {
    std::this_thread::sleep_until(t0_ + std::chrono::seconds(++second));
    if (!service_gone_) tick(seconds_since(t0_));
  }
  end_wall_s_ = seconds_since(t0_);
  stop_load_ = true;
  for (auto& t : threads_) t.join();
  threads_.clear();
  if (!service_gone_) {
    if (killed_ && !restarted_) {  // a very short run: restart before the end so the stream can be checked
      start_publisher(buses_[0]);
      restarted_ = true;
    }
    finish_bus_streams();
  } else {
    for (auto& b : buses_) b.publisher->signal(SIGKILL);
  }
  // Files still running at the end: count what they ingested (not checked: they have not ended).
  if (final_stats_.is_object())
    for (auto& f : files_) f.frames_total += final_stats_["streams"].value(f.id, json::object()).value("frames", int64_t{0});
  stop_service();
  return report();
}

int Soak::report() {
  std::vector<std::string> fails = tally_.failures;
  if (service_gone_) fails.push_back("crash: the service ended during the run (" + service_end_ + ")");
  else if (service_end_ != "exit 0") fails.push_back("the service ended with " + service_end_ + " after SIGTERM (a leak report under LSan?)");
  if (tally_.answered == 0) fails.push_back("no question was answered");
  // Files: every ended generation accounted for.
  int file_budget_hits = 0;
  for (const auto& f : files_) {
    if (f.mismatches) fails.push_back("lost frames: " + f.last_mismatch);
    if (f.generation > 1 && !f.budget_hit) fails.push_back(f.id + " never reached its budget (" + f.policy + ")");
    file_budget_hits += f.budget_hit;
  }
  // Bus: ingested + dropped == published; budgets hit; the killed publisher's stream goes on.
  int bus_budget_hits = 0;
  for (const auto& b : buses_) {
    const bool hit = b.evicted_tokens > 0 || b.spilled_bytes > 0;
    bus_budget_hits += hit;
    if (b.state != "running")
      fails.push_back(b.id + " is not running at the end (" + b.state + ", " + b.end_reason + ")");
    else if (b.frames + b.dropped != b.published)
      fails.push_back("lost frames: " + b.id + " ingested " + std::to_string(b.frames) + " + dropped " +
                      std::to_string(b.dropped) + " != published " + std::to_string(b.published));
    if (b.corrupt) fails.push_back(b.id + ": " + std::to_string(b.corrupt) + " frames reported corrupt");
    if (!hit) fails.push_back(b.id + " never reached its budget (" + b.policy + ")");
  }
  int64_t victim_final = buses_.empty() ? 0 : buses_[0].frames;
  if (!buses_.empty() && restarted_frames_ >= 0 && victim_final <= restarted_frames_ + 5)
    fails.push_back("the restarted publisher's stream did not keep ingesting (" + std::to_string(restarted_frames_) +
                    " frames at the restart, " + std::to_string(victim_final) + " at the end)");
  if (!files_.empty() && std::none_of(files_.begin(), files_.end(), [](const FileStream& f) { return f.ended_eos > 0; }))
    fails.push_back("no file stream played to its end (run longer)");
  if (garbage_sent_ == 0) fails.push_back("the garbage client sent nothing");
  // RSS: growth over the last third, once budgets are reached.
  std::vector<std::pair<double, soak::Rss>> rss;
  {
    std::lock_guard<std::mutex> lock(rss_mu_);
    rss = rss_;  // from the load's start (the streams are open)
  }
  // Anonymous RSS over the last third against before it, peak against peak: a leak raises the peak, allocator
  // noise does not. File-backed RSS is left out: it is the spill files' mapped pages, reclaimable page cache
  // whose size the spill budget does not bound (docs/RELIABILITY.md).
  const double mib = 1048576.0;
  double growth_mb = 0, bound_mb = 0;
  if (rss.size() >= 6) {
    const size_t a = rss.size() * 2 / 3;
    size_t peak_before = 0, peak_after = 0;
    for (size_t i = 0; i < rss.size(); ++i) {
      size_t& peak = i < a ? peak_before : peak_after;
      peak = std::max(peak, rss[i].second.anon);
    }
    growth_mb = (static_cast<double>(peak_after) - static_cast<double>(peak_before)) / mib;
    bound_mb = std::max(4.0, 0.05 * static_cast<double>(peak_before) / mib);
    if (growth_mb > bound_mb)
      fails.push_back("anonymous RSS grew " + std::to_string(growth_mb).substr(0, 5) + " MiB over the last third (bound " +
                      std::to_string(bound_mb).substr(0, 5) + " MiB)");
  }
  const json svc = final_stats_.is_object() ? final_stats_.value("service", json::object()) : json::object();

  json out = {{"seconds", end_wall_s_}, {"streams", files_.size() + buses_.size()}, {"clients", s_.clients},
              {"budget_mb", s_.budget_mb}, {"questions", {{"answered", tally_.answered}, {"failed", tally_.failed},
              {"timeouts", tally_.timeouts}}},
              {"latency_ms", {{"first_token_p50", quantile(tally_.first_ms, 0.5)}, {"first_token_p99", quantile(tally_.first_ms, 0.99)},
                              {"total_p50", quantile(tally_.total_ms, 0.5)}, {"total_p99", quantile(tally_.total_ms, 0.99)},
                              {"round_trip_p50", quantile(tally_.round_trip_ms, 0.5)}, {"round_trip_p99", quantile(tally_.round_trip_ms, 0.99)}}},
              {"errors", tally_.errors}, {"service_counters", svc}, {"max_status_ms", max_status_ms_},
              {"garbage", {{"sent", garbage_sent_}, {"error_replies", garbage_errors_}, {"dropped", garbage_dropped_},
                           {"unanswered", garbage_unanswered_}, {"accepted", garbage_accepted_}}},
              {"slow_subscriber_events", slow_events_.load()},
              {"publisher_kill", {{"at_s", kill_at_}, {"restart_at_s", restart_at_}, {"frames_at_kill", killed_frames_},
                                  {"frames_at_restart", restarted_frames_}, {"frames_at_end", victim_final}}},
              {"rss", {{"anon_growth_last_third_mb", growth_mb}, {"bound_mb", bound_mb}}},
              {"service_end_", service_end_}, {"failures", fails}, {"ok", fails.empty()}};
  json rows = json::array();
  for (const auto& f : files_)
    rows.push_back({{"stream", f.id}, {"source", "file (realtime, looped)"}, {"policy", f.policy}, {"frames", f.frames_total},
                    {"generations", f.generation}, {"ended_eos", f.ended_eos}, {"ended_budget", f.ended_budget},
                    {"accounted", f.checked_ok}, {"expected_per_loop", f.expected},
                    {"budget_hit", f.budget_hit}});
  for (const auto& b : buses_)
    rows.push_back({{"stream", b.id}, {"source", "bus"}, {"policy", b.policy}, {"frames", b.frames}, {"dropped", b.dropped},
                    {"published", b.published}, {"restarts", b.restarts}, {"evicted_tokens", b.evicted_tokens},
                    {"spilled_bytes", b.spilled_bytes}});
  out["rows"] = rows;
  json timeline = json::array();
  for (int p = 0; p <= 10 && !rss.empty(); ++p) {
    const auto& r = rss[std::min(rss.size() - 1, static_cast<size_t>(p * (rss.size() - 1) / 10))];
    timeline.push_back({{"t_s", r.first}, {"rss_mb", static_cast<double>(r.second.total) / mib},
                        {"anon_mb", static_cast<double>(r.second.anon) / mib},
                        {"file_mb", static_cast<double>(r.second.file) / mib}});
  }
  out["rss"]["timeline"] = timeline;

  if (s_.json) {
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("soak: %.0f s, %zu file + %zu bus streams, %d clients, budget %.2f MiB per stream\n\n", end_wall_s_,
                files_.size(), buses_.size(), s_.clients, s_.budget_mb);
    std::printf("questions answered %lld, failed %lld (timeouts %lld)\n", (long long)tally_.answered,
                (long long)tally_.failed, (long long)tally_.timeouts);
    std::printf("answer ms       p50      p99\n");
    std::printf("first token %7.1f  %7.1f\n", quantile(tally_.first_ms, 0.5), quantile(tally_.first_ms, 0.99));
    std::printf("total       %7.1f  %7.1f\n", quantile(tally_.total_ms, 0.5), quantile(tally_.total_ms, 0.99));
    std::printf("round trip  %7.1f  %7.1f   (client side, includes queueing for the question threads)\n\n",
                quantile(tally_.round_trip_ms, 0.5), quantile(tally_.round_trip_ms, 0.99));
    std::printf("%-7s %-6s %-6s %8s %8s %10s %s\n", "stream", "source", "policy", "frames", "dropped", "expected",
                "accounting");
    for (const auto& f : files_)
      std::printf("%-7s %-6s %-6s %8lld %8s %10lld %d loops: %d to the end, %d stopped by the budget, %d/%d accounted\n",
                  f.id.c_str(), "file", f.policy.c_str(), (long long)f.frames_total, "-", (long long)f.expected,
                  f.generation, f.ended_eos, f.ended_budget, f.checked_ok, f.ended_eos + f.ended_budget);
    for (const auto& b : buses_)
      std::printf("%-7s %-6s %-6s %8lld %8lld %10lld %s%s\n", b.id.c_str(), "bus", b.policy.c_str(), (long long)b.frames,
                  (long long)b.dropped, (long long)b.published,
                  b.frames + b.dropped == b.published ? "ingested + dropped == published" : "MISMATCH",
                  b.restarts ? "  (publisher killed and restarted)" : "");
    std::printf("budgets reached: %d/%zu file streams, %d/%zu bus streams\n", file_budget_hits, files_.size(),
                bus_budget_hits, buses_.size());
    std::printf("\nservice RSS MiB, every 10%% of the run:\n%-9s", "VmRSS");
    for (const auto& r : timeline) std::printf(" %6.1f", r["rss_mb"].get<double>());
    std::printf("\n%-9s", "RssAnon");
    for (const auto& r : timeline) std::printf(" %6.1f", r["anon_mb"].get<double>());
    std::printf("\n%-9s", "RssFile");
    for (const auto& r : timeline) std::printf(" %6.1f", r["file_mb"].get<double>());
    std::printf("\nRssAnon growth over the last third (peak vs peak before): %+.1f MiB (bound %.1f MiB)\n",
                growth_mb, bound_mb);
    std::printf("publisher kill at %.0f s (bus0 at %lld frames), restart at %.0f s (%lld), end %lld\n", kill_at_,
                (long long)killed_frames_, restart_at_, (long long)restarted_frames_, (long long)victim_final);
    std::printf("garbage: sent %lld, error replies %lld, dropped with the connection %lld, unanswered %lld\n",
                (long long)garbage_sent_, (long long)garbage_errors_, (long long)garbage_dropped_,
                (long long)garbage_unanswered_);
    std::printf("slow subscriber: read %lld events; slowest status reply %.0f ms\n", (long long)slow_events_.load(),
                max_status_ms_);
    std::printf("errors by kind:\n");
    for (const auto& [k, v] : tally_.errors) std::printf("  %6lld  %s\n", (long long)v, k.c_str());
    std::printf("service: %s\n", service_end_.c_str());
    std::printf("\nsoak: %s\n", fails.empty() ? "ok" : "FAIL");
  }
  for (const auto& f : fails) std::fprintf(stderr, "soak: FAIL: %s\n", f.c_str());
  if (!fails.empty()) {
    std::lock_guard<std::mutex> lock(log_mu_);
    for (const auto& l : service_log_) std::fprintf(stderr, "  service: %s\n", l.c_str());
  }
  return fails.empty() ? 0 : 1;
}

int run_bench_soak(const std::vector<std::string>& args) {
  ArgParser p("bench soak", "yoco bench soak [--seconds S] [--streams N] [--clients N] [--budget-mb M] [--quick] [--json]",
              "Load and faults against `yoco serve` on loopback: file and bus streams with memory budgets,\n"
              "concurrent questions, a publisher killed and restarted, a garbage client, a slow subscriber.\n"
              "Exits 1 on a crash, a hang, a lost frame, unbounded RSS growth or a non-zero service exit\n"
              "(LSan). docs/RELIABILITY.md.");
  p.option("model", "DIR", "model directory", default_model_dir());
  p.option("seconds", "S", "length of the load phase", "60");
  p.option("streams", "N", "streams (half files, half bus)", "8");
  p.option("file-streams", "N", "how many of the streams are files (default: half)");
  p.option("clients", "N", "question-asking client threads", "4");
  p.option("budget-mb", "M", "memory budget per stream, MiB (small enough to be reached)", "0.25");
  p.option("bus-fps", "F", "frames per second of each bus publisher", "15");
  p.flag("quick", "about 20 s, 4 streams, 2 clients (the ctest run)");
  p.flag("json", "print the results as JSON");
  p.option("publish", "ENDPOINT", "(internal) run as a bus publisher");
  p.option("publish-stream", "ID", "(internal)");
  p.option("publish-fps", "F", "(internal)", "15");
  p.option("publish-counter", "FILE", "(internal)");
  if (!p.parse(args)) return 0;
  if (auto ep = p.get_opt("publish"))
    return soak::run_publisher(*ep, p.get("publish-stream"), p.get_double("publish-fps"), 64, 48,
                               p.get("publish-counter"));
  Settings s;
  s.model = p.get("model");
  s.seconds = p.get_double("seconds");
  s.streams = static_cast<int>(p.get_int("streams"));
  s.clients = static_cast<int>(p.get_int("clients"));
  if (p.get_opt("file-streams")) s.file_streams = static_cast<int>(p.get_int("file-streams"));
  s.budget_mb = p.get_double("budget-mb");
  s.bus_fps = p.get_double("bus-fps");
  s.json = p.has("json");
  if (p.has("quick")) {
    s.seconds = 20;
    s.streams = 4;
    s.clients = 2;
  }
  YOCO_REQUIRE(s.seconds >= 5, "--seconds must be >= 5");
  YOCO_REQUIRE(s.streams >= 2 && s.streams <= 60, "--streams must be in 2..60");
  YOCO_REQUIRE(s.file_streams <= s.streams, "--file-streams must be <= --streams");
  YOCO_REQUIRE(s.clients >= 1 && s.clients <= 64, "--clients must be in 1..64");
  YOCO_REQUIRE(s.budget_mb > 0, "--budget-mb must be > 0");
  YOCO_REQUIRE(s.bus_fps > 0 && s.bus_fps <= 500, "--bus-fps must be in (0, 500]");
  s.yoco = soak::self_exe();
  char tmpl[] = "/tmp/yoco-soak-XXXXXX";
  YOCO_REQUIRE(mkdtemp(tmpl) != nullptr, "cannot create a temporary directory");
  s.tmp = tmpl;
  int rc = 1;
  try {
    Soak soak(s);
    rc = soak.run();
  } catch (...) {
    std::error_code ec;
    fs::remove_all(s.tmp, ec);
    throw;
  }
  std::error_code ec;
  fs::remove_all(s.tmp, ec);
  return rc;
}

}  // namespace

YOCO_BENCH("soak", "load and faults against yoco serve: crash, hang, leak and lost-frame checks", run_bench_soak);

}  // namespace yoco::app
