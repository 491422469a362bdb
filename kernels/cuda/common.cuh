// Device-side helpers shared by the kernel files (internal to kernels/cuda).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <utility>

#include "kernels/cuda/cuda_check.h"
#include "kernels/ops.h"

namespace yoco::kernels::cuda::detail {

constexpr int kWarp = 32;

inline int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

// Blocks for a grid-stride loop over n items: enough to fill the device, never more than the items need.
inline unsigned grid_for(int64_t n, int threads) {
  const int64_t blocks = ceil_div(n, threads);
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 65536 ? 65536 : blocks));
}

__device__ __forceinline__ float to_f32(float x) {
  return x;
}
__device__ __forceinline__ float to_f32(__half x) {
  return __half2float(x);
}
__device__ __forceinline__ float to_f32(__nv_bfloat16 x) {
  return __bfloat162float(x);
}

__device__ __forceinline__ float warp_sum(float x) {
  for (int o = kWarp / 2; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}
__device__ __forceinline__ double warp_sum(double x) {
  for (int o = kWarp / 2; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}
__device__ __forceinline__ float warp_max(float x) {
  for (int o = kWarp / 2; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
  return x;
}

// Calls f(T{}) with T the device storage type of `t` (float, __half, __nv_bfloat16).
template <class F>
void dispatch_dtype(DType t, F&& f) {
  switch (t) {
    case DType::F32:
      return f(float{});
    case DType::F16:
      return f(__half{});
    case DType::BF16:
      return f(__nv_bfloat16{});
    case DType::Q8:
      break;
  }
  throw ::yoco::Error(std::string("CUDA: no ") + dtype_name(t) + " storage in this op (f32, f16 or bf16)");
}

// The int8 K/V storage (DType::Q8, kernels/ops.h): a token row is n_kv·hd int8 values, then n_kv f32 scales.
struct Int8Rows {};

// Value c of kv head g of cached token `slot` of a page in storage T (float, __half, __nv_bfloat16, Int8Rows).
template <class T>
__device__ __forceinline__ float kv_value(const void* page, int64_t slot, int g, int c, int n_kv, int hd) {
  return to_f32(static_cast<const T*>(page)[(slot * n_kv + g) * hd + c]);
}
template <>
__device__ __forceinline__ float kv_value<Int8Rows>(const void* page, int64_t slot, int g, int c, int n_kv,
                                                    int hd) {
  const auto* row = static_cast<const unsigned char*>(page) + slot * static_cast<int64_t>(n_kv) * (hd + 4);
  float s;
  memcpy(&s, row + static_cast<int64_t>(n_kv) * hd + 4 * g, sizeof s);  // 4-aligned only when hd % 4 == 0
  return static_cast<float>(reinterpret_cast<const signed char*>(row)[g * hd + c]) * s;
}

// As dispatch_dtype, with DType::Q8 as Int8Rows: for the ops that read or write the K/V cache.
template <class F>
void dispatch_kv_dtype(DType t, F&& f) {
  if (t == DType::Q8) return f(Int8Rows{});
  dispatch_dtype(t, std::forward<F>(f));
}

}  // namespace yoco::kernels::cuda::detail
