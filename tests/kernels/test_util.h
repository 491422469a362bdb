// Shared helpers for the kernel tests: seeded random inputs, NaN poisoning, tolerance checks.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace yoco::kernels::test {

constexpr float kEps = std::numeric_limits<float>::epsilon();  // 2^-23
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

inline std::vector<float> randn(size_t n, uint64_t seed, float scale = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

inline std::vector<float> uniform(size_t n, uint64_t seed, float lo, float hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

inline std::vector<float> poisoned(size_t n) {
  return std::vector<float>(n, kNaN);
}

// Checks |got[i] - want[i]| <= tol[i] for every i, reporting the worst offender.
inline ::testing::AssertionResult all_within(const std::vector<float>& got, const std::vector<double>& want,
                                             const std::vector<double>& tol) {
  if (got.size() != want.size() || tol.size() != want.size())
    return ::testing::AssertionFailure() << "size mismatch";
  size_t worst = 0, n_bad = 0;
  double worst_ratio = 0.0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(static_cast<double>(got[i]) - want[i]);
    const double inf = std::numeric_limits<double>::infinity();
    double ratio = 0.0;  // error / tolerance; a zero tolerance demands an exact match
    if (std::isnan(got[i]) || std::isnan(want[i])) {
      ratio = inf;
    } else if (tol[i] > 0) {
      ratio = err / tol[i];
    } else {
      ratio = err == 0 ? 0.0 : inf;
    }
    if (!(ratio <= 1.0)) ++n_bad;
    if (!(ratio <= worst_ratio)) {
      worst_ratio = ratio;
      worst = i;
    }
  }
  if (n_bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << n_bad << " of " << got.size() << " outside tolerance; worst at " << worst << ": got "
         << got[worst] << " want " << want[worst] << " tol " << tol[worst];
}

// Same with one tolerance for every element.
inline ::testing::AssertionResult all_within(const std::vector<float>& got, const std::vector<double>& want,
                                             double tol) {
  return all_within(got, want, std::vector<double>(want.size(), tol));
}

// max |a - b| / max |b| over b's n elements: an error relative to the tensor's scale (parity tests).
inline double rel_err(const float* a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    num = std::max(num, std::abs(static_cast<double>(a[i]) - b[i]));
    den = std::max(den, std::abs(static_cast<double>(b[i])));
  }
  return num / den;
}

}  // namespace yoco::kernels::test
