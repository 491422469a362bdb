// The ZeroMQ service behind `yoco serve` (docs/PROTOCOL.md): one StreamRuntime, requests on a ROUTER socket,
// events on a PUB socket, frames from the bus on a SUB (and optionally PULL) socket.
//
// Threads: run() owns every socket (ZeroMQ sockets are not thread-safe). Answers are produced on the runtime's
// question threads and events on the streams' threads; both go through a mutex-guarded outbox that run()
// drains between polls. Frames from the bus are forwarded by a small proxy thread to an internal loopback
// XPUB endpoint; a stream opened with source "bus" is a ZmqSource on that endpoint filtered by its id.
//
// Robustness: every request is handled inside a try/catch; a malformed or unknown request gets an error reply
// and is counted; requests larger than max_request_bytes get an error reply; messages past the hard cap
// (ZMQ_MAXMSGSIZE) drop the connection inside ZeroMQ. The service never dies from a request.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/service/security.h"
#include "llm/record_file.h"
#include "pipeline/stream_runtime.h"

namespace yoco::app {

struct ServiceOptions {
  std::string bind = "tcp://127.0.0.1:5555";  // requests (ROUTER)
  std::string events;                          // events (PUB); empty: none
  std::string frames;                          // frames from the bus (SUB, publishers connect); empty: none
  std::string frames_pull;                     // frames from the bus (PULL, pushers connect); empty: none
  std::string curve_secret;                    // Z85 server secret key; empty: no CURVE
  size_t max_request_bytes = 64 * 1024;        // larger requests get an error reply
  size_t max_message_bytes = 64 * 1024 * 1024; // hard cap (ZMQ_MAXMSGSIZE) on frames from the bus; requests:
                                               // max(4 × max_request_bytes, 1 MiB), past which ZeroMQ drops
                                               // the connection
  int max_streams = 64;
  int max_questions = 32;
  SecurityOptions security;                    // what requests may reach, per-client limits, CURVE clients
  std::string state_dir;                       // persistence: one <stream>.ystate per stream; empty: none
  double checkpoint_every = 1.0;               // seconds between checkpoints of a persisted stream
  llm::FsyncPolicy fsync = llm::FsyncPolicy::kCheckpoint;
};

struct ServiceCounters {
  int64_t requests = 0, ok = 0, errors = 0, malformed = 0, unknown_op = 0, too_large = 0;
  int64_t events = 0, bus_messages = 0;
  int64_t rate_limited = 0, resume_failures = 0, curve_refused = 0;
};

class Service {
 public:
  Service(std::shared_ptr<const llm::Model> model, const ServiceOptions& options);
  ~Service();
  // Serves until stop() (or a signal handler sets the flag given to run()). Throws yoco::Error when an
  // endpoint cannot be bound.
  void run(const std::atomic<bool>& stop_flag);
  // The endpoints actually bound (wildcard ports resolved), valid once run() has bound them.
  std::string bound_endpoint() const;
  ServiceCounters counters() const;
  // Resumes every stream saved in options.state_dir (run() calls it once its endpoints are bound); returns
  // one line per file: what was resumed, or why a file could not be (such files are left in place).
  std::vector<std::string> resume_saved_streams();

  // The reply to one request body, without the transport (exposed for tests). Replies for asynchronous
  // operations (ask) are queued on the outbox instead and this returns null.
  nlohmann::json handle(const std::string& body, const std::vector<std::string>& envelope);

 private:
  struct Outgoing {
    bool is_event = false;
    std::vector<std::string> envelope;  // replies: routing frames
    std::string topic;                  // events
    std::string body;
  };
  void queue_reply(const std::vector<std::string>& envelope, const nlohmann::json& reply);
  void queue_event(const pipeline::StreamEvent& e);
  nlohmann::json op_open(const nlohmann::json& req);
  nlohmann::json op_close(const nlohmann::json& req);
  nlohmann::json op_ask(const nlohmann::json& req, const std::vector<std::string>& envelope);
  nlohmann::json op_instruct(const nlohmann::json& req);
  nlohmann::json op_status(const nlohmann::json& req);
  nlohmann::json op_stats(const nlohmann::json& req);
  std::shared_ptr<pipeline::Stream> stream_of(const nlohmann::json& req);
  pipeline::StreamOptions stream_options(const nlohmann::json& opts) const;
  std::string source_spec(const std::string& source, const std::string& id) const;
  // Per-client stream ownership (run()'s thread only; current_client_ is the sender of the request being
  // handled).
  void check_client_streams() const;
  void note_owner(const std::string& id);
  void forget_owner(const std::string& id);
  void bus_loop();

  ServiceOptions opts_;
  std::unique_ptr<pipeline::StreamRuntime> runtime_;
  mutable std::mutex out_mu_;
  std::deque<Outgoing> outbox_;
  mutable std::mutex counters_mu_;
  ServiceCounters counters_;
  std::string bound_, bus_internal_;
  std::atomic<bool> bus_stop_{false};
  std::string current_client_;
  std::shared_ptr<ZapHandler> zap_;  // while run() serves with a CURVE client allow-list (counters_mu_)
  std::map<std::string, std::string> owners_;  // stream id -> client that opened it
  std::thread bus_thread_;
};

}  // namespace yoco::app
