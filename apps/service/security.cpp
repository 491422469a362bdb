#include "apps/service/security.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "kernels/error.h"
#include "pipeline/source_spec.h"

namespace yoco::app {

namespace {
namespace fs = std::filesystem;

const char* kNetworkProtocols = "http,https,tls,tcp,udp,rtp,rtsp,rtsps,rtmp,rtmps,rtmpt,srt,srtp,crypto,httpproxy";
const std::vector<std::string> kNetworkSchemes = {"http", "https", "rtsp", "rtsps", "rtmp", "rtmps", "rtmpt",
                                                  "udp", "rtp", "tcp", "srt", "srtp"};

std::string scheme_of(const std::string& target) {
  const size_t p = target.find("://");
  if (p == std::string::npos || p == 0) return "";
  const std::string s = target.substr(0, p);
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.')) return "";
  return s;
}

fs::path resolved(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(path, ec), ec);
  return ec ? fs::absolute(path).lexically_normal() : p;
}

void require_allowed_path(const std::string& path, const SecurityOptions& sec, const char* what) {
  if (sec.allow_any_file) return;
  YOCO_REQUIRE(!sec.allow_dirs.empty(), std::string(what) +
                                            " naming local files are refused by this service (start it with "
                                            "--allow-dir DIR to allow files under DIR)");
  for (const auto& d : sec.allow_dirs)
    if (path_is_under(path, d)) return;
  throw Error(std::string(what) + " '" + path + "' is outside the directories this service may read (--allow-dir)");
}
}  // namespace

bool path_is_under(const std::string& path, const std::string& dir) {
  const fs::path p = resolved(path), d = resolved(dir);
  auto pi = p.begin();
  for (auto di = d.begin(); di != d.end(); ++di, ++pi) {
    if (di->empty() && std::next(di) == d.end()) break;  // trailing slash
    if (pi == p.end() || *pi != *di) return false;
  }
  return true;
}

void check_source(const std::string& spec_text, const SecurityOptions& sec, pipeline::SourceOptions* so) {
  const pipeline::SourceSpec spec = pipeline::parse_source_spec(spec_text);
  switch (spec.kind) {
    case pipeline::SourceSpec::Kind::kCamera:
      return;
    case pipeline::SourceSpec::Kind::kGstreamer:
      YOCO_REQUIRE(sec.allow_gst, "GStreamer pipeline sources are refused by this service (start it with --allow-gst)");
      return;
    case pipeline::SourceSpec::Kind::kZmq:
      YOCO_REQUIRE(spec.target.empty() || spec.target[0] != '@',
                   "a ZeroMQ source that binds ('@' endpoint) is refused by this service; connect to a publisher");
      return;
    case pipeline::SourceSpec::Kind::kFfmpeg:
      break;
  }
  const std::string scheme = scheme_of(spec.target);
  if (!scheme.empty()) {
    YOCO_REQUIRE(std::find(kNetworkSchemes.begin(), kNetworkSchemes.end(), scheme) != kNetworkSchemes.end(),
                 "source URL scheme '" + scheme + "' is refused by this service (network streams only)");
    if (so) so->protocol_whitelist = kNetworkProtocols;
    return;
  }
  // FFmpeg reads "proto:rest" as a protocol; a local file must be a plain path, read as file: only.
  const size_t colon = spec.target.find(':');
  const size_t slash = spec.target.find('/');
  YOCO_REQUIRE(colon == std::string::npos || (slash != std::string::npos && slash < colon),
               "source '" + spec.target + "' looks like an FFmpeg protocol; give a path or a network URL");
  require_allowed_path(spec.target, sec, "sources");
  if (so) so->protocol_whitelist = "file";
}

void check_writable_dir(const std::string& dir, const SecurityOptions& sec) {
  require_allowed_path(dir, sec, "spill directories");
}

bool RateLimiter::allow(const std::string& client, double now) {
  if (rate_ <= 0.0) return true;
  if (buckets_.size() > 10000) buckets_.clear();  // bounded: forget idle clients wholesale
  auto [it, fresh] = buckets_.try_emplace(client);
  Bucket& b = it->second;
  if (fresh) {
    b.tokens = 2.0 * rate_;
    b.last = now;
  }
  b.tokens = std::min(2.0 * rate_, b.tokens + (now - b.last) * rate_);
  b.last = now;
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

ZapHandler::ZapHandler(zmq::context_t& ctx, const std::vector<std::string>& keys) : keys_(keys.begin(), keys.end()) {
  auto ready = std::make_shared<std::atomic<int>>(0);
  thread_ = std::thread([this, &ctx, ready] { loop(ctx, ready); });
  while (ready->load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (ready->load() < 0) {
    thread_.join();
    throw Error("cannot start the CURVE key check (ZAP handler)");
  }
}

ZapHandler::~ZapHandler() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void ZapHandler::loop(zmq::context_t& ctx, std::shared_ptr<std::atomic<int>> ready) {
  std::unique_ptr<zmq::socket_t> rep;
  try {
    rep = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::rep);
    rep->set(zmq::sockopt::linger, 0);
    rep->bind("inproc://zeromq.zap.01");
  } catch (const zmq::error_t&) {
    ready->store(-1);
    return;
  }
  ready->store(1);
  std::vector<zmq::message_t> req;
  while (!stop_) {
    try {
      zmq::pollitem_t item{rep->handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::milliseconds(100));
      if (!(item.revents & ZMQ_POLLIN)) continue;
      req.clear();
      if (!zmq::recv_multipart(*rep, std::back_inserter(req))) continue;
      // version, request id, domain, address, identity, mechanism, credentials...
      const std::string version = req.size() > 0 ? req[0].to_string() : "";
      const std::string request_id = req.size() > 1 ? req[1].to_string() : "";
      const std::string mechanism = req.size() > 5 ? req[5].to_string() : "";
      std::string status = "400", text = "refused", user;
      if (version == "1.0" && mechanism == "CURVE" && req.size() > 6 && req[6].size() == 32) {
        char z85[41];
        zmq_z85_encode(z85, static_cast<const uint8_t*>(req[6].data()), 32);
        user = z85;
        if (keys_.empty() || keys_.count(user)) {
          status = "200";
          text = "OK";
        }
      }
      if (status != "200") refused_++;
      const std::string v10 = "1.0", metadata;
      std::vector<zmq::const_buffer> reply = {zmq::buffer(v10),  zmq::buffer(request_id), zmq::buffer(status),
                                              zmq::buffer(text), zmq::buffer(user),       zmq::buffer(metadata)};
      zmq::send_multipart(*rep, reply);
    } catch (const zmq::error_t&) {
      if (stop_) break;
    }
  }
}

}  // namespace yoco::app
