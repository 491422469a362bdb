// RgbConverter: any FFmpeg pixel format to packed RGB24 (libswscale), with the clockwise display rotation
// (0, 90, 180, 270 degrees) a container may ask for. Keeps one cached swscale context, rebuilt when the input
// size or format changes (mid-stream resolution changes cost one rebuild, not one per frame).
//
// Scaling flags match the ffmpeg CLI's defaults (bicubic), so pixels agree with `ffmpeg -pix_fmt rgb24`.
// Large frames are converted in slices on swscale's own threads (as the ffmpeg CLI's scale filter does);
// YOCO_THREADS caps their number. Thread safety: none; one converter per thread.
#pragma once

#include <cstdint>
#include <vector>

struct AVFrame;
struct SwsContext;

namespace yoco::pipeline {

class RgbConverter {
 public:
  RgbConverter() = default;
  ~RgbConverter();
  RgbConverter(const RgbConverter&) = delete;
  RgbConverter& operator=(const RgbConverter&) = delete;

  // Output size of a w x h picture after `rotation` degrees clockwise.
  static void rotated_size(int w, int h, int rotation, int* out_w, int* out_h);
  // Writes rotated_size(src) * 3 bytes to dst (tightly packed rows). Throws yoco::Error when swscale cannot
  // handle the format.
  void convert(const AVFrame* src, int rotation, uint8_t* dst);
  // Packed RGB/BGR/gray input (e.g. a ZeroMQ payload): `av_pix_fmt` is an AVPixelFormat value.
  void convert_packed(const uint8_t* src, int w, int h, int stride, int av_pix_fmt, uint8_t* dst);

 private:
  SwsContext* sws_ = nullptr;
  AVFrame* dst_frame_ = nullptr;  // wraps the caller's output buffer for sws_scale_frame
  int ctx_w_ = 0, ctx_h_ = 0, ctx_fmt_ = -1;
  std::vector<uint8_t> scratch_;  // unrotated RGB when rotating; reused across frames
  void ensure_context(int w, int h, int fmt);
};

}  // namespace yoco::pipeline
