// Small ops the device forward pass (llm/device_session.cpp) needs between the big ones: the gated-retention
// log-decays, a strided row scale, and the append of K/V rows into a contiguous run of cache pages (f32, f16,
// bf16, or int8 with a scale per token and head).
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

// int8 rows (DType::Q8): one warp per (row, kv head, K or V) takes the head's max |x| by a warp reduction and
// writes the int8 values and the scale exactly as the CPU's kv_rows_from_f32 does (scale = amax / 127,
// q = rint(x · (127 / amax)) clamped to ±127; a non-finite head gets a NaN scale, an all-zero head 0), so the
// device and host caches hold the same bytes.
__global__ void kv_append_int8_kernel(const float* k, int64_t k_stride, const float* v, int64_t v_stride,
                                      int64_t rows, int n_kv, int hd, unsigned char* base, int64_t PT, int64_t t0) {
  const int lane = threadIdx.x % detail::kWarp;
  const int64_t warps = rows * n_kv * 2;
  const int64_t rb = static_cast<int64_t>(n_kv) * (hd + 4);
  for (int64_t w = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) / detail::kWarp; w < warps;
       w += static_cast<int64_t>(gridDim.x) * blockDim.x / detail::kWarp) {  // warp-uniform loop
    const bool is_v = w % 2;
    const int g = static_cast<int>((w / 2) % n_kv);
    const int64_t r = w / 2 / n_kv;
    const float* x = (is_v ? v + r * v_stride : k + r * k_stride) + static_cast<int64_t>(g) * hd;
    float amax = 0.0f;
    bool finite = true;
    for (int c = lane; c < hd; c += detail::kWarp) {
      const float a = fabsf(x[c]);
      finite = finite && a <= 3.402823466e38f;  // false for inf and NaN
      amax = fmaxf(amax, a);
    }
    amax = detail::warp_max(amax);
    finite = __all_sync(0xffffffffu, finite);
    const int64_t t = t0 + r, page = t / PT, slot = t % PT;
    unsigned char* row = base + page * 2 * PT * rb + (is_v ? PT + slot : slot) * rb;
    signed char* q = reinterpret_cast<signed char*>(row) + static_cast<int64_t>(g) * hd;
    const bool zero = !finite || amax == 0.0f;
    const float inv = zero ? 0.0f : 127.0f / amax;
    for (int c = lane; c < hd; c += detail::kWarp)
      q[c] = zero ? 0 : static_cast<signed char>(fminf(fmaxf(rintf(x[c] * inv), -127.0f), 127.0f));
    if (lane == 0) {
      const float scale = !finite ? __int_as_float(0x7fc00000) : amax == 0.0f ? 0.0f : amax / 127.0f;
      memcpy(row + static_cast<int64_t>(n_kv) * hd + 4 * g, &scale, sizeof scale);
    }
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
                     int64_t rows, int n_kv, int head_dim, DType dtype, void* base, int page_tokens, int64_t t0) {
  const int64_t width = static_cast<int64_t>(n_kv) * head_dim;
  if (rows <= 0 || width <= 0) return;
  if (dtype == DType::Q8) {
    const int64_t threads = rows * n_kv * 2 * detail::kWarp;
    kv_append_int8_kernel<<<detail::grid_for(threads, 256), 256, 0, ctx.stream()>>>(
        k, k_stride, v, v_stride, rows, n_kv, head_dim, static_cast<unsigned char*>(base), page_tokens, t0);
    YOCO_CUDA_CHECK_LAUNCH();
    return;
  }
  detail::dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    kv_append_kernel<T><<<detail::grid_for(rows * width, 256), 256, 0, ctx.stream()>>>(
        k, k_stride, v, v_stride, rows, width, static_cast<T*>(base), page_tokens, t0);
  });
  YOCO_CUDA_CHECK_LAUNCH();
}

}  // namespace yoco::kernels::cuda
