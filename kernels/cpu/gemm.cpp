// GEMM on OpenBLAS. OpenBLAS itself is kept single-threaded and large products are split over the kernel
// pool instead: OpenBLAS's own workers spin after every call and would fight the pool's workers for the
// same cores (measured numbers in kernels/README.md). Splitting is over N (columns of C: each thread reads
// its own slice of the weight, which is what a decode GEMV needs) or over M when N is too narrow.
#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "kernels/cpu/simd.h"
#include "kernels/ops.h"
#include "kernels/thread_pool.h"

namespace yoco::kernels {
namespace {

void init_openblas() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}
// Also at load time, so OpenBLAS's own worker threads are parked before any other code calls into it.
const bool g_openblas_initialised = (init_openblas(), true);

// Products below this many multiply-adds run on the calling thread: a pool hand-off costs a few
// microseconds, about what 200K FMAs take on one core.
constexpr int64_t kMinParallelFmas = 1 << 18;

void scale_rows(float* C, int64_t ldc, int64_t M, int64_t N, float beta) {
  for (int64_t i = 0; i < M; ++i) {
    float* c = C + i * ldc;
    if (beta == 0.0f) {
      std::memset(c, 0, static_cast<size_t>(N) * sizeof(float));
    } else {
      for (int64_t j = 0; j < N; ++j) c[j] *= beta;
    }
  }
}

// y[N] = W[N,K] · x + beta·y, one thread.
void gemv_serial(const float* W, const float* x, float* y, int64_t N, int64_t K, float beta) {
  // beta == 0 must not read y (it may hold NaN); OpenBLAS's scal by 0 is not guaranteed to overwrite.
  if (beta == 0.0f) std::memset(y, 0, static_cast<size_t>(N) * sizeof(float));
  cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<blasint>(N), static_cast<blasint>(K), 1.0f, W,
              static_cast<blasint>(K), x, 1, beta == 0.0f ? 0.0f : beta, y, 1);
}

// Small-M products (a handful of tokens through a weight: question prefill, short batches). OpenBLAS packs
// the whole weight on every call, which for M < ~32 costs several times the product itself; here each
// weight row is read once per group of 8 rows of A, from L2 (weights are walked in N-chunks that fit it),
// while the A rows stay in L1 and the R dot products accumulate in registers.
constexpr int64_t kSmallM = 12;

template <int R>
void small_m_rows(const float* A, int64_t lda, const float* W, int64_t K, int64_t n0, int64_t n1, float* C,
                  int64_t ldc, float beta) {
  for (int64_t n = n0; n < n1; ++n) {
    const float* w = W + n * K;
    float acc_s[R];
    int64_t k = 0;
#if YOCO_AVX2
    __m256 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
    if constexpr (R < 4) {
      // Short rows: a second accumulator set keeps enough FMAs in flight.
      __m256 acc2[R];
      for (int r = 0; r < R; ++r) acc2[r] = _mm256_setzero_ps();
      for (; k + 16 <= K; k += 16) {
        const __m256 w0 = _mm256_loadu_ps(w + k), w1 = _mm256_loadu_ps(w + k + 8);
        for (int r = 0; r < R; ++r) {
          acc[r] = _mm256_fmadd_ps(_mm256_loadu_ps(A + r * lda + k), w0, acc[r]);
          acc2[r] = _mm256_fmadd_ps(_mm256_loadu_ps(A + r * lda + k + 8), w1, acc2[r]);
        }
      }
      for (int r = 0; r < R; ++r) acc[r] = _mm256_add_ps(acc[r], acc2[r]);
    }
    for (; k + 8 <= K; k += 8) {
      const __m256 w0 = _mm256_loadu_ps(w + k);
      for (int r = 0; r < R; ++r) acc[r] = _mm256_fmadd_ps(_mm256_loadu_ps(A + r * lda + k), w0, acc[r]);
    }
    for (int r = 0; r < R; ++r) acc_s[r] = cpu::hsum8(acc[r]);
#else
    for (int r = 0; r < R; ++r) acc_s[r] = 0.0f;
#endif
    for (; k < K; ++k)
      for (int r = 0; r < R; ++r) acc_s[r] += A[r * lda + k] * w[k];
    for (int r = 0; r < R; ++r) {
      float* c = C + r * ldc + n;
      *c = beta == 0.0f ? acc_s[r] : acc_s[r] + beta * *c;
    }
  }
}

