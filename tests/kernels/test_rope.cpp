// RoPE tables and rotation, both styles, against double references. The angle is the f32 product
// float(pos) * inv_freq (the contract), so the reference forms that same f32 angle and rotates in double;
// each output is then two products and a sum in f32: a few eps of (|x0| + |x1|).
#include <cmath>

#include "kernels/ops.h"
#include "test_util.h"

namespace yoco::kernels {
namespace {

using test::kEps;

TEST(Rope, TablesFollowTheirFormulas) {
  for (int d : {24, 40, 128}) {
    const auto yoco = RopeTable::make(RopeStyle::Yoco, d, 10000.0f);
    const auto neox = RopeTable::make(RopeStyle::Neox, d, 500000.0f);
    ASSERT_EQ(static_cast<int>(yoco.inv_freq.size()), d / 2);
    ASSERT_EQ(static_cast<int>(neox.inv_freq.size()), d / 2);
    for (int i = 0; i < d / 2; ++i) {
      const double ey = static_cast<double>(i) / (d / 2 - 1);  // linspace(0, 1, d/2)
      const double wy = std::pow(10000.0, -ey);
      // The f32 exponent's rounding (<= eps/2) is magnified by ln(theta); pow and 1/x add ~2 ulp.
      EXPECT_NEAR(yoco.inv_freq[i], wy, (std::log(10000.0) + 4) * kEps * wy) << "d " << d << " i " << i;
      const double wn = std::pow(500000.0, -2.0 * i / d);
      EXPECT_NEAR(neox.inv_freq[i], wn, (std::log(500000.0) + 4) * kEps * wn) << "d " << d << " i " << i;
    }
    EXPECT_EQ(yoco.inv_freq[0], 1.0f);
    EXPECT_NEAR(yoco.inv_freq[d / 2 - 1], 1e-4, 1e-4 * 8 * kEps);
  }
}

void check_apply(RopeStyle style, int d, int n_heads, int64_t rows, int64_t pos0) {
  const auto rope = RopeTable::make(style, d, 10000.0f);
  const int64_t stride = static_cast<int64_t>(n_heads) * d + 5;
  auto x = test::randn(static_cast<size_t>(rows * stride), 77 + d + rows);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t e = n_heads * d; e < stride; ++e) x[r * stride + e] = test::kNaN;  // untouched padding
  const auto x0 = x;
  rope_apply(rope, x.data(), stride, rows, n_heads, pos0);

  const int half = d / 2;
  std::vector<float> got;
  std::vector<double> want, tol;
  for (int64_t r = 0; r < rows; ++r) {
    for (int h = 0; h < n_heads; ++h) {
      const float* in = x0.data() + r * stride + h * d;
      const float* out = x.data() + r * stride + h * d;
      for (int i = 0; i < half; ++i) {
        const float angle = static_cast<float>(pos0 + r) * rope.inv_freq[i];
        const double c = std::cos(static_cast<double>(angle)), s = std::sin(static_cast<double>(angle));
        const int i0 = style == RopeStyle::Yoco ? 2 * i : i;
        const int i1 = style == RopeStyle::Yoco ? 2 * i + 1 : i + half;
        const double a = in[i0], b = in[i1];
        want.push_back(a * c - b * s);
        want.push_back(a * s + b * c);
        got.push_back(out[i0]);
        got.push_back(out[i1]);
        const double t = 4 * kEps * (std::fabs(a) + std::fabs(b));
        tol.push_back(t);
        tol.push_back(t);
      }
    }
    for (int64_t e = n_heads * d; e < stride; ++e) EXPECT_TRUE(std::isnan(x[r * stride + e]));
  }
  EXPECT_TRUE(test::all_within(got, want, tol)) << "style " << static_cast<int>(style) << " d " << d;
}

TEST(Rope, ApplyYocoInterleaved) {
  check_apply(RopeStyle::Yoco, 24, 3, 7, 0);
  check_apply(RopeStyle::Yoco, 40, 2, 129, 100000);
}

TEST(Rope, ApplyNeoxHalves) {
  check_apply(RopeStyle::Neox, 24, 3, 7, 5);
  check_apply(RopeStyle::Neox, 40, 1, 300, 65000);
}

TEST(Rope, PositionZeroIsIdentityAndRelativePositionsMatter) {
  for (RopeStyle style : {RopeStyle::Yoco, RopeStyle::Neox}) {
    const int d = 40;
    const auto rope = RopeTable::make(style, d, 10000.0f);
    auto q = test::randn(static_cast<size_t>(d), 1), k = test::randn(static_cast<size_t>(d), 2);
    auto q0 = q;
    rope_apply(rope, q0.data(), d, 1, 1, 0);
    EXPECT_EQ(q0, q);
    // <R(p) q, R(p') k> depends only on p - p'.
    auto dot_at = [&](int64_t pq, int64_t pk) {
      auto a = q, b = k;
      rope_apply(rope, a.data(), d, 1, 1, pq);
      rope_apply(rope, b.data(), d, 1, 1, pk);
      double s = 0.0;
      for (int i = 0; i < d; ++i) s += static_cast<double>(a[i]) * b[i];
      return s;
    };
    EXPECT_NEAR(dot_at(10, 3), dot_at(107, 100), 1e-4);
  }
}

}  // namespace
}  // namespace yoco::kernels
