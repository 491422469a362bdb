#include "pipeline/ffmpeg_source.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
}

#include "kernels/error.h"
#include "pipeline/rgb_converter.h"

namespace yoco::pipeline {

namespace {

int default_decode_threads() {
  const unsigned cores = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp(cores, 1u, 16u));
}

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string av_error(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(err, buf, sizeof(buf));
  return buf;
}

bool is_live_url(const std::string& url) {
  for (const char* scheme : {"rtsp://", "rtsps://", "rtmp://", "rtp://", "udp://", "srt://", "tcp://"})
    if (url.rfind(scheme, 0) == 0) return true;
  return false;
}

// A decoder that fails this many packets/frames in a row with no good frame in between is declared broken.
constexpr int kMaxConsecutiveErrors = 200;
// Frames larger than this are refused at open (8K UHD is 33 Mpx; this leaves room for 8K DCI and 16:9 16K/4).
constexpr int64_t kMaxPixels = 8192LL * 8192LL;

}  // namespace

void init_ffmpeg_logging() {
  static std::once_flag once;
  std::call_once(once, [] {
    int level = AV_LOG_FATAL;
    if (const char* env = std::getenv("YOCO_FFMPEG_LOG")) {
      const std::string v = env;
      if (v == "quiet") level = AV_LOG_QUIET;
      else if (v == "error") level = AV_LOG_ERROR;
      else if (v == "warning") level = AV_LOG_WARNING;
      else if (v == "info") level = AV_LOG_INFO;
      else if (v == "debug") level = AV_LOG_DEBUG;
    }
    av_log_set_level(level);
  });
}

struct FfmpegSource::Impl {
  std::string url;
  SourceOptions options;
  SourceInfo info;
  AVFormatContext* fmt = nullptr;
  AVCodecContext* dec = nullptr;
  AVPacket* pkt = nullptr;
  AVFrame* frame = nullptr;
  AVStream* stream = nullptr;
  int stream_index = -1;
  int rotation = 0;
  RgbConverter converter;
  FramePool pool;

  std::atomic<bool> stop{false};
  std::atomic<int64_t> deadline_ns{0};

  bool flushing = false;        // EOF reached at the demuxer, draining the decoder
  bool ended = false;
  int64_t start_ts = AV_NOPTS_VALUE;  // timestamp (stream time base) of the first frame: pts 0
  double last_pts = -1.0;
  double frame_duration = 1.0 / 25.0;  // nominal, for repairing timestamps
  double seek_target = -1.0;           // drop frames before this pts after seek()
  bool pending_discontinuity = false;
  int consecutive_errors = 0;
  int64_t delivered = 0;

  mutable std::mutex stats_mu;
  SourceStats stats;

  Impl(const std::string& u, const SourceOptions& o) : url(u), options(o), pool(o.pool_buffers, 0) {}

  ~Impl() {
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
  }

  static int interrupt_cb(void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    if (self->stop.load(std::memory_order_relaxed)) return 1;
    const int64_t deadline = self->deadline_ns.load(std::memory_order_relaxed);
    return deadline > 0 && steady_ns() > deadline ? 1 : 0;
  }

  void arm(double seconds) { deadline_ns.store(steady_ns() + static_cast<int64_t>(seconds * 1e9)); }

  void count(int64_t SourceStats::*field) {
    std::lock_guard<std::mutex> lock(stats_mu);
    stats.*field += 1;
  }

