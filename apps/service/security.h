// What a request to `yoco serve` may reach (docs/PROTOCOL.md, "Security"):
// - file sources only under the configured directories (--allow-dir; by default anywhere when every endpoint
//   is loopback, nowhere otherwise), read
//   through FFmpeg's "file" protocol only; network sources through network protocols only (FFmpeg's
//   protocol whitelist, so that no playlist or "concat:"/"subfile:" trick reaches a local file);
// - no GStreamer pipelines unless allowed (--allow-gst; by default only when every endpoint is loopback:
//   a pipeline description can read and write any file);
// - no ZeroMQ source that binds (an "@ipc://" endpoint creates a file); connecting ones are fine;
// - spill directories named by a request only under the configured directories;
// - with CURVE, only the listed client public keys (a ZAP handler; none listed: any client that has the
//   server's public key);
// - per client (CURVE key, else ZeroMQ routing id): a request rate and a number of open streams.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/frame_source.h"

namespace zmq {
class context_t;
}

namespace yoco::app {

struct SecurityOptions {
  std::vector<std::string> allow_dirs;      // file sources and spill directories must lie under one
  bool allow_any_file = false;              // ... or anywhere (a loopback-only service without --allow-dir)
  bool allow_gst = false;                   // gst: sources
  std::vector<std::string> client_keys;     // CURVE public keys (Z85) allowed to connect; empty: any
  int max_streams_per_client = 0;           // 0: no limit (the service's max_streams still applies)
  double max_requests_per_second = 0.0;     // per client, with a burst of twice that; 0: no limit
};

// Throws yoco::Error saying why `spec` is refused; fills the FFmpeg protocol whitelist in `so`.
void check_source(const std::string& spec, const SecurityOptions& sec, pipeline::SourceOptions* so);
// Throws yoco::Error unless `dir` lies under one of the allowed directories.
void check_writable_dir(const std::string& dir, const SecurityOptions& sec);
// True when `path` (made absolute and free of "..", symlinks resolved) lies under `dir`.
bool path_is_under(const std::string& path, const std::string& dir);

// Token buckets per client.
class RateLimiter {
 public:
  explicit RateLimiter(double per_second) : rate_(per_second) {}
  bool allow(const std::string& client, double now_seconds);

 private:
  struct Bucket {
    double tokens = 0.0, last = 0.0;
  };
  double rate_;
  std::map<std::string, Bucket> buckets_;
};

// The ZAP handler (RFC 27) that admits CURVE clients by public key. Runs on its own thread over the
// context's inproc://zeromq.zap.01 endpoint; it must be started before the sockets that use it bind.
class ZapHandler {
 public:
  ZapHandler(zmq::context_t& ctx, const std::vector<std::string>& keys);
  ~ZapHandler();
  int64_t refused() const { return refused_.load(); }

 private:
  std::set<std::string> keys_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> refused_{0};
  std::thread thread_;
  void loop(zmq::context_t& ctx, std::shared_ptr<std::atomic<int>> ready);
};

}  // namespace yoco::app
