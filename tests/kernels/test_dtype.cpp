// f16 / bf16 conversions: exhaustive round trips, round-to-nearest-even against a brute-force nearest-value
// search, specials (inf, NaN, signed zero, subnormals, overflow), and bulk == scalar. The int8 K/V row
// storage: the error bound max|x|/254 per head, the row layout, zero and non-finite heads.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/error.h"
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
  EXPECT_EQ(dtype_size(DType::Q8), 1u);
  EXPECT_STREQ(dtype_name(DType::Q8), "int8");
  EXPECT_EQ(kv_row_bytes(DType::F32, 2, 32), 256u);
  EXPECT_EQ(kv_row_bytes(DType::BF16, 8, 128), 2048u);
  EXPECT_EQ(kv_row_bytes(DType::Q8, 8, 128), 8u * 132u);
  EXPECT_EQ(kv_row_bytes(DType::Q8, 3, 5), 27u);
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

// Every head of every row within max|x_head| / 254 (+ an f32 rounding of the product), the int8 values and
// scales at the documented offsets, odd geometries (scales not 4-byte aligned), strided input.
TEST(DType, Int8RowsKeepEachHeadWithinHalfAStep) {
  for (auto [n_kv, hd] : {std::pair<int64_t, int64_t>{2, 32}, {3, 5}, {1, 128}, {8, 7}}) {
    const int64_t rows = 37, row = n_kv * hd, stride = row + 3;
    std::vector<float> x = test::randn(static_cast<size_t>(rows * stride), 7 + static_cast<uint64_t>(hd));
    for (int64_t r = 0; r < rows; ++r)  // heads of very different magnitudes
      for (int64_t e = 0; e < row; ++e) x[static_cast<size_t>(r * stride + e)] *= std::ldexp(1.0f, (r % 9) - 4);
    const size_t rb = kv_row_bytes(DType::Q8, n_kv, hd);
    std::vector<uint8_t> store(rows * rb + 1, 0xAB);
    kv_rows_from_f32(x.data(), stride, DType::Q8, store.data(), rows, n_kv, hd);
    EXPECT_EQ(store.back(), 0xAB) << "wrote past the end";
    std::vector<float> back = test::poisoned(static_cast<size_t>(rows * row) + 1);
    kv_rows_to_f32(DType::Q8, store.data(), rows, n_kv, hd, back.data());
    EXPECT_TRUE(std::isnan(back.back())) << "wrote past the end";
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t h = 0; h < n_kv; ++h) {
        const float* xh = x.data() + r * stride + h * hd;
        float amax = 0.0f;
        for (int64_t i = 0; i < hd; ++i) amax = std::max(amax, std::fabs(xh[i]));
        float scale;
        std::memcpy(&scale, store.data() + r * rb + row + h * 4, 4);
        ASSERT_FLOAT_EQ(scale, amax / 127.0f);
        const auto* q = reinterpret_cast<const int8_t*>(store.data() + r * rb + h * hd);
        for (int64_t i = 0; i < hd; ++i) {
          const float got = back[static_cast<size_t>(r * row + h * hd + i)];
          ASSERT_EQ(got, static_cast<float>(q[i]) * scale);
          ASSERT_LE(std::fabs(got - xh[i]), amax / 254.0f * (1.0f + 4 * test::kEps))
              << "row " << r << " head " << h << " i " << i;
          ASSERT_GE(q[i], -127);
        }
      }
    }
  }
}

TEST(DType, Int8ZeroAndNonFiniteHeads) {
  const int64_t n_kv = 3, hd = 4;
  std::vector<float> x = {0, 0, 0, 0,  1, -2, 0.5f, 127,  1, 2, 3, 4};
  x[8] = std::numeric_limits<float>::infinity();
  std::vector<uint8_t> store(kv_row_bytes(DType::Q8, n_kv, hd));
  kv_rows_from_f32(x.data(), n_kv * hd, DType::Q8, store.data(), 1, n_kv, hd);
  std::vector<float> back(static_cast<size_t>(n_kv * hd));
  kv_rows_to_f32(DType::Q8, store.data(), 1, n_kv, hd, back.data());
  for (int i = 0; i < 4; ++i) EXPECT_EQ(back[i], 0.0f);  // all-zero head: scale 0, exact zeros
  EXPECT_EQ(back[7], 127.0f);                            // the head's maximum is exact
  EXPECT_EQ(back[4], 1.0f);
  EXPECT_EQ(back[5], -2.0f);
  EXPECT_EQ(back[6], 0.0f);                              // 0.5 ties to even (0)
  for (int i = 8; i < 12; ++i) EXPECT_TRUE(std::isnan(back[i])) << i;  // a non-finite head reads NaN
  x[8] = kNaN;
  kv_rows_from_f32(x.data(), n_kv * hd, DType::Q8, store.data(), 1, n_kv, hd);
  kv_rows_to_f32(DType::Q8, store.data(), 1, n_kv, hd, back.data());
  for (int i = 8; i < 12; ++i) EXPECT_TRUE(std::isnan(back[i])) << i;
  EXPECT_EQ(back[5], -2.0f);  // other heads unaffected
}

TEST(DType, Int8IsRowStorageOnly) {
  float x[4] = {1, 2, 3, 4};
  uint8_t d[8];
  EXPECT_THROW(convert_from_f32(x, DType::Q8, d, 4), Error);
  EXPECT_THROW(convert_to_f32(DType::Q8, d, x, 4), Error);
  // The other dtypes' rows are the plain conversions, contiguous.
  uint16_t h[4];
  kv_rows_from_f32(x, 4, DType::BF16, h, 1, 2, 2);
  float back[4];
  kv_rows_to_f32(DType::BF16, h, 1, 2, 2, back);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(back[i], x[i]);
}

}  // namespace
}  // namespace yoco::kernels
