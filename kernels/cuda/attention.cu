// Causal (optionally windowed) GQA softmax attention over a paged K/V sequence: one kernel for prefill and
// decode, flash-style, plus a log-sum-exp combine for split keys (flash-decoding).
//
// Work decomposition (mirrors kernels/cpu/attention.cpp):
// - A "row" is (query i, query head h) for the G = n_heads / n_kv heads that read one kv head g; rows of one
//   kv head are numbered R = i·G + (h mod G), so a block of kBlockRows consecutive rows shares every K/V tile
//   it loads (GQA sharing) and decode (n_q = 1) fills a block with the G heads of a group.
// - Grid: x = row block, y = kv head, z = key split. A block streams its key range in tiles of kTileKeys
//   keys (converted to f32 in shared memory, f16 / bf16 / int8 pages alike; rows padded to hd + 1 floats so
//   that lane-per-key reads are conflict-free) through an online softmax: running max m and sum l per row, O
//   rescaled by exp(m_old - m).
//   Each warp owns kRowsPerWarp rows; lane j scores key j of the tile, then every lane accumulates its
//   columns c = lane + 32t of P·V with p_j broadcast by shuffle. Per-row masks are key ranges [lo, hi).
// - Split keys: when row blocks × kv heads cannot fill the device, the key range is cut into splits; each
//   leaves unnormalised (O, m, l) per row in scratch and attention_combine merges them.
//
// This is the plain SIMT version (correctness first; no tensor cores). Expected to be bandwidth-bound in
// decode and ~10× off tensor-core flash attention in prefill; see README.md for the plan.
#include <algorithm>
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops_cuda.h"

