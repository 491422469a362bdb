// f16 / bf16 conversions: exhaustive round trips, round-to-nearest-even against a brute-force nearest-value
// search, specials (inf, NaN, signed zero, subnormals, overflow), and bulk == scalar.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/ops.h"
#include "test_util.h"

namespace yoco::kernels {
namespace {

using test::kNaN;

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// The nearest value of a narrow type (given all its finite non-negative values in increasing order, with
// their codes) to |x|, ties to the even code; beyond `overflow_at` the result is infinity.
uint16_t nearest_code(double ax, const std::vector<std::pair<double, uint16_t>>& table, double overflow_at,
                      uint16_t inf_code) {
  if (ax >= overflow_at) return inf_code;
  auto it = std::lower_bound(table.begin(), table.end(), std::make_pair(ax, uint16_t{0}));
  if (it == table.end()) return table.back().second;  // above the largest finite, below the overflow point
  if (it->first == ax || it == table.begin()) return it->second;
  const auto below = *(it - 1), above = *it;
  const double d_lo = ax - below.first, d_hi = above.first - ax;
  if (d_lo < d_hi) return below.second;
  if (d_hi < d_lo) return above.second;
  return (below.second & 1) ? above.second : below.second;
}

std::vector<std::pair<double, uint16_t>> positive_table(float (*to_f32)(uint16_t), uint16_t max_finite) {
  std::vector<std::pair<double, uint16_t>> t;
  for (uint32_t c = 0; c <= max_finite; ++c)
    t.emplace_back(to_f32(static_cast<uint16_t>(c)), static_cast<uint16_t>(c));
  return t;
}

// Interesting floats: edges of both formats plus random values over the whole exponent range.
std::vector<float> probe_values() {
  std::vector<float> v = {0.0f,
                          -0.0f,
                          1.0f,
                          -1.0f,
                          65504.0f,
                          65519.996f,
                          65520.0f,
                          65536.0f,
                          1e30f,
                          std::ldexp(1.0f, -14),
                          std::ldexp(1.0f, -24),
                          std::ldexp(1.0f, -25),
                          std::ldexp(1.0f, -25) * 1.0001f,
                          std::ldexp(3.0f, -26),
                          std::ldexp(5.0f, -26),
                          std::ldexp(1.0f, -15) * 1.5f,
                          1.0f + std::ldexp(1.0f, -11),
                          1.0f + std::ldexp(3.0f, -11),
                          1.0f + std::ldexp(1.0f, -8),
                          1.0f + std::ldexp(3.0f, -8),
                          3.3895314e38f,
                          std::numeric_limits<float>::max(),
                          std::numeric_limits<float>::denorm_min(),
                          std::numeric_limits<float>::min()};
  std::mt19937_64 rng(42);
  for (int i = 0; i < 20000; ++i) {
    uint32_t u = static_cast<uint32_t>(rng());
    const float f = from_bits(u);
    if (std::isfinite(f)) v.push_back(f);
  }
  // Values near the f16 range, where rounding matters most.
  for (int i = 0; i < 20000; ++i) {
    const int e = static_cast<int>(rng() % 46) - 28;
    v.push_back(std::ldexp(static_cast<float>(rng() % (1u << 24)) / 16777216.0f + 0.5f, e) *
                ((rng() & 1) ? 1.f : -1.f));
  }
  return v;
}

TEST(DType, SizesAndNames) {
  EXPECT_EQ(dtype_size(DType::F32), 4u);
  EXPECT_EQ(dtype_size(DType::F16), 2u);
  EXPECT_EQ(dtype_size(DType::BF16), 2u);
  EXPECT_STREQ(dtype_name(DType::F32), "f32");
  EXPECT_STREQ(dtype_name(DType::F16), "f16");
  EXPECT_STREQ(dtype_name(DType::BF16), "bf16");
}

TEST(DType, F16RoundTripsEveryCode) {
  for (uint32_t c = 0; c < 65536; ++c) {
    const uint16_t h = static_cast<uint16_t>(c);
    const float f = f16_to_f32(h);
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) {
      ASSERT_TRUE(std::isnan(f)) << c;
      ASSERT_TRUE(std::isnan(f16_to_f32(f32_to_f16(f)))) << c;
      continue;
    }
    ASSERT_EQ(f32_to_f16(f), h) << c;
  }
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(f16_to_f32(0xfc00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::signbit(f16_to_f32(0x8000)));
}

TEST(DType, Bf16RoundTripsEveryCode) {
  for (uint32_t c = 0; c < 65536; ++c) {
    const uint16_t h = static_cast<uint16_t>(c);
    const float f = bf16_to_f32(h);
    if (std::isnan(f)) {
      ASSERT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(f)))) << c;
      continue;
    }
    ASSERT_EQ(f32_to_bf16(f), h) << c;
  }
}

