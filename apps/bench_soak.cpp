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

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "apps/args.h"
#include "apps/bench.h"
#include "apps/common.h"
#include "apps/soak/soak.h"
#include "kernels/error.h"

namespace yoco::app {

namespace soak {

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

}  // namespace soak

namespace {
using soak::Settings;
using soak::Soak;
namespace fs = std::filesystem;

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
