// JpegDecoder: one JPEG image (e.g. a ZeroMQ frame payload) to packed RGB24, through libavcodec's MJPEG decoder
// and RgbConverter. Reuses its decoder and buffers across images.
// Thread safety: none; one per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "pipeline/frame_pool.h"

namespace yoco::pipeline {

class JpegDecoder {
 public:
  JpegDecoder();
  ~JpegDecoder();
  JpegDecoder(const JpegDecoder&) = delete;
  JpegDecoder& operator=(const JpegDecoder&) = delete;

  // Decodes `size` bytes; the image must be exactly width x height. Writes width*height*3 bytes to `rgb`.
  // Throws yoco::Error for undecodable data or a size mismatch.
  void decode(const uint8_t* data, size_t size, int width, int height, uint8_t* rgb);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace yoco::pipeline
