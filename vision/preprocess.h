// Frame preprocessing: any RGB24 frame → the encoder's normalised S × S input, planar [3, S, S] (CHW).
//
// Letterbox (keeps the aspect ratio; tools/vision/vision_ref.py implements the same arithmetic):
// - the longer side becomes S; the shorter becomes round(short · S / long) in integers,
//   (2·short·S + long) / (2·long) (half rounds up), at least 1;
// - the resized image sits at x0 = (S − w') / 2, y0 = (S − h') / 2 (integer division: an odd margin leaves
//   the extra pixel on the right / bottom); the rest is `pad_rgb`.
// Bilinear resize with half-pixel centres (PyTorch align_corners=False, no antialias): the source coordinate
// of output pixel x is max(0, (x + 0.5) · w / w' − 0.5); x_lo = floor, x_hi = min(x_lo + 1, w − 1).
// Then v = (value / 255 − mean[c]) / std[c]; pad pixels are normalised the same way.
//
// Memory: every buffer is sized from S at construction; process() never allocates, whatever the frame size.
// Not thread-safe: one Preprocessor per caller (VisionScratch holds one).
#pragma once

#include <cstdint>
#include <vector>

#include "vision/vision_config.h"

namespace yoco::vision {

struct Letterbox {
  int scaled_w = 0, scaled_h = 0;  // size of the resized frame inside the square
  int x0 = 0, y0 = 0;              // its top-left corner
};
// Geometry of the letterbox of a width × height frame into an S × S square. Throws on non-positive sizes.
Letterbox letterbox_geometry(int width, int height, int image_size);

class Preprocessor {
 public:
  explicit Preprocessor(const VisionConfig& cfg);

  // rgb: height rows of width·3 bytes, `stride` bytes apart (stride ≥ 3·width). Throws yoco::Error on a null
  // pointer or bad sizes. Returns the [3, S, S] image, valid until the next call.
  const float* process(const uint8_t* rgb, int width, int height, int stride);

  const float* image() const { return image_.data(); }
  const Letterbox& last_geometry() const { return box_; }
  int image_size() const { return size_; }
  // Bytes held by this object's buffers (constant after construction).
  size_t bytes_reserved() const;

 private:
  int size_ = 0;
  std::array<float, 3> scale_{}, shift_{};  // v = byte · scale + shift (normalisation folded)
  std::array<float, 3> pad_{};              // normalised pad colour
  std::vector<float> image_;                // [3, S, S]
  std::vector<int> x_lo_, x_hi_, y_lo_, y_hi_;  // S entries each
  std::vector<float> x_frac_, y_frac_;
  std::vector<float> row_;                  // one resized row, [S, 3] (horizontal pass of two source rows)
  Letterbox box_;
};

}  // namespace yoco::vision
