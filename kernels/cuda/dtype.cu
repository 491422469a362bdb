// f32 ⇄ f16 / bf16 on the device, round to nearest even like the CPU conversions (cuda_fp16 / cuda_bf16
// intrinsics). Used to feed the half-precision GEMMs and to fill a half-precision K/V cache.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops_cuda.h"

namespace yoco::kernels::cuda {
namespace {

__device__ __forceinline__ void from_f32(float x, float* d) {
  *d = x;
}
__device__ __forceinline__ void from_f32(float x, __half* d) {
  *d = __float2half_rn(x);
}
__device__ __forceinline__ void from_f32(float x, __nv_bfloat16* d) {
  *d = __float2bfloat16_rn(x);
}

template <class T>
__global__ void to_f32_kernel(const T* src, float* dst, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    dst[i] = detail::to_f32(src[i]);
}

template <class T>
__global__ void from_f32_kernel(const float* src, T* dst, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    from_f32(src[i], dst + i);
}

}  // namespace

void convert_to_f32(Context& ctx, DType src_type, const void* src, float* dst, int64_t n) {
  if (n <= 0) return;
  detail::dispatch_dtype(src_type, [&](auto tag) {
    using T = decltype(tag);
    to_f32_kernel<T><<<detail::grid_for(n, 256), 256, 0, ctx.stream()>>>(static_cast<const T*>(src), dst, n);
  });
  YOCO_CUDA_CHECK_LAUNCH();
}

void convert_from_f32(Context& ctx, const float* src, DType dst_type, void* dst, int64_t n) {
  if (n <= 0) return;
  detail::dispatch_dtype(dst_type, [&](auto tag) {
    using T = decltype(tag);
    from_f32_kernel<T><<<detail::grid_for(n, 256), 256, 0, ctx.stream()>>>(src, static_cast<T*>(dst), n);
  });
  YOCO_CUDA_CHECK_LAUNCH();
}

}  // namespace yoco::kernels::cuda