namespace yoco::kernels::cuda {
namespace {

constexpr int kAttnWarps = 4;
constexpr int kAttnThreads = kAttnWarps * detail::kWarp;
constexpr int kRowsPerWarp = 4;
constexpr int kBlockRows = kAttnWarps * kRowsPerWarp;
constexpr int kTileKeys = detail::kWarp;  // one key per lane
constexpr int kMaxHeadDim = 256;
constexpr int kMaxCols = kMaxHeadDim / detail::kWarp;
constexpr int64_t kMinSplitKeys = 256;  // an automatic split covers at least this many keys

struct AttnArgs {
  const float* q;
  int64_t q_stride;
  int64_t q_pos0;
  const void* const* k_pages;
  const void* const* v_pages;
  int64_t page_tokens;
  int64_t n_tokens;
  int64_t kv_pos0;
  int n_kv;
  int hd;
  int group;
  float scale;
  int64_t window;
  int64_t n_rows;  // n_q · group
  int64_t keys_per_split;
  float* out;
  int64_t out_stride;
  float* part_o;   // split: [split, kv head, row, hd] unnormalised O; nullptr when not split
  float* part_ml;  // split: [split, kv head, row, 2] (m, l)
};

// Keys visible to the query at absolute position qp, as [lo, hi) over the span, clipped to [s0, s1).
__device__ __forceinline__ void visible_range(const AttnArgs& a, int64_t qp, int64_t s0, int64_t s1,
                                              int64_t& lo, int64_t& hi) {
  hi = min(max(qp - a.kv_pos0 + 1, int64_t{0}), a.n_tokens);
  lo = a.window > 0 ? min(max(qp - a.window + 1 - a.kv_pos0, int64_t{0}), a.n_tokens) : int64_t{0};
  lo = max(lo, s0);
  hi = min(hi, s1);
  if (hi < lo) hi = lo;
}

template <class T>
__global__ void __launch_bounds__(kAttnThreads) attention_kernel(AttnArgs a) {
  extern __shared__ float smem[];
  const int hd = a.hd;
  const int ldt = hd + 1;
  float* Ks = smem;                  // [kTileKeys, ldt]
  float* Vs = Ks + kTileKeys * ldt;  // [kTileKeys, ldt]
  float* Qs = Vs + kTileKeys * ldt;  // [kBlockRows, hd], pre-scaled
  const int g = blockIdx.y;
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * kBlockRows;
  const int warp = threadIdx.x / detail::kWarp, lane = threadIdx.x % detail::kWarp;
  const int64_t s0 = static_cast<int64_t>(blockIdx.z) * a.keys_per_split;
  const int64_t s1 = min(s0 + a.keys_per_split, a.n_tokens);

  for (int idx = threadIdx.x; idx < kBlockRows * hd; idx += kAttnThreads) {
    const int r = idx / hd, c = idx % hd;
    const int64_t R = row0 + r;
    float v = 0.0f;
    if (R < a.n_rows) {
      const int64_t i = R / a.group;
      const int64_t h = static_cast<int64_t>(g) * a.group + R % a.group;
      v = a.q[i * a.q_stride + h * hd + c] * a.scale;
    }
    Qs[idx] = v;
  }

  // The block's key range: the union of its rows' ranges (every thread computes it; no sync needed).
  int64_t blo = a.n_tokens, bhi = 0;
  for (int r = 0; r < kBlockRows && row0 + r < a.n_rows; ++r) {
    int64_t lo, hi;
    visible_range(a, a.q_pos0 + (row0 + r) / a.group, s0, s1, lo, hi);
    if (hi > lo) blo = min(blo, lo), bhi = max(bhi, hi);
  }

  int64_t lo[kRowsPerWarp], hi[kRowsPerWarp];
  float m[kRowsPerWarp], l[kRowsPerWarp], o[kRowsPerWarp][kMaxCols];
#pragma unroll
  for (int rr = 0; rr < kRowsPerWarp; ++rr) {
    const int64_t R = row0 + warp * kRowsPerWarp + rr;
    lo[rr] = hi[rr] = 0;
    if (R < a.n_rows) visible_range(a, a.q_pos0 + R / a.group, s0, s1, lo[rr], hi[rr]);
    m[rr] = -INFINITY;
    l[rr] = 0.0f;
#pragma unroll
    for (int t = 0; t < kMaxCols; ++t) o[rr][t] = 0.0f;
  }

  for (int64_t t0 = blo; t0 < bhi; t0 += kTileKeys) {
    __syncthreads();  // the previous tile is consumed (first pass: Qs is written)
    for (int idx = threadIdx.x; idx < kTileKeys * hd; idx += kAttnThreads) {
      const int j = idx / hd, c = idx % hd;
      const int64_t key = t0 + j;
      float kv = 0.0f, vv = 0.0f;
      if (key < bhi) {
        const int64_t page = key / a.page_tokens, slot = key % a.page_tokens;
        kv = detail::kv_value<T>(a.k_pages[page], slot, g, c, a.n_kv, hd);
        vv = detail::kv_value<T>(a.v_pages[page], slot, g, c, a.n_kv, hd);
      }
      Ks[j * ldt + c] = kv;
      Vs[j * ldt + c] = vv;
    }
    __syncthreads();
    const int64_t key = t0 + lane;
#pragma unroll
    for (int rr = 0; rr < kRowsPerWarp; ++rr) {
      if (t0 >= hi[rr] || t0 + kTileKeys <= lo[rr]) continue;  // warp-uniform: nothing visible here
      const float* qr = Qs + (warp * kRowsPerWarp + rr) * hd;
      float s = -INFINITY;
      if (key >= lo[rr] && key < hi[rr]) {
        const float* kr = Ks + lane * ldt;
        float acc = 0.0f;
        for (int c = 0; c < hd; ++c) acc = fmaf(qr[c], kr[c], acc);
        s = acc;
      }
      const float m_new = fmaxf(m[rr], detail::warp_max(s));  // finite: at least one lane sees a key
      const float alpha = expf(m[rr] - m_new);                // 0 on the first visible tile
      const float p = s == -INFINITY ? 0.0f : expf(s - m_new);
      l[rr] = l[rr] * alpha + detail::warp_sum(p);
      m[rr] = m_new;
#pragma unroll
      for (int t = 0; t < kMaxCols; ++t) o[rr][t] *= alpha;
      for (int j = 0; j < kTileKeys; ++j) {
        const float pj = __shfl_sync(0xffffffffu, p, j);
        if (pj == 0.0f) continue;  // uniform across the warp
        const float* vr = Vs + j * ldt;
#pragma unroll
        for (int t = 0; t < kMaxCols; ++t) {
          const int c = lane + t * detail::kWarp;
          if (c < hd) o[rr][t] = fmaf(pj, vr[c], o[rr][t]);
        }
      }
    }
  }

#pragma unroll
  for (int rr = 0; rr < kRowsPerWarp; ++rr) {
    const int64_t R = row0 + warp * kRowsPerWarp + rr;
    if (R >= a.n_rows) break;
    if (a.part_o) {
      const int64_t base = (static_cast<int64_t>(blockIdx.z) * a.n_kv + g) * a.n_rows + R;
#pragma unroll
      for (int t = 0; t < kMaxCols; ++t) {
        const int c = lane + t * detail::kWarp;
        if (c < hd) a.part_o[base * hd + c] = o[rr][t];
      }
      if (lane == 0) a.part_ml[base * 2] = m[rr], a.part_ml[base * 2 + 1] = l[rr];
    } else {
      const int64_t i = R / a.group;
      const int64_t h = static_cast<int64_t>(g) * a.group + R % a.group;
      const float inv = l[rr] > 0.0f ? 1.0f / l[rr] : 0.0f;  // a query that sees no key gets zeros
      float* out = a.out + i * a.out_stride + h * hd;
#pragma unroll
      for (int t = 0; t < kMaxCols; ++t) {
        const int c = lane + t * detail::kWarp;
        if (c < hd) out[c] = o[rr][t] * inv;
      }
    }
  }
}

// One block per (row, kv head); thread c merges column c over the splits by log-sum-exp.
__global__ void attention_combine(AttnArgs a, int n_splits) {
  const int64_t R = blockIdx.x;
  const int g = blockIdx.y;
  const int c = threadIdx.x;
  float M = -INFINITY;
  for (int s = 0; s < n_splits; ++s) {
    const int64_t base = (static_cast<int64_t>(s) * a.n_kv + g) * a.n_rows + R;
    if (a.part_ml[base * 2 + 1] > 0.0f) M = fmaxf(M, a.part_ml[base * 2]);
  }
  float L = 0.0f, acc = 0.0f;
  for (int s = 0; s < n_splits; ++s) {
    const int64_t base = (static_cast<int64_t>(s) * a.n_kv + g) * a.n_rows + R;
    const float ls = a.part_ml[base * 2 + 1];
    if (!(ls > 0.0f)) continue;
    const float w = expf(a.part_ml[base * 2] - M);
    L += ls * w;
    if (c < a.hd) acc += a.part_o[base * a.hd + c] * w;
  }
  if (c < a.hd) {
    const int64_t i = R / a.group;
    const int64_t h = static_cast<int64_t>(g) * a.group + R % a.group;
    a.out[i * a.out_stride + h * a.hd + c] = L > 0.0f ? acc / L : 0.0f;
  }
}

}  // namespace

void attention(Context& ctx, const float* q, int64_t q_stride, int64_t n_q, int64_t q_pos0,
               const DeviceKvSpan& kv, const AttentionParams& p, float* out, int64_t out_stride,
               int max_splits) {
  if (n_q <= 0) return;
  YOCO_REQUIRE(kv.n_kv_heads > 0 && p.n_heads > 0 && p.n_heads % kv.n_kv_heads == 0,
               "CUDA attention: n_heads must be a positive multiple of n_kv_heads");
  YOCO_REQUIRE(kv.head_dim > 0 && kv.head_dim <= kMaxHeadDim, "CUDA attention: head_dim must be in 1..256");
  YOCO_REQUIRE(kv.n_tokens == 0 || (kv.page_tokens > 0 && kv.n_pages * kv.page_tokens >= kv.n_tokens &&
                                    kv.k_pages && kv.v_pages),
               "CUDA attention: the pages do not cover n_tokens");
  AttnArgs a{};
  a.q = q;
  a.q_stride = q_stride;
  a.q_pos0 = q_pos0;
  a.k_pages = kv.k_pages;
  a.v_pages = kv.v_pages;
  a.page_tokens = std::max(kv.page_tokens, 1);
  a.n_tokens = kv.n_tokens;
  a.kv_pos0 = kv.pos0;
  a.n_kv = kv.n_kv_heads;
  a.hd = kv.head_dim;
  a.group = p.n_heads / kv.n_kv_heads;
  a.scale = p.scale;
  a.window = p.window;
  a.n_rows = n_q * a.group;
  a.out = out;
  a.out_stride = out_stride;

  const int64_t row_blocks = detail::ceil_div(a.n_rows, kBlockRows);
  const int64_t base_blocks = row_blocks * a.n_kv;
  const int64_t sms = std::max(ctx.info().n_sms, 1);
  const int64_t max_by_keys = std::max<int64_t>(1, detail::ceil_div(kv.n_tokens, kTileKeys));
  int64_t n_splits = 1;
  if (max_splits > 1) {
    n_splits = std::min<int64_t>(max_splits, max_by_keys);  // forced (tests)
  } else if (max_splits == 0 && base_blocks < 2 * sms) {
    n_splits = std::min(detail::ceil_div(4 * sms, base_blocks),
                        std::max<int64_t>(1, detail::ceil_div(kv.n_tokens, kMinSplitKeys)));
  }
  ScratchScope scope(ctx.scratch());
  if (n_splits > 1) {
    const int64_t per_split = a.n_kv * a.n_rows * (a.hd + 2) * static_cast<int64_t>(sizeof(float));
    n_splits =
        std::min<int64_t>({n_splits, 65535, static_cast<int64_t>(ctx.scratch().available()) / per_split - 1});
  }
  if (n_splits > 1) {
    a.keys_per_split = detail::ceil_div(detail::ceil_div(kv.n_tokens, n_splits), kTileKeys) * kTileKeys;
    n_splits = detail::ceil_div(kv.n_tokens, a.keys_per_split);
  }
  if (n_splits > 1) {
    a.part_o = ctx.scratch().claim_n<float>(static_cast<size_t>(n_splits * a.n_kv * a.n_rows * a.hd));
    a.part_ml = ctx.scratch().claim_n<float>(static_cast<size_t>(n_splits * a.n_kv * a.n_rows * 2));
  } else {
    n_splits = 1;
    a.keys_per_split = std::max<int64_t>(kv.n_tokens, 1);
  }

  const size_t smem = static_cast<size_t>(2 * kTileKeys * (a.hd + 1) + kBlockRows * a.hd) * sizeof(float);
  YOCO_REQUIRE(smem <= ctx.info().max_shared_per_block,
               "CUDA attention: head_dim too large for shared memory");
  const dim3 grid(static_cast<unsigned>(row_blocks), static_cast<unsigned>(a.n_kv),
                  static_cast<unsigned>(n_splits));
  detail::dispatch_kv_dtype(kv.dtype, [&](auto tag) {
    using T = decltype(tag);
    if (smem > 48 * 1024)
      YOCO_CUDA_CHECK(cudaFuncSetAttribute(attention_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           static_cast<int>(smem)));
    attention_kernel<T><<<grid, kAttnThreads, smem, ctx.stream()>>>(a);
  });
  YOCO_CUDA_CHECK_LAUNCH();
  if (n_splits > 1) {
    const int threads = static_cast<int>(detail::ceil_div(a.hd, detail::kWarp) * detail::kWarp);
    attention_combine<<<dim3(static_cast<unsigned>(a.n_rows), static_cast<unsigned>(a.n_kv)), threads, 0,
                        ctx.stream()>>>(a, static_cast<int>(n_splits));
    YOCO_CUDA_CHECK_LAUNCH();
  }
}

}  // namespace yoco::kernels::cuda
