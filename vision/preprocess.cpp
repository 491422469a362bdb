#include "vision/preprocess.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/error.h"

namespace yoco::vision {
namespace {

// Source taps of a half-pixel-centre bilinear resize from `in` to `out` samples.
void resize_taps(int in, int out, int* lo, int* hi, float* frac) {
  const double scale = static_cast<double>(in) / out;
  for (int i = 0; i < out; ++i) {
    const double src = std::max(0.0, (i + 0.5) * scale - 0.5);
    int l = static_cast<int>(src);  // src >= 0: truncation is floor
    l = std::min(l, in - 1);
    lo[i] = l;
    hi[i] = std::min(l + 1, in - 1);
    frac[i] = static_cast<float>(src - l);
  }
}

}  // namespace

Letterbox letterbox_geometry(int width, int height, int image_size) {
  YOCO_REQUIRE(width >= 1 && height >= 1,
               "vision: frame size " + std::to_string(width) + "x" + std::to_string(height) + " is not positive");
  const int64_t S = image_size, w = width, h = height;
  Letterbox b;
  if (w >= h) {
    b.scaled_w = image_size;
    b.scaled_h = static_cast<int>(std::max<int64_t>(1, (2 * h * S + w) / (2 * w)));
  } else {
    b.scaled_h = image_size;
    b.scaled_w = static_cast<int>(std::max<int64_t>(1, (2 * w * S + h) / (2 * h)));
  }
  b.x0 = (image_size - b.scaled_w) / 2;
  b.y0 = (image_size - b.scaled_h) / 2;
  return b;
}

Preprocessor::Preprocessor(const VisionConfig& cfg) : size_(cfg.image_size) {
  for (int c = 0; c < 3; ++c) {
    scale_[c] = static_cast<float>(1.0 / (255.0 * cfg.std[c]));
    shift_[c] = static_cast<float>(-static_cast<double>(cfg.mean[c]) / cfg.std[c]);
    pad_[c] = static_cast<float>((cfg.pad_rgb[c] / 255.0 - cfg.mean[c]) / cfg.std[c]);
  }
  const size_t S = static_cast<size_t>(size_);
  image_.assign(3 * S * S, 0.0f);
  x_lo_.assign(S, 0);
  x_hi_.assign(S, 0);
  y_lo_.assign(S, 0);
  y_hi_.assign(S, 0);
  x_frac_.assign(S, 0.0f);
  y_frac_.assign(S, 0.0f);
  row_.assign(2 * 3 * S, 0.0f);
}

size_t Preprocessor::bytes_reserved() const {
  return (image_.capacity() + x_frac_.capacity() + y_frac_.capacity() + row_.capacity()) * sizeof(float) +
         (x_lo_.capacity() + x_hi_.capacity() + y_lo_.capacity() + y_hi_.capacity()) * sizeof(int);
}

const float* Preprocessor::process(const uint8_t* rgb, int width, int height, int stride) {
  YOCO_REQUIRE(rgb != nullptr, "vision: null frame pixels");
  box_ = letterbox_geometry(width, height, size_);
  YOCO_REQUIRE(static_cast<int64_t>(stride) >= 3 * static_cast<int64_t>(width),
               "vision: frame stride " + std::to_string(stride) + " is less than 3 * width");
  const int S = size_;
  const size_t plane = static_cast<size_t>(S) * S;
  // Pad colour everywhere, then the resized frame over it.
  for (int c = 0; c < 3; ++c) std::fill(image_.begin() + c * plane, image_.begin() + (c + 1) * plane, pad_[c]);
  const int sw = box_.scaled_w, sh = box_.scaled_h;
  resize_taps(width, sw, x_lo_.data(), x_hi_.data(), x_frac_.data());
  resize_taps(height, sh, y_lo_.data(), y_hi_.data(), y_frac_.data());
  float* top = row_.data();
  float* bot = row_.data() + 3 * static_cast<size_t>(S);
  for (int y = 0; y < sh; ++y) {
    const uint8_t* r0 = rgb + static_cast<size_t>(y_lo_[y]) * stride;
    const uint8_t* r1 = rgb + static_cast<size_t>(y_hi_[y]) * stride;
    // Horizontal pass on the two source rows, then the vertical blend: value = (1-fy)·top + fy·bot.
    for (int x = 0; x < sw; ++x) {
      const int a = 3 * x_lo_[x], b = 3 * x_hi_[x];
      const float fx = x_frac_[x];
      for (int c = 0; c < 3; ++c) {
        top[3 * x + c] = r0[a + c] + fx * (static_cast<float>(r0[b + c]) - r0[a + c]);
        bot[3 * x + c] = r1[a + c] + fx * (static_cast<float>(r1[b + c]) - r1[a + c]);
      }
    }
    const float fy = y_frac_[y];
    const size_t out_row = static_cast<size_t>(box_.y0 + y) * S + box_.x0;
    for (int c = 0; c < 3; ++c) {
      float* dst = image_.data() + c * plane + out_row;
      for (int x = 0; x < sw; ++x) {
        const float v = top[3 * x + c] + fy * (bot[3 * x + c] - top[3 * x + c]);
        dst[x] = v * scale_[c] + shift_[c];
      }
    }
  }
  return image_.data();
}

}  // namespace yoco::vision
