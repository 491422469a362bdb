#include "pipeline/zmq_source.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <vector>

#include <zmq.hpp>

extern "C" {
#include <libavutil/pixfmt.h>
}

#include "kernels/error.h"
#include "pipeline/frame_message.h"
#include "pipeline/jpeg_decoder.h"
#include "pipeline/rgb_converter.h"

namespace yoco::pipeline {

namespace {
constexpr int kPollMs = 100;  // interrupt() latency
constexpr int kReceiveHwm = 4;
}  // namespace

struct ZmqSource::Impl {
  std::string endpoint, stream_id;
  SourceOptions options;
  SourceInfo info;
  zmq::context_t ctx{1};
  zmq::socket_t sock{ctx, zmq::socket_type::sub};
  std::atomic<bool> stop{false};
  FramePool pool;
  RgbConverter converter;
  std::unique_ptr<JpegDecoder> jpeg;
  bool have_first = false;
  double first_pts = 0, last_pts = -1;
  int64_t last_index = -1;
  int64_t delivered = 0;
  bool pending_discontinuity = false;
  mutable std::mutex stats_mu;
  SourceStats stats;

  Impl(const std::string& ep, const std::string& id, const SourceOptions& o)
      : endpoint(ep), stream_id(id), options(o), pool(o.pool_buffers, 0) {}

  void count(int64_t SourceStats::*field, int64_t n = 1) {
    std::lock_guard<std::mutex> lock(stats_mu);
    stats.*field += n;
  }

  void open() {
    sock.set(zmq::sockopt::rcvhwm, kReceiveHwm);
    sock.set(zmq::sockopt::linger, 0);
    sock.set(zmq::sockopt::rcvtimeo, kPollMs);
    sock.set(zmq::sockopt::subscribe, "");
    const bool bind = !endpoint.empty() && endpoint[0] == '@';
    const std::string ep = !endpoint.empty() && (endpoint[0] == '@' || endpoint[0] == '>') ? endpoint.substr(1) : endpoint;
    try {
      if (bind) sock.bind(ep);
      else sock.connect(ep);
    } catch (const zmq::error_t& e) {
      throw Error("zmq: cannot " + std::string(bind ? "bind" : "connect") + " '" + ep + "': " + e.what());
    }
    info.live = true;
    info.description = "zmq " + std::string(bind ? "bound to " : "connected to ") + ep +
                       (stream_id.empty() ? "" : " stream " + stream_id);
  }

  // Receives one whole multipart message into `parts`; false on timeout slice.
  bool receive(std::vector<zmq::message_t>& parts) {
    parts.clear();
    for (;;) {
      zmq::message_t m;
      const auto got = sock.recv(m, zmq::recv_flags::none);
      if (!got) {
        if (parts.empty()) return false;
        continue;  // rest of a multipart message is delivered atomically; cannot time out in practice
      }
      const bool more = m.more();
      if (parts.size() < 8) parts.push_back(std::move(m));
      if (!more) return true;
    }
  }

  bool read(Frame& out, const PtsFilter& want) {
    std::vector<zmq::message_t> parts;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(options.read_timeout);
    for (;;) {
      if (stop) return false;
      if (!receive(parts)) {
        if (std::chrono::steady_clock::now() > deadline)
          throw Error("zmq '" + endpoint + "': no frames for " + std::to_string(options.read_timeout) + " s");
        continue;
      }
      FrameMessageHeader h;
      try {
        YOCO_REQUIRE(parts.size() == 2, "frame message: expected 2 parts, got " + std::to_string(parts.size()));
        h = parse_frame_message(parts[0].data(), parts[0].size(), parts[1].size());
      } catch (const Error&) {
        count(&SourceStats::corrupt);
        pending_discontinuity = true;
        continue;
      }
      if (!stream_id.empty() && h.stream != stream_id) continue;
      deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(options.read_timeout);
      count(&SourceStats::decoded);
      if (h.index >= 0 && last_index >= 0 && h.index > last_index + 1) {
        count(&SourceStats::dropped, h.index - last_index - 1);
        pending_discontinuity = true;
      }
      if (h.index >= 0) last_index = h.index;
      if (!have_first) {
        have_first = true;
        first_pts = h.pts;
        std::lock_guard<std::mutex> lock(stats_mu);
        info.width = h.width;
        info.height = h.height;
      }
      double pts = h.pts - first_pts;
      if (pts <= last_pts) {
        pts = last_pts + 1e-3;
        count(&SourceStats::pts_repaired);
      }
      if (want && !want(pts)) {
        last_pts = pts;
        count(&SourceStats::skipped);
        continue;
      }
      FrameBuffer buf = pool.acquire(static_cast<size_t>(h.width) * h.height * 3);
      const auto* payload = static_cast<const uint8_t*>(parts[1].data());
      try {
        if (h.format == FramePayloadFormat::kJpeg) {
          if (!jpeg) jpeg = std::make_unique<JpegDecoder>();
          jpeg->decode(payload, parts[1].size(), h.width, h.height, buf.data());
        } else {
          const int fmt = h.format == FramePayloadFormat::kRgb24   ? AV_PIX_FMT_RGB24
                          : h.format == FramePayloadFormat::kBgr24 ? AV_PIX_FMT_BGR24
                                                                   : AV_PIX_FMT_GRAY8;
          converter.convert_packed(payload, h.width, h.height, h.stride, fmt, buf.data());
        }
      } catch (const Error&) {
        count(&SourceStats::corrupt);
        pending_discontinuity = true;
        continue;
      }
      last_pts = pts;
      out.pixels = std::move(buf);
      out.width = h.width;
      out.height = h.height;
      out.pts = pts;
      out.wall_time = wall_clock_now();
      out.index = delivered++;
      out.discontinuity = pending_discontinuity;
      pending_discontinuity = false;
      count(&SourceStats::produced);
      return true;
    }
  }
};

ZmqSource::ZmqSource(const std::string& endpoint, const std::string& stream_id, const SourceOptions& options)
    : impl_(std::make_unique<Impl>(endpoint, stream_id, options)) {
  impl_->open();
}

ZmqSource::~ZmqSource() = default;

bool ZmqSource::read(Frame& out, const PtsFilter& want) { return impl_->read(out, want); }

void ZmqSource::interrupt() { impl_->stop = true; }

SourceInfo ZmqSource::info() const {
  std::lock_guard<std::mutex> lock(impl_->stats_mu);
  return impl_->info;
}

SourceStats ZmqSource::stats() const {
  std::lock_guard<std::mutex> lock(impl_->stats_mu);
  return impl_->stats;
}

}  // namespace yoco::pipeline
