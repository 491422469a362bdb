// Preprocessing: letterbox geometry, pad colour, extreme frame sizes and bounded memory.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/error.h"
#include "vision/preprocess.h"

namespace yoco::vision {
namespace {

VisionConfig small_config() {
  VisionConfig c;
  c.image_size = 32;
  c.patch_size = 8;
  c.width = 16;
  c.n_layers = 1;
  c.n_heads = 2;
  c.mlp_dim = 32;
  c.tokens_per_frame = 4;
  c.proj_dim = 16;
  c.lm_dim = 16;
  c.mean = {0.5f, 0.25f, 0.0f};
  c.std = {0.5f, 0.25f, 1.0f};
  c.pad_rgb = {10, 20, 30};
  c.validate();
  return c;
}

TEST(Letterbox, Geometry) {
  // Wide: full width, rounded height, centred vertically (odd margin: extra pixel at the bottom).
  auto b = letterbox_geometry(64, 48, 32);
  EXPECT_EQ(b.scaled_w, 32);
  EXPECT_EQ(b.scaled_h, 24);
  EXPECT_EQ(b.x0, 0);
  EXPECT_EQ(b.y0, 4);
  b = letterbox_geometry(37, 23, 48);  // 23·48/37 = 29.84 → 30
  EXPECT_EQ(b.scaled_h, 30);
  EXPECT_EQ(b.y0, 9);
  // Tall.
  b = letterbox_geometry(20, 71, 48);  // 20·48/71 = 13.52 → 14
  EXPECT_EQ(b.scaled_w, 14);
  EXPECT_EQ(b.scaled_h, 48);
  EXPECT_EQ(b.x0, 17);
  EXPECT_EQ(b.y0, 0);
  // Square, larger and smaller than S.
  for (int n : {1, 7, 32, 1000}) {
    b = letterbox_geometry(n, n, 32);
    EXPECT_EQ(b.scaled_w, 32);
    EXPECT_EQ(b.scaled_h, 32);
    EXPECT_EQ(b.x0, 0);
    EXPECT_EQ(b.y0, 0);
  }
  // Half rounds up: 3·32/64 = 1.5 → 2. Extreme aspect: never below 1 pixel.
  EXPECT_EQ(letterbox_geometry(64, 3, 32).scaled_h, 2);
  EXPECT_EQ(letterbox_geometry(7680, 32, 32).scaled_h, 1);
  EXPECT_EQ(letterbox_geometry(1, 100000, 32).scaled_w, 1);
  EXPECT_THROW(letterbox_geometry(0, 5, 32), Error);
  EXPECT_THROW(letterbox_geometry(5, -1, 32), Error);
}

float normalised(int byte, const VisionConfig& c, int ch) { return (byte / 255.0f - c.mean[ch]) / c.std[ch]; }

TEST(Preprocessor, UniformFrameAndPad) {
  const auto cfg = small_config();
  Preprocessor pre(cfg);
  const int w = 40, h = 10;  // → 32 × 8 at y0 = 12
  std::vector<uint8_t> px(static_cast<size_t>(w) * h * 3);
  for (size_t i = 0; i < px.size(); i += 3) px[i] = 200, px[i + 1] = 100, px[i + 2] = 50;
  const float* img = pre.process(px.data(), w, h, 3 * w);
  const int S = cfg.image_size;
  const int rgb[3] = {200, 100, 50};
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < S; ++y)
      for (int x = 0; x < S; ++x) {
        const bool inside = y >= 12 && y < 20;
        const float want = normalised(inside ? rgb[c] : cfg.pad_rgb[c], cfg, c);
        ASSERT_NEAR(img[(c * S + y) * S + x], want, 1e-5f) << c << " " << y << " " << x;
      }
}

TEST(Preprocessor, HonoursStrideAndInterpolates) {
  const auto cfg = small_config();
  Preprocessor pre(cfg);
  // 2 × 2 frame upscaled to 32 × 32, rows padded to 16 bytes: a horizontal ramp 0 → 255 in channel 0.
  std::vector<uint8_t> px(2 * 16, 77);
  px[0] = 0, px[3] = 255, px[16] = 0, px[19] = 255;
  const float* img = pre.process(px.data(), 2, 2, 16);
  const int S = cfg.image_size;
  // Half-pixel centres: src = (x + 0.5)/16 - 0.5, clamped to [0, 1].
  for (int x = 0; x < S; ++x) {
    const double src = std::min(1.0, std::max(0.0, (x + 0.5) / 16.0 - 0.5));
    EXPECT_NEAR(img[5 * S + x], normalised(0, cfg, 0) + src * 255 / 255.0 / cfg.std[0], 1e-5) << x;
  }
}

TEST(Preprocessor, ExtremeSizesDoNotGrowMemory) {
  const auto cfg = small_config();
  Preprocessor pre(cfg);
  const size_t bytes = pre.bytes_reserved();
  const float* buf = pre.image();
  EXPECT_LT(bytes, size_t{64} * 1024);  // depends on S only
  std::vector<uint8_t> one = {1, 2, 3};
  pre.process(one.data(), 1, 1, 3);
  const int S = cfg.image_size;
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(pre.image()[c * S * S + 17 * S + 3], normalised(one[c], cfg, c), 1e-5f);
  std::vector<uint8_t> wide(static_cast<size_t>(7680) * 32 * 3, 9);
  pre.process(wide.data(), 7680, 32, 7680 * 3);
  EXPECT_EQ(pre.last_geometry().scaled_h, 1);
  std::vector<uint8_t> tall(static_cast<size_t>(32) * 4320 * 3, 9);
  pre.process(tall.data(), 32, 4320, 32 * 3);
  EXPECT_EQ(pre.last_geometry().scaled_w, 1);
  EXPECT_EQ(pre.bytes_reserved(), bytes);
  EXPECT_EQ(pre.image(), buf);
  for (int i = 0; i < 3 * S * S; ++i) ASSERT_TRUE(std::isfinite(pre.image()[i]));
}

}  // namespace
}  // namespace yoco::vision