TEST(DType, F16RoundsToNearestEven) {
  const auto table = positive_table(f16_to_f32, 0x7bff);
  // Halfway between 65504 and 65536 (the next step) rounds to the even code, i.e. to infinity.
  const double overflow_at = 65520.0;
  for (float x : probe_values()) {
    const uint16_t want =
        static_cast<uint16_t>(nearest_code(std::fabs(static_cast<double>(x)), table, overflow_at, 0x7c00) |
                              (std::signbit(x) ? 0x8000 : 0));
    ASSERT_EQ(f32_to_f16(x), want) << "x = " << x;
  }
  EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(f32_to_f16(-std::numeric_limits<float>::infinity()), 0xfc00);
  EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(kNaN))));
  EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(from_bits(0x7f800001)))));  // signalling payload in low bits
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
}

TEST(DType, Bf16RoundsToNearestEven) {
  const auto table = positive_table(bf16_to_f32, 0x7f7f);
  // Halfway between the largest finite bf16 and 2^128.
  const double overflow_at = (static_cast<double>(bf16_to_f32(0x7f7f)) + std::ldexp(1.0, 128)) / 2;
  for (float x : probe_values()) {
    const uint16_t want =
        static_cast<uint16_t>(nearest_code(std::fabs(static_cast<double>(x)), table, overflow_at, 0x7f80) |
                              (std::signbit(x) ? 0x8000 : 0));
    ASSERT_EQ(f32_to_bf16(x), want) << "x = " << x;
  }
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(kNaN))));
  EXPECT_TRUE(
      std::isnan(bf16_to_f32(f32_to_bf16(from_bits(0x7f800001)))));  // would round to inf if not special
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(from_bits(0xffffffff)))));  // would carry out of the sign
}

TEST(DType, BulkMatchesScalar) {
  std::vector<float> src = probe_values();
  src.resize(1003);  // odd, not a multiple of the vector width
  src[5] = std::numeric_limits<float>::infinity();
  src[6] = -std::numeric_limits<float>::infinity();
  src[7] = kNaN;
  for (size_t n : {size_t{1}, size_t{7}, size_t{8}, size_t{9}, size_t{1003}}) {
    for (DType t : {DType::F16, DType::BF16}) {
      std::vector<uint16_t> narrow(n + 1, 0xabcd);
      convert_from_f32(src.data(), t, narrow.data(), n);
      EXPECT_EQ(narrow[n], 0xabcd) << "wrote past the end";
      for (size_t i = 0; i < n; ++i) {
        const uint16_t want = t == DType::F16 ? f32_to_f16(src[i]) : f32_to_bf16(src[i]);
        if (std::isnan(src[i])) {
          ASSERT_TRUE(std::isnan(t == DType::F16 ? f16_to_f32(narrow[i]) : bf16_to_f32(narrow[i])));
        } else {
          ASSERT_EQ(narrow[i], want) << dtype_name(t) << " i=" << i << " x=" << src[i];
        }
      }
      std::vector<float> back = test::poisoned(n + 1);
      convert_to_f32(t, narrow.data(), back.data(), n);
      EXPECT_TRUE(std::isnan(back[n])) << "wrote past the end";
      for (size_t i = 0; i < n; ++i) {
        const float want = t == DType::F16 ? f16_to_f32(narrow[i]) : bf16_to_f32(narrow[i]);
        if (std::isnan(want)) {
          ASSERT_TRUE(std::isnan(back[i]));
        } else {
          ASSERT_EQ(bits(back[i]), bits(want)) << i;
        }
      }
    }
    std::vector<float> copy = test::poisoned(n);
    convert_to_f32(DType::F32, src.data(), copy.data(), n);
    EXPECT_EQ(std::memcmp(copy.data(), src.data(), n * 4), 0);
    convert_from_f32(src.data(), DType::F32, copy.data(), n);
    EXPECT_EQ(std::memcmp(copy.data(), src.data(), n * 4), 0);
  }
}

}  // namespace
}  // namespace yoco::kernels
