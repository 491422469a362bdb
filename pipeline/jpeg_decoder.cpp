#include "pipeline/jpeg_decoder.h"

#include <string>

extern "C" {
#include <libavcodec/avcodec.h>
}

#include "kernels/error.h"
#include "pipeline/ffmpeg_source.h"
#include "pipeline/rgb_converter.h"

namespace yoco::pipeline {

struct JpegDecoder::Impl {
  AVCodecContext* ctx = nullptr;
  AVPacket* pkt = nullptr;
  AVFrame* frame = nullptr;
  RgbConverter converter;
  ~Impl() {
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&ctx);
  }
};

JpegDecoder::JpegDecoder() : impl_(std::make_unique<Impl>()) {
  init_ffmpeg_logging();
  const AVCodec* codec = avcodec_find_decoder(AV_CODEC_ID_MJPEG);
  YOCO_REQUIRE(codec != nullptr, "this FFmpeg has no JPEG decoder");
  impl_->ctx = avcodec_alloc_context3(codec);
  impl_->pkt = av_packet_alloc();
  impl_->frame = av_frame_alloc();
  YOCO_CHECK(impl_->ctx && impl_->pkt && impl_->frame);
  impl_->ctx->thread_count = 1;
  YOCO_REQUIRE(avcodec_open2(impl_->ctx, codec, nullptr) >= 0, "cannot open the JPEG decoder");
}

JpegDecoder::~JpegDecoder() = default;

void JpegDecoder::decode(const uint8_t* data, size_t size, int width, int height, uint8_t* rgb) {
  YOCO_REQUIRE(size > 0 && size < (1u << 30), "JPEG: bad size");
  // The packet borrows `data`; the decoder copies what it keeps. Padding is required past the end, so copy.
  YOCO_REQUIRE(av_new_packet(impl_->pkt, static_cast<int>(size)) == 0, "JPEG: out of memory");
  std::copy(data, data + size, impl_->pkt->data);
  int err = avcodec_send_packet(impl_->ctx, impl_->pkt);
  av_packet_unref(impl_->pkt);
  if (err >= 0) err = avcodec_receive_frame(impl_->ctx, impl_->frame);
  if (err < 0) {
    avcodec_flush_buffers(impl_->ctx);
    throw Error("JPEG: undecodable image");
  }
  const bool ok = impl_->frame->width == width && impl_->frame->height == height;
  const std::string got = std::to_string(impl_->frame->width) + "x" + std::to_string(impl_->frame->height);
  if (ok) {
    try {
      impl_->converter.convert(impl_->frame, 0, rgb);
    } catch (...) {
      av_frame_unref(impl_->frame);
      throw;
    }
  }
  av_frame_unref(impl_->frame);
  YOCO_REQUIRE(ok, "JPEG: image is " + got + ", header says " + std::to_string(width) + "x" + std::to_string(height));
}

}  // namespace yoco::pipeline
