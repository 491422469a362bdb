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

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
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
    parallel_for(N, grain, [&](int64_t n0, int64_t n1, int) {
      gemv_serial(W + n0 * K, A, C + n0, n1 - n0, K, beta);
    });
    return;
  }
  sgemm(false, true, M, N, K, 1.0f, A, lda, W, K, beta, C, ldc);
}

}  // namespace yoco::kernels
