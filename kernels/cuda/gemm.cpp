// GEMMs through cuBLAS. Row-major products are computed as their column-major transposes: a row-major
// [M, K] matrix is a column-major [K, M] one, so C = A·Wᵀ (row-major) is Cᵀ = W·Aᵀ (column-major), i.e.
// gemm(op_W = T, op_A = N, m = N, n = M, k = K). Accumulation is always f32 (CUBLAS_COMPUTE_32F, or its TF32
// variant for f32 inputs when the context allows it).
#include <climits>

#include "kernels/cuda/ops_cuda.h"

namespace yoco::kernels::cuda {
namespace {

int to_int(int64_t v, const char* what) {
  YOCO_REQUIRE(v >= 0 && v <= INT_MAX, std::string("cuBLAS GEMM: ") + what + " out of int range");
  return static_cast<int>(v);
}

cudaDataType_t cuda_type(DType t) {
  switch (t) {
    case DType::F32:
      return CUDA_R_32F;
    case DType::F16:
      return CUDA_R_16F;
    case DType::BF16:
      return CUDA_R_16BF;
    case DType::Q8:
      break;
  }
  throw Error(std::string("cuBLAS GEMM: no ") + dtype_name(t) + " operands (f32, f16 or bf16)");
}

// Column-major C[m, n] = alpha·op(A)·op(B) + beta·C with A, B in `ab`, C in f32.
void gemm_cm(Context& ctx, cublasOperation_t op_a, cublasOperation_t op_b, int64_t m, int64_t n, int64_t k,
             float alpha, DType ab, const void* A, int64_t lda, const void* B, int64_t ldb, float beta,
             float* C, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  const cublasComputeType_t compute =
      ab == DType::F32 && ctx.options().allow_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  YOCO_CUBLAS_CHECK(cublasGemmEx(ctx.cublas(), op_a, op_b, to_int(m, "m"), to_int(n, "n"), to_int(k, "k"),
                                 &alpha, A, cuda_type(ab), to_int(lda, "lda"), B, cuda_type(ab),
                                 to_int(ldb, "ldb"), &beta, C, CUDA_R_32F, to_int(ldc, "ldc"), compute,
                                 CUBLAS_GEMM_DEFAULT));
}

}  // namespace

void matmul_wt(Context& ctx, const float* A, int64_t lda, const float* W, float* C, int64_t ldc, int64_t M,
               int64_t N, int64_t K, float beta) {
  matmul_wt(ctx, DType::F32, A, lda, W, C, ldc, M, N, K, beta);
}

void matmul_wt(Context& ctx, DType type, const void* A, int64_t lda, const void* W, float* C, int64_t ldc,
               int64_t M, int64_t N, int64_t K, float beta) {
  // Cᵀ[N, M] = W_cm(K×N)ᵀ · A_cm(K×M); W's leading dimension is K (weights are dense [out, in]).
  gemm_cm(ctx, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, 1.0f, type, W, K, A, lda, beta, C, ldc);
}

void sgemm(Context& ctx, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  // Row-major C = op(A)·op(B)  ⇔  column-major Cᵀ = op(B)ᵀ·op(A)ᵀ, and a row-major X is column-major Xᵀ, so
  // each operand keeps its own transpose flag and the operands swap places.
  gemm_cm(ctx, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, alpha,
          DType::F32, B, ldb, A, lda, beta, C, ldc);
}

}  // namespace yoco::kernels::cuda
