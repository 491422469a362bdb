// matmul_wt and sgemm against a double-precision product. Tolerance per element: a dot product of length K
// in f32 has error at most ~K·eps·Σ|a_k b_k| (worst case); blocked BLAS sums have depth far below K, so
// 2·sqrt(K)·eps·Σ|a_k b_k| plus the beta term's rounding is a safe, still tight bound.
#include <cmath>

#include "kernels/ops.h"
#include "kernels/thread_pool.h"
#include "test_util.h"

namespace yoco::kernels {
namespace {

using test::kEps;

struct GemmCase {
  bool ta, tb;
  int64_t M, N, K;
  float alpha, beta;
};

// C = alpha·op(A)·op(B) + beta·C, with padded leading dimensions; returns (got, want, tol) over the M×N
// block.
void run_sgemm(const GemmCase& c, uint64_t seed, bool via_matmul_wt) {
  const int64_t a_rows = c.ta ? c.K : c.M, a_cols = c.ta ? c.M : c.K;
  const int64_t b_rows = c.tb ? c.N : c.K, b_cols = c.tb ? c.K : c.N;
  const int64_t lda = a_cols + 3, ldb = via_matmul_wt ? b_cols : b_cols + 5, ldc = c.N + 2;
  const auto A = test::randn(static_cast<size_t>(a_rows * lda), seed);
  const auto B = test::randn(static_cast<size_t>(b_rows * ldb), seed + 1);
  std::vector<float> C = c.beta == 0.0f ? test::poisoned(static_cast<size_t>(c.M * ldc))
                                        : test::randn(static_cast<size_t>(c.M * ldc), seed + 2);
  const std::vector<float> C0 = C;
  auto a_at = [&](int64_t i, int64_t k) { return c.ta ? A[k * lda + i] : A[i * lda + k]; };
  auto b_at = [&](int64_t k, int64_t j) { return c.tb ? B[j * ldb + k] : B[k * ldb + j]; };

  if (via_matmul_wt) {
    matmul_wt(A.data(), lda, B.data(), C.data(), ldc, c.M, c.N, c.K, c.beta);
  } else {
    sgemm(c.ta, c.tb, c.M, c.N, c.K, c.alpha, A.data(), lda, B.data(), ldb, c.beta, C.data(), ldc);
  }
  std::vector<float> got;
  std::vector<double> want, tol;
  for (int64_t i = 0; i < c.M; ++i) {
    for (int64_t j = 0; j < c.N; ++j) {
      double s = 0.0, abs_s = 0.0;
      for (int64_t k = 0; k < c.K; ++k) {
        const double p = static_cast<double>(a_at(i, k)) * b_at(k, j);
        s += p;
        abs_s += std::fabs(p);
      }
      const double c0 = c.beta == 0.0f ? 0.0 : static_cast<double>(c.beta) * C0[i * ldc + j];
      want.push_back(c.alpha * s + c0);
      tol.push_back(2.0 * std::sqrt(static_cast<double>(c.K) + 1) * kEps *
                        (std::fabs(c.alpha) * abs_s + std::fabs(c0)) +
                    1e-30);
      got.push_back(C[i * ldc + j]);
    }
    // Padding between rows of C is never touched.
    for (int64_t j = c.N; j < ldc; ++j) {
      if (c.beta == 0.0f) {
        EXPECT_TRUE(std::isnan(C[i * ldc + j]));
      } else {
        EXPECT_EQ(C[i * ldc + j], C0[i * ldc + j]);
      }
    }
  }
  EXPECT_TRUE(test::all_within(got, want, tol)) << "ta=" << c.ta << " tb=" << c.tb << " M=" << c.M
                                                << " N=" << c.N << " K=" << c.K << " beta=" << c.beta;
}

TEST(Gemm, MatmulWtMatchesDouble) {
  const GemmCase cases[] = {
      {false, true, 1, 37, 29, 1, 0},
      {false, true, 1, 1000, 513, 1, 0},  // decode GEMV, split over N
      {false, true, 1, 301, 77, 1, 0.5f},
      {false, true, 7, 129, 40, 1, 0},
      {false, true, 300, 257, 65, 1, 0},  // large: split over the pool
      {false, true, 300, 16, 100, 1, 0},  // narrow N, tall M: split over M
      {false, true, 64, 64, 1, 1, 1.0f},
      {false, true, 5, 3, 0, 1, 0},  // K = 0 zeroes C
      // Small M (the register-blocked path, groups of up to 8 rows), K not a multiple of 8 or 16.
      {false, true, 2, 301, 77, 1, 0},
      {false, true, 3, 100, 13, 1, 0.5f},
      {false, true, 8, 257, 64, 1, 0},
      {false, true, 9, 33, 1000, 1, 0},
      {false, true, 12, 700, 129, 1, 1.0f},
      {false, true, 13, 65, 40, 1, 0},
  };
  uint64_t seed = 100;
  for (const auto& c : cases) run_sgemm(c, seed += 10, true);
}

TEST(Gemm, SgemmAllTransposes) {
  uint64_t seed = 200;
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      run_sgemm({ta, tb, 13, 11, 9, 0.75f, 0}, seed += 10, false);
      run_sgemm({ta, tb, 1, 129, 33, 1.0f, 0.25f}, seed += 10, false);
      run_sgemm({ta, tb, 130, 200, 100, -1.5f, 0}, seed += 10, false);  // parallel path
      run_sgemm({ta, tb, 257, 24, 70, 1.0f, 1.0f}, seed += 10, false);  // parallel over M
    }
  }
}

TEST(Gemm, SingleThreadMatchesDouble) {
  // The serial paths (no pool split) meet the same bound.
  const int saved = num_threads();
  set_num_threads(1);
  run_sgemm({false, true, 67, 300, 90, 1, 0}, 300, true);
  run_sgemm({false, true, 1, 1000, 513, 1, 0}, 310, true);
  run_sgemm({true, false, 130, 200, 100, 1, 0.5f}, 320, false);
  set_num_threads(saved);
}

}  // namespace
}  // namespace yoco::kernels
