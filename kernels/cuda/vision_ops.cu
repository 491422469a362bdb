// The vision encoder's own steps on the device (vision/device_encoder.cpp): im2col of preprocessed images, a
// per-frame broadcast of the position table, adaptive average pooling of the patch grid and the exact GELU.
// Each computes what vision/encoder.cpp computes on the CPU (the same sums in the same order per element).
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops_cuda.h"

namespace yoco::kernels::cuda {
namespace {

// images [F, 3, S, S] → patches [F·g·g, 3·p·p]: row f·N + gy·g + gx, column (c·p + py)·p + px.
__global__ void patchify_kernel(const float* images, int64_t F, int S, int p, float* patches) {
  const int g = S / p;
  const int64_t P = 3LL * p * p, N = static_cast<int64_t>(g) * g, total = F * N * P;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t row = i / P, col = i % P;
    const int64_t f = row / N, n = row % N;
    const int gy = static_cast<int>(n / g), gx = static_cast<int>(n % g);
    const int c = static_cast<int>(col / (p * p)), py = static_cast<int>((col / p) % p), px = static_cast<int>(col % p);
    patches[i] = images[((f * 3 + c) * S + gy * p + py) * static_cast<int64_t>(S) + gx * p + px];
  }
}

__global__ void broadcast_rows_kernel(const float* src, int64_t rows, int64_t cols, int64_t copies, float* dst) {
  const int64_t block = rows * cols, total = block * copies;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    dst[i] = src[i % block];
}

// x [F, g·g, W] → out [F, t·t, W]: token (ty, tx) is the mean over rows [ty·g/t, ceil((ty+1)·g/t)) × the same
// columns (PyTorch adaptive_avg_pool2d), summed in the CPU's order (gy, then gx) and scaled by 1/count.
__global__ void adaptive_avg_pool_kernel(const float* x, int64_t F, int g, int t, int64_t W, float* out) {
  const int64_t T = static_cast<int64_t>(t) * t, total = F * T * W;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t c = i % W, tok = (i / W) % T, f = i / (W * T);
    const int ty = static_cast<int>(tok / t), tx = static_cast<int>(tok % t);
    const int y0 = ty * g / t, y1 = ((ty + 1) * g + t - 1) / t;
    const int x0 = tx * g / t, x1 = ((tx + 1) * g + t - 1) / t;
    float s = 0.0f;
    for (int gy = y0; gy < y1; ++gy)
      for (int gx = x0; gx < x1; ++gx) s += x[(f * g * g + static_cast<int64_t>(gy) * g + gx) * W + c];
    out[i] = s * (1.0f / static_cast<float>((y1 - y0) * (x1 - x0)));
  }
}

__global__ void gelu_kernel(float* x, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

}  // namespace

void patchify(Context& ctx, const float* images, int64_t frames, int image_size, int patch_size, float* patches) {
  YOCO_REQUIRE(patch_size > 0 && image_size % patch_size == 0, "patchify: image size not a multiple of the patch");
  const int64_t g = image_size / patch_size, total = frames * g * g * 3 * patch_size * patch_size;
  if (total <= 0) return;
  patchify_kernel<<<detail::grid_for(total, 256), 256, 0, ctx.stream()>>>(images, frames, image_size, patch_size,
                                                                         patches);
  YOCO_CUDA_CHECK_LAUNCH();
}

void broadcast_rows(Context& ctx, const float* src, int64_t rows, int64_t cols, int64_t copies, float* dst) {
  if (rows <= 0 || cols <= 0 || copies <= 0) return;
  broadcast_rows_kernel<<<detail::grid_for(rows * cols * copies, 256), 256, 0, ctx.stream()>>>(src, rows, cols,
                                                                                               copies, dst);
  YOCO_CUDA_CHECK_LAUNCH();
}

void adaptive_avg_pool(Context& ctx, const float* x, int64_t frames, int grid, int out_grid, int64_t width,
                       float* out) {
  YOCO_REQUIRE(out_grid >= 1 && out_grid <= grid, "adaptive_avg_pool: output grid must be in 1..grid");
  const int64_t total = frames * out_grid * out_grid * width;
  if (total <= 0) return;
  adaptive_avg_pool_kernel<<<detail::grid_for(total, 256), 256, 0, ctx.stream()>>>(x, frames, grid, out_grid, width,
                                                                                   out);
  YOCO_CUDA_CHECK_LAUNCH();
}

void gelu_inplace(Context& ctx, float* x, int64_t n) {
  if (n <= 0) return;
  gelu_kernel<<<detail::grid_for(n, 256), 256, 0, ctx.stream()>>>(x, n);
  YOCO_CUDA_CHECK_LAUNCH();
}

}  // namespace yoco::kernels::cuda
