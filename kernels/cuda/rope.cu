// Rotary position embedding, both pairings. Angles are computed exactly as on the CPU: the f32 product
// float(pos) · inv_freq (no contraction possible: a lone multiply), then cos / sin of that f32 angle in
// double, rounded once to f32. At position 500K the angle is ~5·10⁵ rad, where an f32 sinf/cosf with its
// own range reduction would still be fine, but only the same rounding sequence gives the same numbers.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops_cuda.h"

namespace yoco::kernels::cuda {
namespace {

// One block per token row; thread i < half handles pair i of every head (cos / sin computed once per row).
__global__ void rope_kernel(const float* inv_freq, bool interleaved, int d, float* x, int64_t stride,
                            int n_heads, int64_t pos0) {
  const int64_t r = blockIdx.x;
  const int half = d / 2;
  const float pos = static_cast<float>(pos0 + r);
  float* row = x + r * stride;
  for (int i = threadIdx.x; i < half; i += blockDim.x) {
    const float angle = __fmul_rn(pos, inv_freq[i]);
    double s, c;
    sincos(static_cast<double>(angle), &s, &c);
    const float cf = static_cast<float>(c), sf = static_cast<float>(s);
    for (int h = 0; h < n_heads; ++h) {
      float* v = row + static_cast<int64_t>(h) * d;
      const int i0 = interleaved ? 2 * i : i;
      const int i1 = interleaved ? 2 * i + 1 : i + half;
      const float x0 = v[i0], x1 = v[i1];
      v[i0] = x0 * cf - x1 * sf;
      v[i1] = x0 * sf + x1 * cf;
    }
  }
}

}  // namespace

DeviceRope DeviceRope::upload(const RopeTable& table) {
  YOCO_REQUIRE(static_cast<int>(table.inv_freq.size()) * 2 == table.head_dim, "rope: malformed table");
  DeviceRope r;
  r.style = table.style;
  r.head_dim = table.head_dim;
  r.inv_freq = DeviceBuffer<float>(table.inv_freq);
  return r;
}

void rope_apply(Context& ctx, const DeviceRope& rope, float* x, int64_t stride, int64_t rows, int n_heads,
                int64_t pos0) {
  if (rows <= 0 || n_heads <= 0) return;
  const int half = rope.head_dim / 2;
  const int threads = half >= 128 ? 128 : ((half + 31) / 32) * 32;
  rope_kernel<<<static_cast<unsigned>(rows), threads, 0, ctx.stream()>>>(
      rope.inv_freq.data(), rope.style == RopeStyle::Yoco, rope.head_dim, x, stride, n_heads, pos0);
  YOCO_CUDA_CHECK_LAUNCH();
}

}  // namespace yoco::kernels::cuda
