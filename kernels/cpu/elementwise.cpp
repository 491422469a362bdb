// Elementwise ops and normalisation. RMSNorm accumulates the sum of squares in double (cheap next to the
// GEMMs around it, and it makes the statistic exact to f32 rounding for any width).
#include <algorithm>
#include <cmath>

#include "kernels/cpu/simd.h"
#include "kernels/ops.h"
#include "kernels/thread_pool.h"

namespace yoco::kernels {
namespace {

double sum_squares(const float* x, int64_t n) {
  int64_t i = 0;
  double s = 0.0;
#if YOCO_AVX2
  __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
  for (; i + 8 <= n; i += 8) {
    const __m256d x0 = _mm256_cvtps_pd(_mm_loadu_ps(x + i));
    const __m256d x1 = _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4));
    a0 = _mm256_fmadd_pd(x0, x0, a0);
    a1 = _mm256_fmadd_pd(x1, x1, a1);
  }
  alignas(32) double t[4];
  _mm256_store_pd(t, _mm256_add_pd(a0, a1));
  s = (t[0] + t[1]) + (t[2] + t[3]);
#endif
  for (; i < n; ++i) s += static_cast<double>(x[i]) * x[i];
  return s;
}

void rmsnorm_row(const float* x, const float* w, float* y, int64_t dim, float eps) {
  const double mean = sum_squares(x, dim) / static_cast<double>(dim);
  const float r = static_cast<float>(1.0 / std::sqrt(static_cast<double>(static_cast<float>(mean) + eps)));
  if (w) {
    for (int64_t i = 0; i < dim; ++i) y[i] = (x[i] * r) * w[i];
  } else {
    for (int64_t i = 0; i < dim; ++i) y[i] = x[i] * r;
  }
}

}  // namespace

void rmsnorm(const float* x, int64_t x_stride, const float* w, float* y, int64_t y_stride, int64_t rows,
             int64_t dim, float eps) {
  if (rows <= 0 || dim <= 0) return;
  const int64_t grain = std::max<int64_t>(1, (1 << 15) / dim);
  parallel_for(rows, grain, [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) rmsnorm_row(x + r * x_stride, w, y + r * y_stride, dim, eps);
  });
}

void swiglu(const float* a, const float* b, float* out, int64_t n) {
  int64_t i = 0;
#if YOCO_AVX2
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (; i + 8 <= n; i += 8) {
    const __m256 va = _mm256_loadu_ps(a + i);
    const __m256 vb = _mm256_loadu_ps(b + i);
    const __m256 e = cpu::exp8(_mm256_xor_ps(va, sign));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_div_ps(va, _mm256_add_ps(one, e)), vb));
  }
#endif
  for (; i < n; ++i) out[i] = (a[i] / (1.0f + std::exp(-a[i]))) * b[i];
}

void add_inplace(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void scale_inplace(float* x, float s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

float log_sigmoid(float x) {
  // Never exponentiates a positive number: -log(1 + e^-x) for x >= 0, x - log(1 + e^x) below.
  return x >= 0.0f ? -std::log1p(std::exp(-x)) : x - std::log1p(std::exp(x));
}

void softmax_inplace(float* x, int64_t n) {
  if (n <= 0) return;
  const float m = cpu::max_of(x, n);
  // Sum in f32 lanes per 1024 values (at most 128 terms per lane), the partial sums in double.
  double total = 0.0;
  for (int64_t i0 = 0; i0 < n; i0 += 1024)
    total += cpu::exp_shift_sum(x + i0, m, std::min<int64_t>(1024, n - i0));
  cpu::scale(x, static_cast<float>(1.0 / total), n);
}

void log_softmax(const float* x, float* y, int64_t n) {
  if (n <= 0) return;
  const float m = cpu::max_of(x, n);
  // Sum of exp(x - m) in f32 lanes per 1024 values, the partial sums in double.
  double total = 0.0;
  float tmp[1024];
  for (int64_t i0 = 0; i0 < n; i0 += 1024) {
    const int64_t len = std::min<int64_t>(1024, n - i0);
    std::copy(x + i0, x + i0 + len, tmp);
    total += cpu::exp_shift_sum(tmp, m, len);
  }
  const float shift = m + static_cast<float>(std::log(total));
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] - shift;
}

}  // namespace yoco::kernels
