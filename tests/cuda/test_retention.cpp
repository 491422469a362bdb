// Device gated retention against the CPU backend (retention_recurrent / retention_chunkwise): outputs and
// the carried state, over T = 1..300 with odd chunk sizes, heads of 32..128 (and 160, the recurrent
// fallback), strided q / k / v and outputs, decays down to −8 per token.
//
// Tolerance: o_t and S_t are sums of up to T products of O(1) terms weighted by decays <= 1, computed in a
// different order on each side; relative error ~ sqrt(terms)·u. 2e-5 of the largest magnitude is ~100× that
// while a wrong decay or a dropped chunk changes values by O(1).
#include "tests/cuda/cuda_test_util.h"

namespace yoco::kernels::cuda::test {
namespace {

struct RetCase {
  int64_t T;
  int H, d;
  int chunk;
  float min_decay;
};

void run_case(const RetCase& c, bool chunkwise) {
  SCOPED_TRACE(::testing::Message() << (chunkwise ? "chunkwise" : "recurrent") << " T " << c.T << " H " << c.H
                                    << " d " << c.d << " chunk " << c.chunk << " decay >= " << c.min_decay);
  const int64_t width = static_cast<int64_t>(c.H) * c.d;
  const int64_t stride = 3 * width + 5, out_stride = width + 3;
  const uint64_t seed = 7 * c.T + c.d;
  std::vector<float> qkv = randn(static_cast<size_t>(c.T * stride), seed);
  const float ks = 1.0f / std::sqrt(static_cast<float>(c.d));
  for (int64_t t = 0; t < c.T; ++t)
    for (int64_t i = 0; i < width; ++i) qkv[t * stride + width + i] *= ks;
  const std::vector<float> decay = uniform(static_cast<size_t>(c.T * c.H), seed + 1, c.min_decay, 0.0f);
  const std::vector<float> state0 = randn(static_cast<size_t>(c.H) * c.d * c.d, seed + 2, 0.3f);

  std::vector<float> want_o(static_cast<size_t>(c.T * out_stride), kNaN), want_s = state0;
  const float* q = qkv.data();
  if (chunkwise)
    kernels::retention_chunkwise(q, q + width, q + 2 * width, stride, decay.data(), c.T, c.H, c.d,
                                 want_s.data(), want_o.data(), out_stride, c.chunk);
  else
    kernels::retention_recurrent(q, q + width, q + 2 * width, stride, decay.data(), c.T, c.H, c.d,
                                 want_s.data(), want_o.data(), out_stride);

  DeviceBuffer<float> dqkv(qkv), ddecay(decay), dstate(state0), dout(std::vector<float>(want_o.size(), kNaN));
  const float* dq = dqkv.data();
  if (chunkwise)
    retention_chunkwise(ctx(), dq, dq + width, dq + 2 * width, stride, ddecay.data(), c.T, c.H, c.d,
                        dstate.data(), dout.data(), out_stride, c.chunk);
  else
    retention_recurrent(ctx(), dq, dq + width, dq + 2 * width, stride, ddecay.data(), c.T, c.H, c.d,
                        dstate.data(), dout.data(), out_stride);
  const std::vector<float> got_o = download(dout), got_s = download(dstate);

  std::vector<float> g, w;
  for (int64_t t = 0; t < c.T; ++t) {
    for (int64_t i = 0; i < width; ++i)
      g.push_back(got_o[t * out_stride + i]), w.push_back(want_o[t * out_stride + i]);
    for (int64_t i = width; i < out_stride; ++i)
      EXPECT_TRUE(std::isnan(got_o[t * out_stride + i])) << "padding";
  }
  EXPECT_TRUE(all_within(g, to_double(w), 2e-5 * std::max(1.0, max_abs(w)))) << "outputs";
  EXPECT_TRUE(all_within(got_s, to_double(want_s), 2e-5 * std::max(1.0, max_abs(want_s)))) << "state";
}

const RetCase kCases[] = {
    {1, 3, 32, 64, -1.0f},   {7, 2, 64, 7, -0.5f},      {64, 3, 128, 64, -0.1f},
    {65, 2, 128, 64, -3.0f}, {300, 3, 128, 64, -0.05f}, {173, 4, 64, 13, -8.0f},
    {300, 2, 32, 1, -0.3f},  {129, 1, 160, 64, -0.2f},  {50, 5, 48, 100, -0.02f},
};

TEST(CudaRetention, RecurrentMatchesCpu) {
  YOCO_SKIP_WITHOUT_DEVICE();
  for (const RetCase& c : kCases) run_case(c, false);
}

TEST(CudaRetention, ChunkwiseMatchesCpuAndCarriesTheState) {
  YOCO_SKIP_WITHOUT_DEVICE();
  for (const RetCase& c : kCases) run_case(c, true);
}

// Prefill in two calls then decode token by token equals one long call: the state is carried exactly
// as the model uses it.
TEST(CudaRetention, PrefillThenDecodeEqualsOneCall) {
  YOCO_SKIP_WITHOUT_DEVICE();
  const int64_t T = 200;
  const int H = 2, d = 64;
  const int64_t width = static_cast<int64_t>(H) * d, stride = 3 * width;
  const std::vector<float> qkv = randn(static_cast<size_t>(T * stride), 901, 0.5f);
  const std::vector<float> decay = uniform(static_cast<size_t>(T * H), 902, -0.5f, 0.0f);
  std::vector<float> want_o(static_cast<size_t>(T * width)), want_s(static_cast<size_t>(H) * d * d, 0.0f);
  kernels::retention_recurrent(qkv.data(), qkv.data() + width, qkv.data() + 2 * width, stride, decay.data(),
                               T, H, d, want_s.data(), want_o.data(), width);

  DeviceBuffer<float> dqkv(qkv), ddecay(decay), dstate(want_s.size()), dout(want_o.size());
  YOCO_CUDA_CHECK(cudaMemsetAsync(dstate.data(), 0, want_s.size() * sizeof(float), ctx().stream()));
  const auto at = [&](int64_t t) { return dqkv.data() + t * stride; };
  retention_chunkwise(ctx(), at(0), at(0) + width, at(0) + 2 * width, stride, ddecay.data(), 90, H, d,
                      dstate.data(), dout.data(), width, 64);
  retention_chunkwise(ctx(), at(90), at(90) + width, at(90) + 2 * width, stride, ddecay.data() + 90 * H, 100,
                      H, d, dstate.data(), dout.data() + 90 * width, width, 64);
  for (int64_t t = 190; t < T; ++t)
    retention_recurrent(ctx(), at(t), at(t) + width, at(t) + 2 * width, stride, ddecay.data() + t * H, 1, H,
                        d, dstate.data(), dout.data() + t * width, width);
  EXPECT_TRUE(all_within(download(dout), to_double(want_o), 2e-5 * std::max(1.0, max_abs(want_o))));
  EXPECT_TRUE(all_within(download(dstate), to_double(want_s), 2e-5 * std::max(1.0, max_abs(want_s))));
}

}  // namespace
}  // namespace yoco::kernels::cuda::test
