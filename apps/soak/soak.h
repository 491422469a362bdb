// The soak run's state and helpers (apps/bench_soak.cpp runs it; apps/soak/soak_report.cpp prints and checks
// what it measured). docs/RELIABILITY.md.
#pragma once

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

#include "apps/soak/soak_process.h"
#include "apps/soak/soak_publisher.h"
#include "kernels/error.h"

namespace yoco::app::soak {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

inline double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5))];
}

inline std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// An error message reduced to its kind: quoted names become '…', numbers N, at most 60 characters.
inline std::string error_kind(const std::string& msg) {
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

}  // namespace yoco::app::soak