  void open() {
    init_ffmpeg_logging();
    avformat_network_init();
    info.live = is_live_url(url);
    fmt = avformat_alloc_context();
    YOCO_CHECK(fmt != nullptr);
    fmt->interrupt_callback.callback = &Impl::interrupt_cb;
    fmt->interrupt_callback.opaque = this;
    AVDictionary* opts = nullptr;
    const std::string us = std::to_string(static_cast<int64_t>(options.open_timeout * 1e6));
    if (url.rfind("rtsp", 0) == 0) av_dict_set(&opts, "timeout", us.c_str(), 0);
    else if (url.find("://") != std::string::npos) av_dict_set(&opts, "rw_timeout", us.c_str(), 0);
    if (!options.protocol_whitelist.empty()) av_dict_set(&opts, "protocol_whitelist", options.protocol_whitelist.c_str(), 0);
    arm(options.open_timeout);
    int err = avformat_open_input(&fmt, url.c_str(), nullptr, &opts);
    av_dict_free(&opts);
    if (err < 0) {
      fmt = nullptr;  // freed by avformat_open_input on failure
      if (stop) throw Error("cannot open '" + url + "': interrupted");
      if (err == AVERROR_EXIT) throw Error("cannot open '" + url + "': timed out after " +
                                           std::to_string(options.open_timeout) + " s");
      throw Error("cannot open '" + url + "': " + av_error(err));
    }
    err = avformat_find_stream_info(fmt, nullptr);
    YOCO_REQUIRE(err >= 0, "cannot read stream info of '" + url + "': " +
                               (err == AVERROR_EXIT ? std::string("timed out") : av_error(err)));
    stream_index = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    YOCO_REQUIRE(stream_index >= 0, "'" + url + "' has no video stream");
    stream = fmt->streams[stream_index];
    for (unsigned i = 0; i < fmt->nb_streams; ++i)
      if (static_cast<int>(i) != stream_index) fmt->streams[i]->discard = AVDISCARD_ALL;
    const AVCodecParameters* par = stream->codecpar;
    const AVCodec* codec = avcodec_find_decoder(par->codec_id);
    YOCO_REQUIRE(codec != nullptr, "'" + url + "': unsupported video codec '" +
                                       std::string(avcodec_get_name(par->codec_id)) + "'");
    YOCO_REQUIRE(static_cast<int64_t>(par->width) * par->height <= kMaxPixels,
                 "'" + url + "': frame size " + std::to_string(par->width) + "x" + std::to_string(par->height) +
                     " exceeds the supported maximum (8192x8192)");
    dec = avcodec_alloc_context3(codec);
    YOCO_CHECK(dec != nullptr);
    err = avcodec_parameters_to_context(dec, par);
    YOCO_REQUIRE(err >= 0, "'" + url + "': bad codec parameters: " + av_error(err));
    dec->pkt_timebase = stream->time_base;
    // One decoder thread per core, as `ffmpeg -threads N` with N the cores: FFmpeg's own automatic count is one
    // more, which costs more CPU and time on a machine whose cores the stream's ingest shares (a 1 fps sample
    // of a 5-minute 720p file on 2 cores: 6.6 s of CPU and 4.1 s against 5.7 s and 3.3 s).
    dec->thread_count = options.decode_threads > 0 ? options.decode_threads : default_decode_threads();
    // Frame threading adds a frame of latency per thread: fine for files, not for live feeds.
    dec->thread_type = info.live ? FF_THREAD_SLICE : (FF_THREAD_FRAME | FF_THREAD_SLICE);
    if (options.keyframes_only) dec->skip_frame = AVDISCARD_NONKEY;
    err = avcodec_open2(dec, codec, nullptr);
    YOCO_REQUIRE(err >= 0, "'" + url + "': cannot open the " + std::string(codec->name) + " decoder: " +
                               av_error(err));
    pkt = av_packet_alloc();
    frame = av_frame_alloc();
    YOCO_CHECK(pkt && frame);

    if (const uint8_t* m = av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, nullptr)) {
      // av_display_rotation_get is counter-clockwise; frames are turned clockwise by its negation.
      const double ccw = av_display_rotation_get(reinterpret_cast<const int32_t*>(m));
      if (std::isfinite(ccw)) {
        int cw = static_cast<int>(std::lround(-ccw)) % 360;
        if (cw < 0) cw += 360;
        rotation = (cw + 45) / 90 % 4 * 90;
      }
    }
    AVRational rate = stream->avg_frame_rate;
    if (rate.num <= 0 || rate.den <= 0) rate = stream->r_frame_rate;
    if (rate.num > 0 && rate.den > 0 && av_q2d(rate) < 1000) {
      info.nominal_fps = av_q2d(rate);
      frame_duration = 1.0 / info.nominal_fps;
    }
    RgbConverter::rotated_size(par->width, par->height, rotation, &info.width, &info.height);
    if (!info.live && fmt->duration > 0) info.duration = fmt->duration / double(AV_TIME_BASE);
    info.replayable = !info.live;
    info.description = std::string("ffmpeg ") + (info.live ? "stream " : "file ") + url + " (" + codec->name +
                       " " + std::to_string(info.width) + "x" + std::to_string(info.height) + ")";
  }

  // Seconds from the first frame for a timestamp in the stream's time base.
  double to_seconds(int64_t ts) const { return (ts - start_ts) * av_q2d(stream->time_base); }

  // Called for each decoded frame; returns true when it was delivered into `out`.
  bool deliver(Frame& out, const PtsFilter& want) {
    count(&SourceStats::decoded);
    if (frame->decode_error_flags != 0 || (frame->flags & AV_FRAME_FLAG_CORRUPT)) {
      count(&SourceStats::corrupt);
      pending_discontinuity = true;
      if (++consecutive_errors > kMaxConsecutiveErrors) throw Error("'" + url + "': too many corrupt frames");
      return false;
    }
    consecutive_errors = 0;
    int64_t ts = frame->best_effort_timestamp;
    double pts;
    if (ts == AV_NOPTS_VALUE) {
      pts = last_pts < 0 ? 0.0 : last_pts + frame_duration;
      if (last_pts >= 0) count(&SourceStats::pts_repaired);
    } else {
      if (start_ts == AV_NOPTS_VALUE) start_ts = ts;
      pts = to_seconds(ts);
      if (last_pts >= 0 && pts <= last_pts) {
        pts = last_pts + frame_duration;
        count(&SourceStats::pts_repaired);
      } else if (last_pts < 0 && pts < 0) {
        pts = 0.0;
      }
    }
    if (seek_target >= 0 && pts < seek_target - 1e-6) return false;
    seek_target = -1.0;
    last_pts = pts;
    if (want && !want(pts)) {
      count(&SourceStats::skipped);
      return false;
    }
    YOCO_REQUIRE(static_cast<int64_t>(frame->width) * frame->height <= kMaxPixels && frame->width > 0 &&
                     frame->height > 0,
                 "'" + url + "': frame size " + std::to_string(frame->width) + "x" + std::to_string(frame->height) +
                     " is not supported");
    int w = 0, h = 0;
    RgbConverter::rotated_size(frame->width, frame->height, rotation, &w, &h);
    out.pixels = pool.acquire(static_cast<size_t>(w) * h * 3);
    converter.convert(frame, rotation, out.pixels.data());
    out.width = w;
    out.height = h;
    out.pts = pts;
    out.wall_time = wall_clock_now();
    out.index = delivered++;
    out.discontinuity = pending_discontinuity;
    pending_discontinuity = false;
    count(&SourceStats::produced);
    return true;
  }

  // Sends the next video packet to the decoder; returns false at the end of the input.
  bool feed(const PtsFilter& want) {
    for (;;) {
      arm(options.read_timeout);
      const int err = av_read_frame(fmt, pkt);
      if (err == AVERROR_EOF || (err < 0 && fmt->pb && avio_feof(fmt->pb) && err != AVERROR_EXIT)) {
        avcodec_send_packet(dec, nullptr);  // drain
        flushing = true;
        return false;
      }
      if (err == AVERROR_EXIT) {
        if (stop) return false;
        count(&SourceStats::errors);
        throw Error("'" + url + "': no data for " + std::to_string(options.read_timeout) + " s");
      }
      if (err < 0) {
        count(&SourceStats::errors);
        if (err == AVERROR(EAGAIN)) continue;
        if (info.live || ++consecutive_errors > kMaxConsecutiveErrors)
          throw Error("'" + url + "': read failed: " + av_error(err));
        count(&SourceStats::corrupt);
        pending_discontinuity = true;
        continue;
      }
      if (pkt->stream_index != stream_index) {
        av_packet_unref(pkt);
        continue;
      }
      const bool key = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
      if (options.keyframes_only && !key) {
        av_packet_unref(pkt);
        continue;
      }
      // Decide per packet whether its frame may be dropped by the decoder. The frame's pts is the packet's pts;
      // the sampler's due time never decreases, so a frame unwanted now is unwanted when it comes out.
      bool unwanted = false;
      if (want && pkt->pts != AV_NOPTS_VALUE && start_ts != AV_NOPTS_VALUE && seek_target < 0) {
        unwanted = !want(to_seconds(pkt->pts));
      }
      if (options.keyframes_only) {
        if (unwanted) {  // keyframes depend on nothing and nothing we decode depends on them
          count(&SourceStats::skipped);
          av_packet_unref(pkt);
          continue;
        }
      } else {
        dec->skip_frame = unwanted ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
      }
      const int sent = avcodec_send_packet(dec, pkt);
      av_packet_unref(pkt);
      if (sent < 0 && sent != AVERROR(EAGAIN)) {
        count(&SourceStats::corrupt);
        pending_discontinuity = true;
        if (++consecutive_errors > kMaxConsecutiveErrors) throw Error("'" + url + "': undecodable stream");
      }
      return true;
    }
  }

  bool read(Frame& out, const PtsFilter& want) {
    if (ended) return false;
    for (;;) {
      if (stop) return false;
      const int err = avcodec_receive_frame(dec, frame);
      if (err == 0) {
        const bool got = deliver(out, want);
        av_frame_unref(frame);
        if (got) return true;
        continue;
      }
      if (err == AVERROR_EOF) {
        ended = true;
        return false;
      }
      if (err == AVERROR(EAGAIN)) {
        if (flushing) {  // a decoder that wants input after the drain: nothing more will come
          ended = true;
          return false;
        }
        feed(want);
        continue;
      }
      count(&SourceStats::corrupt);
      pending_discontinuity = true;
      if (++consecutive_errors > kMaxConsecutiveErrors) throw Error("'" + url + "': decoding failed: " + av_error(err));
    }
  }

  void seek(double seconds) {
    YOCO_REQUIRE(!info.live, "'" + url + "': cannot seek a live stream");
    int64_t base = start_ts;
    if (base == AV_NOPTS_VALUE) base = stream->start_time != AV_NOPTS_VALUE ? stream->start_time : 0;
    if (start_ts == AV_NOPTS_VALUE) start_ts = base;
    const int64_t target = base + static_cast<int64_t>(std::floor(seconds / av_q2d(stream->time_base)));
    arm(options.read_timeout);
    const int err = av_seek_frame(fmt, stream_index, target, AVSEEK_FLAG_BACKWARD);
    YOCO_REQUIRE(err >= 0, "'" + url + "': cannot seek to " + std::to_string(seconds) + " s: " + av_error(err));
    avcodec_flush_buffers(dec);
    flushing = false;
    ended = false;
    last_pts = -1.0;
    seek_target = seconds;
    pending_discontinuity = true;
  }
};

FfmpegSource::FfmpegSource(const std::string& url, const SourceOptions& options)
    : impl_(std::make_unique<Impl>(url, options)) {
  impl_->open();
}

FfmpegSource::~FfmpegSource() = default;

bool FfmpegSource::read(Frame& out, const PtsFilter& want) { return impl_->read(out, want); }

void FfmpegSource::interrupt() { impl_->stop = true; }

SourceInfo FfmpegSource::info() const { return impl_->info; }

SourceStats FfmpegSource::stats() const {
  std::lock_guard<std::mutex> lock(impl_->stats_mu);
  return impl_->stats;
}

void FfmpegSource::seek(double seconds) { impl_->seek(seconds); }

bool FfmpegSource::seek_to(double pts) {
  try {
    impl_->seek(pts);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

int FfmpegSource::rotation() const { return impl_->rotation; }

}  // namespace yoco::pipeline
