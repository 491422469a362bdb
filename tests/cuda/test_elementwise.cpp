// Elementwise ops, RMSNorm, embedding, dtype conversion and RoPE against the CPU backend, at odd sizes with
// strided, NaN-poisoned outputs. These ops are exact or a few ulp apart (see each tolerance).
#include <cstring>

#include "tests/cuda/cuda_test_util.h"

namespace yoco::kernels::cuda::test {
namespace {

TEST(CudaRmsnorm, MatchesCpuAtOddWidthsStridesAndInPlace) {
  YOCO_SKIP_WITHOUT_DEVICE();
  for (int64_t dim : {1, 7, 129, 1000, 3073}) {
    for (bool weighted : {true, false}) {
      const int64_t rows = 5, xs = dim + 3, ys = dim + 5;
      const std::vector<float> x = randn(static_cast<size_t>(rows * xs), 11 + dim, 2.0f);
      const std::vector<float> w = randn(static_cast<size_t>(dim), 12 + dim);
      std::vector<float> want(static_cast<size_t>(rows * ys), kNaN);
      kernels::rmsnorm(x.data(), xs, weighted ? w.data() : nullptr, want.data(), ys, rows, dim, 1e-5f);

      DeviceBuffer<float> dx(x), dw(w), dy(std::vector<float>(want.size(), kNaN));
      rmsnorm(ctx(), dx.data(), xs, weighted ? dw.data() : nullptr, dy.data(), ys, rows, dim, 1e-5f);
      const std::vector<float> got = download(dy);
      // The statistic is the same f32 number on both sides; the products differ by at most one rounding.
      std::vector<double> tol(want.size());
      for (size_t i = 0; i < tol.size(); ++i) tol[i] = 2 * kEps * std::fabs(want[i]);
      EXPECT_TRUE(all_within(got, to_double(want), tol)) << "dim " << dim << " weighted " << weighted;

      // In place (x == y, same stride).
      rmsnorm(ctx(), dx.data(), xs, weighted ? dw.data() : nullptr, dx.data(), xs, rows, dim, 1e-5f);
      const std::vector<float> inplace = download(dx);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t i = 0; i < dim; ++i)
          EXPECT_NEAR(inplace[r * xs + i], want[r * ys + i], 2 * kEps * std::fabs(want[r * ys + i]));
      EXPECT_EQ(padding_of(inplace, rows, dim, xs), padding_of(x, rows, dim, xs));
    }
  }
}

TEST(CudaSwiglu, MatchesCpuOnStridedRows) {
  YOCO_SKIP_WITHOUT_DEVICE();
  const int64_t rows = 3, n = 1001, stride = 2 * n + 7;
  const std::vector<float> h = randn(static_cast<size_t>(rows * stride), 21, 3.0f);
  std::vector<float> want(static_cast<size_t>(rows * n));
  for (int64_t r = 0; r < rows; ++r) kernels::swiglu(&h[r * stride], &h[r * stride + n], &want[r * n], n);
  DeviceBuffer<float> dh(h), dout(std::vector<float>(want.size(), kNaN));
  swiglu(ctx(), dh.data(), stride, dh.data() + n, stride, dout.data(), n, rows, n);
  // expf (CUDA, <= 2 ulp) vs the CPU's exp8 polynomial (~2 ulp), then a divide and a multiply.
  std::vector<double> tol(want.size());
  for (size_t i = 0; i < tol.size(); ++i) tol[i] = 8 * kEps * std::fabs(want[i]) + 1e-37;
  EXPECT_TRUE(all_within(download(dout), to_double(want), tol));
}

TEST(CudaElementwise, AddAndScale) {
  YOCO_SKIP_WITHOUT_DEVICE();
  const int64_t n = 100003;
  const std::vector<float> x = randn(n, 31), y = randn(n, 32);
  std::vector<float> want = y;
  kernels::add_inplace(want.data(), x.data(), n);
  kernels::scale_inplace(want.data(), 0.37f, n);
  DeviceBuffer<float> dx(x), dy(y);
  add_inplace(ctx(), dy.data(), dx.data(), n);
  scale_inplace(ctx(), dy.data(), 0.37f, n);
  EXPECT_EQ(download(dy), want);  // one rounding each, same order: exact
}

TEST(CudaEmbed, GathersScaledRowsInEveryTableType) {
  YOCO_SKIP_WITHOUT_DEVICE();
  const int64_t vocab = 97, dim = 131, stride = 140;
  const std::vector<int32_t> tokens = {5, 0, 96, 5, 42, -1, 97};  // the last two are out of range
  const std::vector<float> table = randn(static_cast<size_t>(vocab * dim), 41);
  const float scale = std::sqrt(static_cast<float>(dim));
  for (DType t : {DType::F32, DType::F16, DType::BF16}) {
    std::vector<uint8_t> stored(table.size() * dtype_size(t));
    kernels::convert_from_f32(table.data(), t, stored.data(), table.size());
    std::vector<float> rounded(table.size());
    kernels::convert_to_f32(t, stored.data(), rounded.data(), table.size());
    DeviceBuffer<uint8_t> dtable(stored);
    DeviceBuffer<int32_t> dtok(tokens);
    DeviceBuffer<float> dout(std::vector<float>(tokens.size() * stride, kNaN));
    embed(ctx(), t, dtable.data(), vocab, dim, dtok.data(), static_cast<int64_t>(tokens.size()), scale,
          dout.data(), stride);
    const std::vector<float> got = download(dout);
    for (size_t r = 0; r < tokens.size(); ++r) {
      const bool valid = tokens[r] >= 0 && tokens[r] < vocab;
      for (int64_t i = 0; i < dim; ++i) {
        const float want =
            valid ? scale * rounded[tokens[r] * dim + i] : 0.0f;  // Session::embed's arithmetic
        ASSERT_EQ(got[r * stride + i], want) << dtype_name(t) << " row " << r << " col " << i;
      }
      for (int64_t i = dim; i < stride; ++i) ASSERT_TRUE(std::isnan(got[r * stride + i]));
    }
  }
}

TEST(CudaDtype, ConversionsAreBitIdenticalToCpu) {
  YOCO_SKIP_WITHOUT_DEVICE();
  std::vector<float> x = randn(4099, 51, 100.0f);
  // Edge values: signed zeros, infinities, subnormal and overflowing magnitudes, halfway cases.
  const float edges[] = {0.0f,     -0.0f,    INFINITY, -INFINITY, 1e-40f,           -1e-42f,
                         65504.0f, 65520.0f, 1e6f,     3.4e38f,   1.0f + 0x1.0p-8f, 1.0f + 0x1.0p-11f,
                         6.1e-5f,  5.96e-8f, 2.98e-8f};
  x.insert(x.end(), std::begin(edges), std::end(edges));
  const int64_t n = static_cast<int64_t>(x.size());
  for (DType t : {DType::F16, DType::BF16}) {
    std::vector<uint16_t> want(x.size());
    kernels::convert_from_f32(x.data(), t, want.data(), x.size());
    DeviceBuffer<float> dx(x);
    DeviceBuffer<uint16_t> dh(x.size());
    convert_from_f32(ctx(), dx.data(), t, dh.data(), n);
    const std::vector<uint16_t> got = download(dh);
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(got[i], want[i]) << dtype_name(t) << " x = " << x[i];
    DeviceBuffer<float> back(x.size());
    convert_to_f32(ctx(), t, dh.data(), back.data(), n);
    std::vector<float> want_back(x.size());
    kernels::convert_to_f32(t, want.data(), want_back.data(), x.size());
    const std::vector<float> got_back = download(back);
    ASSERT_EQ(std::memcmp(got_back.data(), want_back.data(), x.size() * sizeof(float)), 0) << dtype_name(t);
  }
}

TEST(CudaRope, BothStylesMatchCpuAtLargePositions) {
  YOCO_SKIP_WITHOUT_DEVICE();
  for (RopeStyle style : {RopeStyle::Yoco, RopeStyle::Neox}) {
    for (int hd : {2, 64, 128, 130}) {
      const RopeTable table = RopeTable::make(style, hd, 10000.0f);
      const DeviceRope drope = DeviceRope::upload(table);
      const int n_heads = 3;
      const int64_t rows = 9, stride = n_heads * hd + 5;
      for (int64_t pos0 : {int64_t{0}, int64_t{1000}, int64_t{524283}, int64_t{1048570}}) {
        const std::vector<float> x = randn(static_cast<size_t>(rows * stride), 61 + hd + pos0);
        std::vector<float> want = x;
        kernels::rope_apply(table, want.data(), stride, rows, n_heads, pos0);
        DeviceBuffer<float> dx(x);
        rope_apply(ctx(), drope, dx.data(), stride, rows, n_heads, pos0);
        const std::vector<float> got = download(dx);
        // Same f32 angle, same double cos / sin rounded once; the rotation itself may differ by the FMA
        // contraction of x0·c − x1·s: at most ~eps·(|x0| + |x1|). A different angle at position 10⁶ would be
        // off by ~0.06 rad.
        std::vector<double> tol(want.size());
        for (size_t i = 0; i < tol.size(); ++i) tol[i] = 1e-6 * (1.0 + std::fabs(want[i]));
        EXPECT_TRUE(all_within(got, to_double(want), tol))
            << (style == RopeStyle::Yoco ? "yoco" : "neox") << " hd " << hd << " pos0 " << pos0;
        EXPECT_EQ(padding_of(got, rows, n_heads * hd, stride), padding_of(x, rows, n_heads * hd, stride));
      }
    }
  }
}

TEST(CudaArgmax, MatchesCpuWithNaNsTiesAndInfinities) {
  YOCO_SKIP_WITHOUT_DEVICE();
  std::vector<std::vector<float>> cases;
  cases.push_back(randn(100288, 71));  // YOCO-3B vocabulary
  cases.push_back(randn(7, 72));
  std::vector<float> ties(300001, 1.0f);
  ties[123457] = 2.0f;
  ties[200003] = 2.0f;  // equal maxima: the lower index wins
  cases.push_back(ties);
  std::vector<float> nans = randn(5000, 73);
  for (size_t i = 0; i < nans.size(); i += 3) nans[i] = kNaN;
  nans[4000] = INFINITY;
  cases.push_back(nans);
  cases.push_back(std::vector<float>(77, kNaN));       // all NaN: 0
  cases.push_back(std::vector<float>(33, -INFINITY));  // all -inf: the first
  cases.push_back({kNaN, -INFINITY, kNaN});
  for (const auto& x : cases) {
    DeviceBuffer<float> dx(x);
    EXPECT_EQ(argmax(ctx(), dx.data(), static_cast<int64_t>(x.size())),
              kernels::argmax(x.data(), static_cast<int64_t>(x.size())))
        << "n = " << x.size();
  }
}

TEST(CudaSampler, DrawsTheCpuSamplersTokens) {
  YOCO_SKIP_WITHOUT_DEVICE();
  const int64_t vocab = 1000;
  std::vector<SamplingParams> configs(4);
  configs[1].greedy = false, configs[1].temperature = 0.8f, configs[1].top_k = 50, configs[1].seed = 7;
  configs[2].greedy = false, configs[2].top_p = 0.9f, configs[2].seed = 8;
  configs[3].repetition_penalty = 1.3f;  // greedy with a penalty: the host path
  for (const SamplingParams& sp : configs) {
    Sampler cpu(sp);
    DeviceSampler gpu(ctx(), sp, vocab);
    std::vector<int32_t> history;
    for (int step = 0; step < 20; ++step) {
      std::vector<float> logits = randn(vocab, 81 + step, 3.0f);
      for (int32_t t : history) logits[t] += 2.0f;  // make the penalty matter
      DeviceBuffer<float> dl(logits);
      const int got = gpu.sample(dl.data(), vocab, history);
      const int want = cpu.sample(logits.data(), vocab, history);
      ASSERT_EQ(got, want) << "step " << step;
      history.push_back(want);
    }
  }
}

}  // namespace
}  // namespace yoco::kernels::cuda::test
