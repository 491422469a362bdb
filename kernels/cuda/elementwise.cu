// Elementwise ops, RMSNorm and the embedding gather. All are memory-bound; one pass each.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops_cuda.h"

namespace yoco::kernels::cuda {
namespace {

using detail::kWarp;

constexpr int kNormThreads = 256;

// One block per row. The sum of squares is accumulated in double (as the CPU does), so the statistic is the
// exactly rounded f32 mean for any width, and r = 1/sqrt(f32(mean) + eps) is computed the same way.
__global__ void rmsnorm_kernel(const float* x, int64_t x_stride, const float* w, float* y, int64_t y_stride,
                               int64_t dim, float eps) {
  const int64_t r = blockIdx.x;
  const float* xr = x + r * x_stride;
  float* yr = y + r * y_stride;
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) s += static_cast<double>(xr[i]) * xr[i];
  s = detail::warp_sum(s);
  __shared__ double partial[kNormThreads / kWarp];
  __shared__ float scale;
  if (threadIdx.x % kWarp == 0) partial[threadIdx.x / kWarp] = s;
  __syncthreads();
  if (threadIdx.x == 0) {
    double total = 0.0;
    for (int i = 0; i < kNormThreads / kWarp; ++i) total += partial[i];
    const float mean = static_cast<float>(total / static_cast<double>(dim));
    scale = static_cast<float>(1.0 / sqrt(static_cast<double>(mean + eps)));
  }
  __syncthreads();
  const float rs = scale;
  // Each thread rewrites only the elements it read, after every read of the row: safe in place.
  if (w) {
    for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) yr[i] = __fmul_rn(xr[i], rs) * w[i];
  } else {
    for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) yr[i] = xr[i] * rs;
  }
}

__global__ void swiglu_kernel(const float* a, int64_t a_stride, const float* b, int64_t b_stride, float* out,
                              int64_t out_stride, int64_t rows, int64_t n) {
  const int64_t total = rows * n;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = idx / n, i = idx % n;
    const float av = a[r * a_stride + i];
    out[r * out_stride + i] = (av / (1.0f + expf(-av))) * b[r * b_stride + i];
  }
}

__global__ void add_kernel(float* y, const float* x, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    y[i] += x[i];
}

__global__ void scale_kernel(float* x, float s, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    x[i] *= s;
}

template <class T>
__global__ void embed_kernel(const T* table, int64_t vocab, int64_t dim, const int32_t* tokens, float scale,
                             float* out, int64_t out_stride) {
  const int64_t r = blockIdx.x;
  const int32_t tok = tokens[r];
  float* o = out + r * out_stride;
  const bool valid = tok >= 0 && tok < vocab;
  const T* e = table + static_cast<int64_t>(valid ? tok : 0) * dim;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) o[i] = valid ? scale * detail::to_f32(e[i]) : 0.0f;
}

}  // namespace

void rmsnorm(Context& ctx, const float* x, int64_t x_stride, const float* w, float* y, int64_t y_stride,
             int64_t rows, int64_t dim, float eps) {
  if (rows <= 0 || dim <= 0) return;
  rmsnorm_kernel<<<static_cast<unsigned>(rows), kNormThreads, 0, ctx.stream()>>>(x, x_stride, w, y, y_stride,
                                                                                 dim, eps);
  YOCO_CUDA_CHECK_LAUNCH();
}

void swiglu(Context& ctx, const float* a, int64_t a_stride, const float* b, int64_t b_stride, float* out,
            int64_t out_stride, int64_t rows, int64_t n) {
  if (rows <= 0 || n <= 0) return;
  swiglu_kernel<<<detail::grid_for(rows * n, 256), 256, 0, ctx.stream()>>>(a, a_stride, b, b_stride, out,
                                                                           out_stride, rows, n);
  YOCO_CUDA_CHECK_LAUNCH();
}

void add_inplace(Context& ctx, float* y, const float* x, int64_t n) {
  if (n <= 0) return;
  add_kernel<<<detail::grid_for(n, 256), 256, 0, ctx.stream()>>>(y, x, n);
  YOCO_CUDA_CHECK_LAUNCH();
}

void scale_inplace(Context& ctx, float* x, float s, int64_t n) {
  if (n <= 0) return;
  scale_kernel<<<detail::grid_for(n, 256), 256, 0, ctx.stream()>>>(x, s, n);
  YOCO_CUDA_CHECK_LAUNCH();
}

void embed(Context& ctx, DType table_type, const void* table, int64_t vocab, int64_t dim,
           const int32_t* tokens, int64_t n, float scale, float* out, int64_t out_stride) {
  if (n <= 0 || dim <= 0) return;
  detail::dispatch_dtype(table_type, [&](auto tag) {
    using T = decltype(tag);
    embed_kernel<T><<<static_cast<unsigned>(n), 256, 0, ctx.stream()>>>(static_cast<const T*>(table), vocab,
                                                                        dim, tokens, scale, out, out_stride);
  });
  YOCO_CUDA_CHECK_LAUNCH();
}

}  // namespace yoco::kernels::cuda