void small_m_group(int64_t R, const float* A, int64_t lda, const float* W, int64_t K, int64_t n0, int64_t n1,
                   float* C, int64_t ldc, float beta) {
  switch (R) {
    case 1:
      return small_m_rows<1>(A, lda, W, K, n0, n1, C, ldc, beta);
    case 2:
      return small_m_rows<2>(A, lda, W, K, n0, n1, C, ldc, beta);
    case 3:
      return small_m_rows<3>(A, lda, W, K, n0, n1, C, ldc, beta);
    case 4:
      return small_m_rows<4>(A, lda, W, K, n0, n1, C, ldc, beta);
    case 5:
      return small_m_rows<5>(A, lda, W, K, n0, n1, C, ldc, beta);
    case 6:
      return small_m_rows<6>(A, lda, W, K, n0, n1, C, ldc, beta);
    case 7:
      return small_m_rows<7>(A, lda, W, K, n0, n1, C, ldc, beta);
    case 8:
      return small_m_rows<8>(A, lda, W, K, n0, n1, C, ldc, beta);
  }
}

// C[M, n0:n1] for M <= kSmallM, one thread.
void small_m_gemm(const float* A, int64_t lda, const float* W, float* C, int64_t ldc, int64_t M, int64_t n0,
                  int64_t n1, int64_t K, float beta) {
  const int64_t chunk = std::max<int64_t>(8, (256 * 1024 / 4) / std::max<int64_t>(K, 1));  // 256 KiB of W
  for (int64_t c0 = n0; c0 < n1; c0 += chunk) {
    const int64_t c1 = std::min(n1, c0 + chunk);
    for (int64_t m0 = 0; m0 < M; m0 += 8) {
      small_m_group(std::min<int64_t>(8, M - m0), A + m0 * lda, lda, W, K, c0, c1, C + m0 * ldc, ldc, beta);
    }
  }
}

}  // namespace

namespace cpu {

void sgemm_serial(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                  int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.0f) {
    scale_rows(C, ldc, M, N, beta);
    return;
  }
  init_openblas();
  // BLAS requires leading dimensions >= the stored row length even for a single row.
  lda = std::max<int64_t>(lda, trans_a ? M : K);
  ldb = std::max<int64_t>(ldb, trans_b ? K : N);
  ldc = std::max<int64_t>(ldc, N);
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(M), static_cast<blasint>(N), static_cast<blasint>(K), alpha, A,
              static_cast<blasint>(lda), B, static_cast<blasint>(ldb), beta, C, static_cast<blasint>(ldc));
}

}  // namespace cpu

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  const int threads = num_threads();
  if (threads <= 1 || K <= 0 || M * N * K < kMinParallelFmas) {
    cpu::sgemm_serial(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  constexpr int64_t kBlock = 64;  // split on multiples of the BLAS micro-panel widths
  const int64_t n_blocks = (N + kBlock - 1) / kBlock;
  if (n_blocks >= threads || M < kBlock * threads) {
    parallel_for(n_blocks, 1, [&](int64_t b0, int64_t b1, int) {
      const int64_t n0 = b0 * kBlock, n1 = std::min(N, b1 * kBlock);
      const float* Bp = trans_b ? B + n0 * ldb : B + n0;
      cpu::sgemm_serial(trans_a, trans_b, M, n1 - n0, K, alpha, A, lda, Bp, ldb, beta, C + n0, ldc);
    });
  } else {
    const int64_t m_blocks = (M + kBlock - 1) / kBlock;
    parallel_for(m_blocks, 1, [&](int64_t b0, int64_t b1, int) {
      const int64_t m0 = b0 * kBlock, m1 = std::min(M, b1 * kBlock);
      const float* Ap = trans_a ? A + m0 : A + m0 * lda;
      cpu::sgemm_serial(trans_a, trans_b, m1 - m0, N, K, alpha, Ap, lda, B, ldb, beta, C + m0 * ldc, ldc);
    });
  }
}

void matmul_wt(const float* A, int64_t lda, const float* W, float* C, int64_t ldc, int64_t M, int64_t N,
               int64_t K, float beta) {
  if (M <= 0 || N <= 0) return;
  if (M == 1 && K > 0) {
    init_openblas();
    // Decode GEMV: memory-bound on W, so each thread streams its own rows of W.
    const int64_t grain = std::max<int64_t>(16, kMinParallelFmas / K);
    parallel_for(N, grain,
                 [&](int64_t n0, int64_t n1, int) { gemv_serial(W + n0 * K, A, C + n0, n1 - n0, K, beta); });
    return;
  }
  if (M <= kSmallM && K > 0) {
    const int64_t grain = std::max<int64_t>(16, kMinParallelFmas / (M * K));
    parallel_for(N, grain,
                 [&](int64_t n0, int64_t n1, int) { small_m_gemm(A, lda, W, C, ldc, M, n0, n1, K, beta); });
    return;
  }
  sgemm(false, true, M, N, K, 1.0f, A, lda, W, K, beta, C, ldc);
}

}  // namespace yoco::kernels
