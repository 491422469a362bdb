// DeviceVisionEncoder (vision/device_encoder.h) against the CPU VisionEncoder on the shipped models: the test
// encoder (tests/data/vision, 48 px, pooled to 4 tokens from a 6 × 6 grid: overlapping cells) and the bundled demo
// model, batches of several frames and one frame, plus the device vision ops on their own. f32 throughout:
// agreement to f32 rounding (1e-4 relative to the output's scale). Skips without a device.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "kernels/error.h"
#include "llm/model.h"
#include "tests/cuda/cuda_test_util.h"
#include "vision/device_encoder.h"
#include "vision/encoder.h"

namespace yoco::vision {
namespace {

using kernels::cuda::test::ctx;
using kernels::test::rel_err;

std::vector<float> random_images(const VisionConfig& c, int frames, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(frames) * 3 * c.image_size * c.image_size);
  for (auto& x : v) x = u(rng);
  return v;
}

void check_model(const std::string& dir) {
  SCOPED_TRACE(dir);
  const auto model = llm::Model::load(dir);
  const VisionEncoder cpu(*model);
  const VisionConfig& c = cpu.config();
  DeviceVisionEncoder gpu(cpu, ctx(), 5);
  EXPECT_GT(gpu.device_bytes(), 0u);
  // One scratch for all batches: a motion model's previous image carries over from batch to batch on both.
  VisionScratch s = cpu.make_scratch();
  for (int frames : {5, 1, 3}) {
    SCOPED_TRACE(frames);
    const auto images = random_images(c, frames, 17u + static_cast<uint32_t>(frames));
    const size_t per_frame = static_cast<size_t>(c.tokens_per_frame) * c.lm_dim;
    const size_t image = static_cast<size_t>(3) * c.image_size * c.image_size;
    std::vector<float> want(frames * per_frame), got(frames * per_frame);
    for (int f = 0; f < frames; ++f) cpu.encode_image(images.data() + f * image, want.data() + f * per_frame, s);
    gpu.encode_images(images.data(), frames, got.data());
    EXPECT_LT(rel_err(got.data(), want), 1e-4);
  }
  const auto one = random_images(c, 1, 3);
  EXPECT_THROW(gpu.encode_images(one.data(), 6), Error);
  EXPECT_THROW(gpu.encode_images(one.data(), 0), Error);
  EXPECT_THROW(gpu.encode_images(nullptr, 1), Error);
}

TEST(CudaVision, EncoderMatchesCpuOnTestModel) {
  YOCO_SKIP_WITHOUT_DEVICE();
  check_model(std::string(YOCO_TEST_DATA) + "/vision");
}

TEST(CudaVision, EncoderMatchesCpuOnDemoModel) {
  YOCO_SKIP_WITHOUT_DEVICE();
  check_model(std::string(YOCO_TEST_DATA) + "/../../assets/models/demo");
}

TEST(CudaVision, PoolAndGeluMatchTheirDefinitions) {
  YOCO_SKIP_WITHOUT_DEVICE();
  // 2 frames of a 5 × 5 grid pooled to 2 × 2 (overlapping cells: rows 0..2 and 2..4), width 3.
  const int F = 2, g = 5, t = 2, W = 3;
  std::vector<float> x(F * g * g * W);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 17) - 8.0f;
  kernels::cuda::DeviceBuffer<float> dx(x), dout(F * t * t * W);
  kernels::cuda::adaptive_avg_pool(ctx(), dx.data(), F, g, t, W, dout.data());
  const auto got = kernels::cuda::test::download(dout);
  for (int f = 0; f < F; ++f)
    for (int ty = 0; ty < t; ++ty)
      for (int tx = 0; tx < t; ++tx)
        for (int c = 0; c < W; ++c) {
          double sum = 0;
          for (int gy = ty * 2; gy <= ty * 2 + 2; ++gy)
            for (int gx = tx * 2; gx <= tx * 2 + 2; ++gx) sum += x[((f * g + gy) * g + gx) * W + c];
          EXPECT_NEAR(got[((f * t + ty) * t + tx) * W + c], sum / 9.0, 1e-5);
        }
  std::vector<float> v = {-3.0f, -1.0f, 0.0f, 0.5f, 2.0f};
  kernels::cuda::DeviceBuffer<float> dv(v);
  kernels::cuda::gelu_inplace(ctx(), dv.data(), static_cast<int64_t>(v.size()));
  const auto gv = kernels::cuda::test::download(dv);
  for (size_t i = 0; i < v.size(); ++i)
    EXPECT_NEAR(gv[i], 0.5 * v[i] * (1.0 + std::erf(v[i] / std::sqrt(2.0))), 1e-6);
  EXPECT_THROW(kernels::cuda::adaptive_avg_pool(ctx(), dx.data(), F, g, 6, W, dout.data()), Error);
}

}  // namespace
}  // namespace yoco::vision
