// Small ops the device forward pass (llm/device_session.cpp) needs between the big ones: the gated-retention
// log-decays, a strided row scale, and the append of K/V rows into a contiguous run of cache pages.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops_cuda.h"

namespace yoco::kernels::cuda {
namespace {

// a[r, h] = logsigmoid(gt[r * stride + h]) / normalizer, logsigmoid(x) = min(x, 0) - log1p(exp(-|x|)) (as the CPU).
__global__ void gate_log_decay_kernel(const float* gt, int64_t stride, int64_t rows, int H, float normalizer,
                                      float* a) {
  const int64_t total = rows * H;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = i / H;
    const int h = static_cast<int>(i % H);
    const float x = gt[r * stride + h];
    a[i] = (fminf(x, 0.0f) - log1pf(expf(-fabsf(x)))) / normalizer;
  }
}

__global__ void scale_rows_kernel(float* x, int64_t stride, int64_t rows, int64_t cols, float s) {
  const int64_t total = rows * cols;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    x[(i / cols) * stride + i % cols] *= s;
}

__device__ __forceinline__ void store(float x, float* d) { *d = x; }
__device__ __forceinline__ void store(float x, __half* d) { *d = __float2half_rn(x); }
__device__ __forceinline__ void store(float x, __nv_bfloat16* d) { *d = __float2bfloat16_rn(x); }

// Row r of k/v goes to token t = t0 + r: page t / PT, slot t % PT; a page is [PT, width] of K then [PT, width]
// of V, pages back to back from `base`.
template <class T>
__global__ void kv_append_kernel(const float* k, int64_t k_stride, const float* v, int64_t v_stride, int64_t rows,
                                 int64_t width, T* base, int64_t PT, int64_t t0) {
  const int64_t total = rows * width;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = i / width, c = i % width;
    const int64_t t = t0 + r, page = t / PT, slot = t % PT;
    T* p = base + page * 2 * PT * width;
    store(k[r * k_stride + c], p + slot * width + c);
    store(v[r * v_stride + c], p + (PT + slot) * width + c);
  }
}

}  // namespace

void gate_log_decay(Context& ctx, const float* gt, int64_t stride, int64_t rows, int n_heads, float normalizer,
                    float* a) {
  if (rows <= 0 || n_heads <= 0) return;
  gate_log_decay_kernel<<<detail::grid_for(rows * n_heads, 256), 256, 0, ctx.stream()>>>(gt, stride, rows, n_heads,
                                                                                        normalizer, a);
  YOCO_CUDA_CHECK_LAUNCH();
}

void scale_rows(Context& ctx, float* x, int64_t stride, int64_t rows, int64_t cols, float s) {
  if (rows <= 0 || cols <= 0) return;
  scale_rows_kernel<<<detail::grid_for(rows * cols, 256), 256, 0, ctx.stream()>>>(x, stride, rows, cols, s);
  YOCO_CUDA_CHECK_LAUNCH();
}

void kv_append_pages(Context& ctx, const float* k, int64_t k_stride, const float* v, int64_t v_stride,
                     int64_t rows, int64_t width, DType dtype, void* base, int page_tokens, int64_t t0) {
  if (rows <= 0 || width <= 0) return;
  detail::dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    kv_append_kernel<T><<<detail::grid_for(rows * width, 256), 256, 0, ctx.stream()>>>(
        k, k_stride, v, v_stride, rows, width, static_cast<T*>(base), page_tokens, t0);
  });
  YOCO_CUDA_CHECK_LAUNCH();
}

}  // namespace yoco::kernels::cuda
