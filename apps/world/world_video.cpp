#include "apps/world/world_video.h"

#include <cmath>
#include <cstring>

#include "kernels/error.h"
#include "pipeline/ffmpeg_source.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

namespace yoco::world {

namespace {
std::string av_error(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(err, buf, sizeof buf);
  return buf;
}
}  // namespace

struct WorldVideoWriter::Impl {
  VideoWriterOptions opt;
  std::string path, codec_name;
  AVFormatContext* fmt = nullptr;
  AVCodecContext* enc = nullptr;
  AVStream* stream = nullptr;
  AVFrame* frame = nullptr;
  AVPacket* pkt = nullptr;
  SwsContext* sws = nullptr;
  int64_t next_pts = 0;
  bool header_written = false, finished = false;

  ~Impl() {
    sws_freeContext(sws);
    av_packet_free(&pkt);
    av_frame_free(&frame);
    avcodec_free_context(&enc);
    if (fmt) {
      if (fmt->pb) avio_closep(&fmt->pb);
      avformat_free_context(fmt);
    }
  }

  void drain() {
    for (;;) {
      int r = avcodec_receive_packet(enc, pkt);
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
      YOCO_REQUIRE(r >= 0, "encoding " + path + " failed: " + av_error(r));
      av_packet_rescale_ts(pkt, enc->time_base, stream->time_base);
      pkt->stream_index = stream->index;
      r = av_interleaved_write_frame(fmt, pkt);
      YOCO_REQUIRE(r >= 0, "cannot write " + path + ": " + av_error(r));
    }
  }
};

WorldVideoWriter::WorldVideoWriter(const std::string& path, const VideoWriterOptions& options)
    : impl_(std::make_unique<Impl>()) {
  pipeline::init_ffmpeg_logging();
  Impl& m = *impl_;
  m.opt = options;
  m.path = path;
  YOCO_REQUIRE(options.width > 0 && options.height > 0 && options.width % 2 == 0 && options.height % 2 == 0,
               "video size must be even, got " + std::to_string(options.width) + "x" +
                   std::to_string(options.height));
  int r = avformat_alloc_output_context2(&m.fmt, nullptr, "mp4", path.c_str());
  YOCO_REQUIRE(r >= 0 && m.fmt, "cannot create an MP4 muxer for " + path + ": " + av_error(r));
  m.fmt->flags |= AVFMT_FLAG_BITEXACT;  // no version strings or dates: same frames, same file

  const AVCodec* codec = options.force_mpeg4 ? nullptr : avcodec_find_encoder_by_name("libx264");
  if (!codec) codec = avcodec_find_encoder(AV_CODEC_ID_MPEG4);
  YOCO_REQUIRE(codec, "no video encoder available (neither libx264 nor mpeg4)");
  m.codec_name = codec->name;
  const bool x264 = m.codec_name == "libx264";

  m.enc = avcodec_alloc_context3(codec);
  YOCO_CHECK(m.enc);
  const AVRational rate = av_d2q(options.fps, 100000);
  m.enc->width = options.width;
  m.enc->height = options.height;
  m.enc->pix_fmt = AV_PIX_FMT_YUV420P;
  m.enc->time_base = av_inv_q(rate);
  m.enc->framerate = rate;
  m.enc->gop_size = std::max(1, static_cast<int>(std::lround(options.gop_seconds * options.fps)));
  m.enc->thread_count = 1;  // deterministic bitstream
  m.enc->flags |= AV_CODEC_FLAG_BITEXACT;
  if (m.fmt->oformat->flags & AVFMT_GLOBALHEADER) m.enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  AVDictionary* opts = nullptr;
  if (x264) {
    av_dict_set(&opts, "crf", std::to_string(options.crf).c_str(), 0);
    av_dict_set(&opts, "preset", "veryfast", 0);
  } else {
    m.enc->flags |= AV_CODEC_FLAG_QSCALE;
    m.enc->global_quality = FF_QP2LAMBDA * 4;  // visually close to CRF 23 at these sizes
    m.enc->max_b_frames = 0;
  }
  r = avcodec_open2(m.enc, codec, &opts);
  av_dict_free(&opts);
  YOCO_REQUIRE(r >= 0, "cannot open the " + m.codec_name + " encoder: " + av_error(r));

  m.stream = avformat_new_stream(m.fmt, nullptr);
  YOCO_CHECK(m.stream);
  m.stream->time_base = m.enc->time_base;
  m.stream->avg_frame_rate = rate;
  r = avcodec_parameters_from_context(m.stream->codecpar, m.enc);
  YOCO_REQUIRE(r >= 0, "cannot set stream parameters: " + av_error(r));

  r = avio_open(&m.fmt->pb, path.c_str(), AVIO_FLAG_WRITE);
  YOCO_REQUIRE(r >= 0, "cannot write " + path + ": " + av_error(r));
  r = avformat_write_header(m.fmt, nullptr);
  YOCO_REQUIRE(r >= 0, "cannot write the MP4 header of " + path + ": " + av_error(r));
  m.header_written = true;

  m.frame = av_frame_alloc();
  m.pkt = av_packet_alloc();
  YOCO_CHECK(m.frame && m.pkt);
  m.frame->format = AV_PIX_FMT_YUV420P;
  m.frame->width = options.width;
  m.frame->height = options.height;
  r = av_frame_get_buffer(m.frame, 0);
  YOCO_REQUIRE(r >= 0, "cannot allocate a video frame: " + av_error(r));
  m.sws = sws_getContext(options.width, options.height, AV_PIX_FMT_RGB24, options.width, options.height,
                         AV_PIX_FMT_YUV420P, SWS_BILINEAR | SWS_ACCURATE_RND | SWS_BITEXACT, nullptr, nullptr,
                         nullptr);
  YOCO_REQUIRE(m.sws, "cannot create the RGB to YUV converter");
}

WorldVideoWriter::~WorldVideoWriter() {
  if (impl_ && impl_->header_written && !impl_->finished) {
    try {
      finish();
    } catch (...) {
    }
  }
}

void WorldVideoWriter::write(const uint8_t* rgb) {
  Impl& m = *impl_;
  YOCO_CHECK(!m.finished);
  int r = av_frame_make_writable(m.frame);
  YOCO_REQUIRE(r >= 0, "cannot write into a video frame: " + av_error(r));
  const uint8_t* src[1] = {rgb};
  const int stride[1] = {m.opt.width * 3};
  sws_scale(m.sws, src, stride, 0, m.opt.height, m.frame->data, m.frame->linesize);
  m.frame->pts = m.next_pts++;
  r = avcodec_send_frame(m.enc, m.frame);
  YOCO_REQUIRE(r >= 0, "encoding " + m.path + " failed: " + av_error(r));
  m.drain();
}

void WorldVideoWriter::finish() {
  Impl& m = *impl_;
  if (m.finished) return;
  m.finished = true;
  int r = avcodec_send_frame(m.enc, nullptr);
  YOCO_REQUIRE(r >= 0, "flushing the encoder failed: " + av_error(r));
  m.drain();
  r = av_write_trailer(m.fmt);
  YOCO_REQUIRE(r >= 0, "cannot finish " + m.path + ": " + av_error(r));
  r = avio_closep(&m.fmt->pb);
  YOCO_REQUIRE(r >= 0, "cannot close " + m.path + ": " + av_error(r));
}

const std::string& WorldVideoWriter::codec() const { return impl_->codec_name; }
int64_t WorldVideoWriter::frames() const { return impl_->next_pts; }

}  // namespace yoco::world
