#include "pipeline/rgb_converter.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <thread>

extern "C" {
#include <libavutil/frame.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

#include "kernels/error.h"

namespace yoco::pipeline {

RgbConverter::~RgbConverter() {
  sws_freeContext(sws_);
  av_frame_free(&dst_frame_);
}

namespace {

// Slice threads for one conversion: worth it from about 640x360 up; YOCO_THREADS caps it like the kernels.
int conversion_threads(int w, int h) {
  if (static_cast<int64_t>(w) * h < 640 * 360) return 1;
  int n = static_cast<int>(std::thread::hardware_concurrency());
  if (const char* env = std::getenv("YOCO_THREADS")) n = std::atoi(env);
  return std::clamp(n, 1, 4);
}

}  // namespace

void RgbConverter::rotated_size(int w, int h, int rotation, int* out_w, int* out_h) {
  const bool swap = rotation == 90 || rotation == 270;
  *out_w = swap ? h : w;
  *out_h = swap ? w : h;
}

void RgbConverter::ensure_context(int w, int h, int fmt) {
  if (sws_ && w == ctx_w_ && h == ctx_h_ && fmt == ctx_fmt_) return;
  sws_freeContext(sws_);
  sws_ = sws_alloc_context();
  const char* name = av_get_pix_fmt_name(static_cast<AVPixelFormat>(fmt));
  const std::string what = std::string("cannot convert pixel format ") + (name ? name : "unknown") + " (" +
                           std::to_string(w) + "x" + std::to_string(h) + ") to RGB";
  YOCO_REQUIRE(sws_ != nullptr, what);
  av_opt_set_int(sws_, "srcw", w, 0);
  av_opt_set_int(sws_, "srch", h, 0);
  av_opt_set_int(sws_, "src_format", fmt, 0);
  av_opt_set_int(sws_, "dstw", w, 0);
  av_opt_set_int(sws_, "dsth", h, 0);
  av_opt_set_int(sws_, "dst_format", AV_PIX_FMT_RGB24, 0);
  av_opt_set_int(sws_, "sws_flags", SWS_BICUBIC, 0);
  av_opt_set_int(sws_, "threads", conversion_threads(w, h), 0);
  if (sws_init_context(sws_, nullptr, nullptr) < 0) {
    sws_freeContext(sws_);
    sws_ = nullptr;
    throw Error(what);
  }
  ctx_w_ = w, ctx_h_ = h, ctx_fmt_ = fmt;
  if (!dst_frame_) dst_frame_ = av_frame_alloc();
  YOCO_REQUIRE(dst_frame_ != nullptr, "out of memory allocating a frame");
}

// Rotates packed RGB src (w x h) clockwise by `rotation` into dst.
static void rotate_rgb(const uint8_t* src, int w, int h, int rotation, uint8_t* dst) {
  int ow = 0, oh = 0;
  RgbConverter::rotated_size(w, h, rotation, &ow, &oh);
  for (int y = 0; y < h; ++y) {
    const uint8_t* s = src + static_cast<size_t>(y) * w * 3;
    for (int x = 0; x < w; ++x, s += 3) {
      int dx, dy;
      if (rotation == 90) {
        dx = h - 1 - y, dy = x;
      } else if (rotation == 180) {
        dx = w - 1 - x, dy = h - 1 - y;
      } else {  // 270
        dx = y, dy = w - 1 - x;
      }
      uint8_t* d = dst + (static_cast<size_t>(dy) * ow + dx) * 3;
      d[0] = s[0], d[1] = s[1], d[2] = s[2];
    }
  }
}

void RgbConverter::convert(const AVFrame* src, int rotation, uint8_t* dst) {
  const int w = src->width, h = src->height;
  ensure_context(w, h, src->format);
  uint8_t* target = dst;
  if (rotation != 0) {
    scratch_.resize(static_cast<size_t>(w) * h * 3);
    target = scratch_.data();
  }
  // sws_scale_frame runs swscale's slice threads; the destination is the caller's buffer.
  av_frame_unref(dst_frame_);
  dst_frame_->format = AV_PIX_FMT_RGB24;
  dst_frame_->width = w;
  dst_frame_->height = h;
  dst_frame_->data[0] = target;
  dst_frame_->linesize[0] = w * 3;
  // A non-owning buffer reference: without buf[0] swscale would allocate its own destination.
  dst_frame_->buf[0] = av_buffer_create(target, static_cast<size_t>(w) * h * 3, [](void*, uint8_t*) {}, nullptr, 0);
  YOCO_REQUIRE(dst_frame_->buf[0] != nullptr, "out of memory wrapping a frame buffer");
  const int rc = sws_scale_frame(sws_, dst_frame_, src);
  av_frame_unref(dst_frame_);
  YOCO_REQUIRE(rc >= 0, "pixel conversion to RGB failed");
  if (rotation != 0) rotate_rgb(target, w, h, rotation, dst);
}

void RgbConverter::convert_packed(const uint8_t* src, int w, int h, int stride, int av_pix_fmt, uint8_t* dst) {
  if (av_pix_fmt == AV_PIX_FMT_RGB24 && stride == w * 3) {
    std::memcpy(dst, src, static_cast<size_t>(w) * h * 3);
    return;
  }
  ensure_context(w, h, av_pix_fmt);
  const uint8_t* in_planes[4] = {src, nullptr, nullptr, nullptr};
  int in_strides[4] = {stride, 0, 0, 0};
  uint8_t* planes[4] = {dst, nullptr, nullptr, nullptr};
  int strides[4] = {w * 3, 0, 0, 0};
  const int rows = sws_scale(sws_, in_planes, in_strides, 0, h, planes, strides);
  YOCO_REQUIRE(rows == h, "pixel conversion to RGB failed");
}

}  // namespace yoco::pipeline
