// cuBLAS GEMMs against the CPU backend. Tolerances: the classical bound for a K-term dot product in any
// summation order, |err| <= K·u·Σ|a·w| (u = 2⁻²⁴, doubled here for tensor-core accumulators that truncate),
// plus the beta term's rounding.
#include "tests/cuda/cuda_test_util.h"

namespace yoco::kernels::cuda::test {
namespace {

// Σ_k |A[m,k]·W[n,k]| for C = A·Wᵀ (row strides lda and K).
std::vector<double> abs_products(const std::vector<float>& A, int64_t lda, const std::vector<float>& W,
                                 int64_t M, int64_t N, int64_t K) {
  std::vector<double> s(static_cast<size_t>(M * N), 0.0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k)
        s[m * N + n] += std::fabs(static_cast<double>(A[m * lda + k]) * W[n * K + k]);
  return s;
}

std::vector<float> rounded_to(DType t, const std::vector<float>& x, std::vector<uint16_t>* stored) {
  stored->resize(x.size());
  kernels::convert_from_f32(x.data(), t, stored->data(), x.size());
  std::vector<float> r(x.size());
  kernels::convert_to_f32(t, stored->data(), r.data(), x.size());
  return r;
}

struct Shape {
  int64_t M, N, K;
};
const Shape kShapes[] = {{1, 53, 67}, {37, 53, 67}, {5, 129, 300}, {64, 1, 33}, {130, 97, 1}};

TEST(CudaGemm, MatmulWtF32MatchesCpuWithStridesAndBeta) {
  YOCO_SKIP_WITHOUT_DEVICE();
  for (const Shape& s : kShapes) {
    for (float beta : {0.0f, 1.0f}) {
      const int64_t lda = s.K + 3, ldc = s.N + 2;
      const std::vector<float> A = randn(static_cast<size_t>(s.M * lda), 101 + s.M);
      const std::vector<float> W = randn(static_cast<size_t>(s.N * s.K), 102 + s.N);
      const std::vector<float> C0 = randn(static_cast<size_t>(s.M * ldc), 103);
      std::vector<float> want = C0;
      kernels::matmul_wt(A.data(), lda, W.data(), want.data(), ldc, s.M, s.N, s.K, beta);
      DeviceBuffer<float> dA(A), dW(W), dC(beta == 0.0f ? std::vector<float>(C0.size(), kNaN) : C0);
      matmul_wt(ctx(), dA.data(), lda, dW.data(), dC.data(), ldc, s.M, s.N, s.K, beta);
      std::vector<float> got = download(dC);
      const std::vector<double> ap = abs_products(A, lda, W, s.M, s.N, s.K);
      std::vector<float> g, w;
      std::vector<double> tol;
      for (int64_t m = 0; m < s.M; ++m)
        for (int64_t n = 0; n < s.N; ++n) {
          g.push_back(got[m * ldc + n]);
          w.push_back(want[m * ldc + n]);
          tol.push_back(2.0 * (s.K + 1) * kEps * (ap[m * s.N + n] + std::fabs(beta * C0[m * ldc + n])) +
                        1e-30);
        }
      EXPECT_TRUE(all_within(g, to_double(w), tol)) << s.M << "x" << s.N << "x" << s.K << " beta " << beta;
      if (beta == 0.0f) {
        for (float x : padding_of(got, s.M, s.N, ldc)) EXPECT_TRUE(std::isnan(x)) << "padding written";
      }
    }
  }
}

// Half-precision inputs, f32 accumulation: against the CPU on the same rounded inputs (f32-tight), and
// against the CPU on the original f32 inputs (the error a bf16 / f16 model actually sees: each input rounded
// once, relative 2⁻⁹ for bf16 and 2⁻¹² for f16, so |err| <= 2·2⁻⁹·Σ|a·w| for bf16).
TEST(CudaGemm, MatmulWtHalfTypesAccumulateInF32) {
  YOCO_SKIP_WITHOUT_DEVICE();
  for (DType t : {DType::BF16, DType::F16}) {
    for (const Shape& s : kShapes) {
      const int64_t lda = s.K + 3, ldc = s.N;
      const std::vector<float> A = randn(static_cast<size_t>(s.M * lda), 111 + s.M);
      const std::vector<float> W = randn(static_cast<size_t>(s.N * s.K), 112 + s.N);
      std::vector<uint16_t> Ah, Wh;
      const std::vector<float> Ar = rounded_to(t, A, &Ah), Wr = rounded_to(t, W, &Wh);
      std::vector<float> want_r(static_cast<size_t>(s.M * ldc)), want_f(want_r.size());
      kernels::matmul_wt(Ar.data(), lda, Wr.data(), want_r.data(), ldc, s.M, s.N, s.K);
      kernels::matmul_wt(A.data(), lda, W.data(), want_f.data(), ldc, s.M, s.N, s.K);
      DeviceBuffer<uint16_t> dA(Ah), dW(Wh);
      DeviceBuffer<float> dC(std::vector<float>(want_r.size(), kNaN));
      matmul_wt(ctx(), t, dA.data(), lda, dW.data(), dC.data(), ldc, s.M, s.N, s.K);
      const std::vector<float> got = download(dC);
      const std::vector<double> ap = abs_products(Ar, lda, Wr, s.M, s.N, s.K);
      const double unit = t == DType::BF16 ? 0x1.0p-9 : 0x1.0p-12;
      std::vector<double> tol_r(ap.size()), tol_f(ap.size());
      for (size_t i = 0; i < ap.size(); ++i) {
        tol_r[i] = 2.0 * (s.K + 1) * kEps * ap[i] + 1e-30;
        tol_f[i] = 2.0 * unit * ap[i] * 1.01 + tol_r[i];
      }
      EXPECT_TRUE(all_within(got, to_double(want_r), tol_r))
          << dtype_name(t) << " " << s.M << "x" << s.N << "x" << s.K;
      EXPECT_TRUE(all_within(got, to_double(want_f), tol_f))
          << dtype_name(t) << " " << s.M << "x" << s.N << "x" << s.K;
    }
  }
}

TEST(CudaGemm, SgemmAllTransposes) {
  YOCO_SKIP_WITHOUT_DEVICE();
  const int64_t M = 23, N = 41, K = 59;
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      const int64_t lda = (ta ? M : K) + 2, ldb = (tb ? K : N) + 1, ldc = N + 4;
      const std::vector<float> A = randn(static_cast<size_t>((ta ? K : M) * lda), 121);
      const std::vector<float> B = randn(static_cast<size_t>((tb ? N : K) * ldb), 122);
      const std::vector<float> C0 = randn(static_cast<size_t>(M * ldc), 123);
      std::vector<float> want = C0;
      kernels::sgemm(ta, tb, M, N, K, 0.7f, A.data(), lda, B.data(), ldb, 0.3f, want.data(), ldc);
      DeviceBuffer<float> dA(A), dB(B), dC(C0);
      sgemm(ctx(), ta, tb, M, N, K, 0.7f, dA.data(), lda, dB.data(), ldb, 0.3f, dC.data(), ldc);
      const std::vector<float> got = download(dC);
      std::vector<double> tol(want.size());
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < ldc; ++n) {
          double s = 0.0;
          if (n < N)
            for (int64_t k = 0; k < K; ++k)
              s += std::fabs(static_cast<double>(ta ? A[k * lda + m] : A[m * lda + k]) *
                             (tb ? B[n * ldb + k] : B[k * ldb + n]));
          tol[m * ldc + n] =
              n < N ? 2.0 * (K + 2) * kEps * (0.7 * s + 0.3 * std::fabs(C0[m * ldc + n])) : 0.0;
        }
      EXPECT_TRUE(all_within(got, to_double(want), tol)) << "ta " << ta << " tb " << tb;
    }
  }
}

}  // namespace
}  // namespace yoco::kernels::cuda::test
