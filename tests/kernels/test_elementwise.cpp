// RMSNorm, SwiGLU, residual add, scale, log-sigmoid, softmax and log-softmax against double references.
// Tolerances: each output is a handful of f32 roundings (plus the vector exp's ~2 ulp), so a few eps
// relative to the value; where values cancel (log-softmax), relative to the operands' magnitude.
#include <algorithm>
#include <cmath>

#include "kernels/ops.h"
#include "test_util.h"

namespace yoco::kernels {
namespace {

using test::kEps;

TEST(RmsNorm, MatchesDoubleWithAndWithoutWeight) {
  for (int64_t dim : {1, 7, 40, 4099}) {
    const int64_t rows = 5, xs = dim + 3, ys = dim + 1;
    const auto x = test::randn(static_cast<size_t>(rows * xs), 10 + dim, 3.0f);
    const auto w = test::randn(static_cast<size_t>(dim), 20 + dim);
    for (bool with_w : {true, false}) {
      std::vector<float> y = test::poisoned(static_cast<size_t>(rows * ys));
      rmsnorm(x.data(), xs, with_w ? w.data() : nullptr, y.data(), ys, rows, dim, 1e-5f);
      std::vector<float> got;
      std::vector<double> want, tol;
      for (int64_t r = 0; r < rows; ++r) {
        double ss = 0.0;
        for (int64_t i = 0; i < dim; ++i) ss += static_cast<double>(x[r * xs + i]) * x[r * xs + i];
        const double inv = 1.0 / std::sqrt(ss / dim + 1e-5);
        for (int64_t i = 0; i < dim; ++i) {
          const double v = x[r * xs + i] * inv * (with_w ? w[i] : 1.0);
          want.push_back(v);
          tol.push_back(4 * kEps * std::fabs(v) + 1e-30);
          got.push_back(y[r * ys + i]);
        }
        EXPECT_TRUE(std::isnan(y[r * ys + dim])) << "padding written";
      }
      EXPECT_TRUE(test::all_within(got, want, tol)) << "dim " << dim << " weight " << with_w;
    }
  }
}

TEST(RmsNorm, InPlaceAndLargeMagnitudes) {
  const int64_t dim = 333;
  auto x = test::randn(static_cast<size_t>(dim * 2), 5, 1e15f);  // squares overflow f32 but not the statistic
  std::vector<double> want;
  for (int r = 0; r < 2; ++r) {
    double ss = 0.0;
    for (int64_t i = 0; i < dim; ++i) ss += static_cast<double>(x[r * dim + i]) * x[r * dim + i];
    for (int64_t i = 0; i < dim; ++i) want.push_back(x[r * dim + i] / std::sqrt(ss / dim + 1e-5));
  }
  rmsnorm(x.data(), dim, nullptr, x.data(), dim, 2, dim, 1e-5f);
  std::vector<double> tol;
  for (double v : want) tol.push_back(4 * kEps * std::fabs(v) + 1e-30);
  EXPECT_TRUE(test::all_within(x, want, tol));
}

TEST(SwiGlu, MatchesDoubleIncludingExtremes) {
  const int64_t n = 1003;
  auto a = test::randn(static_cast<size_t>(n), 1, 4.0f);
  const auto b = test::randn(static_cast<size_t>(n), 2);
  a[0] = -100.0f;
  a[1] = 100.0f;
  a[2] = 0.0f;
  a[3] = -87.5f;
  a[4] = 88.0f;
  std::vector<double> want, tol;
  for (int64_t i = 0; i < n; ++i) {
    const double v = a[i] / (1.0 + std::exp(-static_cast<double>(a[i]))) * b[i];
    want.push_back(v);
    tol.push_back(6 * kEps * std::fabs(v) + 1e-37);
  }
  std::vector<float> out = test::poisoned(static_cast<size_t>(n));
  swiglu(a.data(), b.data(), out.data(), n);
  EXPECT_TRUE(test::all_within(out, want, tol));
  // out aliasing b, as the forward pass uses it.
  std::vector<float> bb = b;
  swiglu(a.data(), bb.data(), bb.data(), n);
  EXPECT_EQ(bb, out);
  std::vector<float> aa = a;
  swiglu(aa.data(), b.data(), aa.data(), n);
  EXPECT_EQ(aa, out);
}

TEST(Elementwise, AddAndScale) {
  const int64_t n = 37;
  auto y = test::randn(static_cast<size_t>(n), 3);
  const auto x = test::randn(static_cast<size_t>(n), 4);
  auto y0 = y;
  add_inplace(y.data(), x.data(), n);
  for (int64_t i = 0; i < n; ++i) EXPECT_EQ(y[i], y0[i] + x[i]);
  y0 = y;
  scale_inplace(y.data(), -0.37f, n);
  for (int64_t i = 0; i < n; ++i) EXPECT_EQ(y[i], y0[i] * -0.37f);
}

TEST(LogSigmoid, StableOverTheWholeRange) {
  for (double x = -120.0; x <= 120.0; x += 0.37) {
    const float xf = static_cast<float>(x);
    const double want = xf >= 0 ? -std::log1p(std::exp(-static_cast<double>(xf)))
                                : xf - std::log1p(std::exp(static_cast<double>(xf)));
    const float got = log_sigmoid(xf);
    ASSERT_TRUE(std::isfinite(got)) << x;
    ASSERT_LE(std::fabs(got - want), 4 * kEps * std::fabs(want) + 1e-44) << x;
  }
  EXPECT_EQ(log_sigmoid(-std::numeric_limits<float>::infinity()), -std::numeric_limits<float>::infinity());
  EXPECT_EQ(log_sigmoid(std::numeric_limits<float>::infinity()), 0.0f);
}

TEST(Softmax, MatchesDouble) {
  for (int64_t n : {1, 7, 1000, 100003}) {
    for (float offset : {0.0f, 1000.0f, -1000.0f}) {
      auto x = test::randn(static_cast<size_t>(n), 9 + n, 5.0f);
      for (float& v : x) v += offset;
      double mx = -1e300;
      for (float v : x) mx = std::max(mx, static_cast<double>(v));
      double z = 0.0;
      for (float v : x) z += std::exp(v - mx);
      std::vector<double> want_p, tol_p, want_l, tol_l;
      for (float v : x) {
        want_p.push_back(std::exp(v - mx) / z);
        // exp of an argument carrying one rounding of |x - max|, a normalisation, and the sum's error: the
        // kernels add at most 128 positive terms per f32 lane before going to double (<= ~136 eps relative).
        tol_p.push_back((6 + std::fabs(v - mx) + 136) * kEps * want_p.back() + 1e-44);
        want_l.push_back(v - mx - std::log(z));
        tol_l.push_back(4 * kEps * (std::fabs(v) + std::fabs(mx) + std::log(z) + 1.0) + 136 * kEps);
      }
      std::vector<float> l = test::poisoned(static_cast<size_t>(n));
      log_softmax(x.data(), l.data(), n);
      EXPECT_TRUE(test::all_within(l, want_l, tol_l)) << "log_softmax n " << n << " offset " << offset;
      log_softmax(x.data(), x.data(), n);  // in place
      EXPECT_EQ(x, l);
      // softmax from the same inputs
      auto s = test::randn(static_cast<size_t>(n), 9 + n, 5.0f);
      for (float& v : s) v += offset;
      softmax_inplace(s.data(), n);
      EXPECT_TRUE(test::all_within(s, want_p, tol_p)) << "softmax n " << n << " offset " << offset;
    }
  }
}

}  // namespace
}  // namespace yoco::kernels
