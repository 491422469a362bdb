#include "pipeline/rgb_converter.h"

#include <cstring>

extern "C" {
#include <libavutil/frame.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

#include "kernels/error.h"

namespace yoco::pipeline {

RgbConverter::~RgbConverter() { sws_freeContext(sws_); }

void RgbConverter::rotated_size(int w, int h, int rotation, int* out_w, int* out_h) {
  const bool swap = rotation == 90 || rotation == 270;
  *out_w = swap ? h : w;
  *out_h = swap ? w : h;
}

void RgbConverter::ensure_context(int w, int h, int fmt) {
  sws_ = sws_getCachedContext(sws_, w, h, static_cast<AVPixelFormat>(fmt), w, h, AV_PIX_FMT_RGB24, SWS_BICUBIC,
                              nullptr, nullptr, nullptr);
  const char* name = av_get_pix_fmt_name(static_cast<AVPixelFormat>(fmt));
  YOCO_REQUIRE(sws_ != nullptr, std::string("cannot convert pixel format ") + (name ? name : "unknown") +
                                    " (" + std::to_string(w) + "x" + std::to_string(h) + ") to RGB");
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
  uint8_t* planes[4] = {target, nullptr, nullptr, nullptr};
  int strides[4] = {w * 3, 0, 0, 0};
  const int rows = sws_scale(sws_, src->data, src->linesize, 0, h, planes, strides);
  YOCO_REQUIRE(rows == h, "pixel conversion to RGB failed");
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
