// Causal (optionally windowed) GQA softmax attention over a paged K/V span.
//
// Fast path (one code path for prefill and decode):
// - Work is cut into items (query tile, key split); an item covers every kv head. A query tile holds Bq
//   consecutive queries; for kv head g its Bq·G query rows (the G query heads that read g) form one matrix
//   of R rows, so a GQA group shares every K/V tile it loads.
// - An item walks its key range in tiles that never cross a cache block. A tile spans whole cache rows
//   [nt, n_kv, hd] (contiguous memory: reading one head's slice of every row at a time runs at a quarter of
//   the memory bandwidth), read in place for f32 or converted to f32 scratch for f16/bf16/int8 in one pass.
//   Per head, S = Q·Kᵀ and O += P·V are sgemms when R is large enough to pay for BLAS packing, and
//   register-blocked loops otherwise (R <= 64: decode, and the draft checks of speculative decoding, in
//   groups of eight rows).
// - Softmax is online (flash-attention): a running max m and sum l per row, O rescaled by exp(m_old−m_new).
//   Masks are per-row contiguous ranges [lo, hi) of visible keys, so masking is a range clip.
// - When there are fewer query tiles than ~2× the threads (decode), each tile's key range is split
//   (flash-decoding); each split leaves (m, l, O) per row and a combine step merges them by log-sum-exp.
// Items are handed out dynamically, longest (latest query tiles) first, so causal imbalance evens out.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/cpu/simd.h"
#include "kernels/error.h"
#include "kernels/ops.h"
#include "kernels/thread_pool.h"

namespace yoco::kernels {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr int64_t kTargetRows = 128;    // query-tile rows (queries × heads of a GQA group)
constexpr int64_t kTileFloats = 65536;  // one K (or V) tile: 256 KiB of f32, so K and V tiles sit in L2
constexpr int64_t kMinSplitKeys = 256;  // a decode split covers at least this many keys

// Keys visible to a query at absolute position qp: [lo, hi) over the span's concatenated keys.
inline void visible_range(const KvSpan& kv, int64_t window, int64_t qp, int64_t& lo, int64_t& hi) {
  hi = std::clamp<int64_t>(qp - kv.pos0 + 1, 0, kv.n_tokens);
  lo = window > 0 ? std::clamp<int64_t>(qp - window + 1 - kv.pos0, 0, kv.n_tokens) : 0;
  if (hi < lo) hi = lo;
}

void validate(const KvSpan& kv, const AttentionParams& p) {
  YOCO_CHECK(kv.n_kv_heads > 0 && kv.head_dim > 0 && p.n_heads > 0);
  YOCO_CHECK(p.n_heads % kv.n_kv_heads == 0);
  YOCO_CHECK(kv.n_tokens >= 0 && kv.n_blocks >= 0);
  YOCO_CHECK(kv.n_tokens == 0 || kv.blocks != nullptr);
}

struct Scratch {
  std::vector<float> q, s, o, m, l, k, v;
};

// Everything an item needs, shared read-only by all threads.
struct Problem {
  const float* q;
  int64_t q_stride;
  int64_t n_q;
  int64_t q_pos0;
  const KvSpan* kv;
  const AttentionParams* p;
  float* out;
  int64_t out_stride;
  int group;                         // G = n_heads / n_kv_heads
  int64_t tile_queries;              // Bq
  int64_t key_tile;                  // keys per K/V tile
  std::vector<int64_t> block_start;  // first key index of each block, plus n_tokens at the end
};

// Keys [local0, local0 + nt) of one block, every head, as f32 rows of n_kv·hd (in place for f32).
const float* load_rows(const KvSpan& kv, const void* base, int64_t local0, int64_t nt, float* scratch) {
  const int64_t row = static_cast<int64_t>(kv.n_kv_heads) * kv.head_dim;
  if (kv.dtype == DType::F32) return static_cast<const float*>(base) + local0 * row;
  const size_t rb = kv_row_bytes(kv.dtype, kv.n_kv_heads, kv.head_dim);
  kv_rows_to_f32(kv.dtype, static_cast<const char*>(base) + static_cast<size_t>(local0) * rb, nt, kv.n_kv_heads,
                 kv.head_dim, scratch);
  return scratch;
}

// Decode-sized tiles (R <= kMaxSmallRows query rows): BLAS packing would cost more than the product, and the
// work is bound by reading K and V once from memory. Both kernels walk the keys in order, touching each K/V
// row once while the R query / output rows stay in registers or L1, and prefetch a few rows ahead.
constexpr int64_t kPrefetchRows = 6;

#if YOCO_AVX2
// The sums of eight vectors' lanes, as one vector: [Σa0, Σa1, …, Σa7].
inline __m256 hsum8x8(const __m256* a) {
  const __m256 t0 = _mm256_hadd_ps(a[0], a[1]), t1 = _mm256_hadd_ps(a[2], a[3]);
  const __m256 t2 = _mm256_hadd_ps(a[4], a[5]), t3 = _mm256_hadd_ps(a[6], a[7]);
  const __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
  // u0 = [a0 a1 a2 a3 | a0 a1 a2 a3] partial sums of the low | high 128-bit halves; u1 likewise for a4..a7.
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}
#endif

// Prefetches rows [from, to) of hd floats at stride ld (the next block of eight keys or values).
inline void prefetch_rows(const float* rows, int64_t ld, int from, int to, int64_t hd) {
  for (int k = from; k < to; ++k) {
    const char* pf = reinterpret_cast<const char*>(rows + k * ld);
    for (int64_t c = 0; c < hd * 4; c += 64) __builtin_prefetch(pf + c);
  }
}

template <int R>
void scores_rows(const float* Q, int64_t hd, const float* K, int64_t ldk, int64_t nt, float* S) {
  int64_t j = 0;
#if YOCO_AVX2
  // Eight keys at a time: one reduction of eight accumulators per row instead of a horizontal sum per key.
  if (hd % 8 == 0) {
    for (; j + 8 <= nt; j += 8) {
      const float* k0 = K + j * ldk;
      if (j + 16 <= nt) prefetch_rows(k0, ldk, 8, 16, hd);
      for (int r = 0; r < R; ++r) {
        __m256 acc[8];
        for (int k = 0; k < 8; ++k) acc[k] = _mm256_setzero_ps();
        for (int64_t c = 0; c < hd; c += 8) {
          const __m256 q = _mm256_loadu_ps(Q + r * hd + c);
          for (int k = 0; k < 8; ++k) acc[k] = _mm256_fmadd_ps(q, _mm256_loadu_ps(k0 + k * ldk + c), acc[k]);
        }
        _mm256_storeu_ps(S + r * nt + j, hsum8x8(acc));
      }
    }
  }
#endif
  for (; j < nt; ++j) {
    const float* kj = K + j * ldk;
    if (j + kPrefetchRows < nt) {
      const char* pf = reinterpret_cast<const char*>(kj + kPrefetchRows * ldk);
      for (int64_t c = 0; c < hd * 4; c += 64) __builtin_prefetch(pf + c);
    }
    int64_t c = 0;
    float acc_s[R];
#if YOCO_AVX2
    __m256 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
    for (; c + 8 <= hd; c += 8) {
      const __m256 k = _mm256_loadu_ps(kj + c);
      for (int r = 0; r < R; ++r) acc[r] = _mm256_fmadd_ps(_mm256_loadu_ps(Q + r * hd + c), k, acc[r]);
    }
    for (int r = 0; r < R; ++r) acc_s[r] = cpu::hsum8(acc[r]);
#else
    for (int r = 0; r < R; ++r) acc_s[r] = 0.0f;
#endif
    for (; c < hd; ++c)
      for (int r = 0; r < R; ++r) acc_s[r] += Q[r * hd + c] * kj[c];
    for (int r = 0; r < R; ++r) S[r * nt + j] = acc_s[r];
  }
}

template <int R>
void pv_rows(const float* P, int64_t nt, const float* V, int64_t ldv, int64_t hd, float* O) {
  int64_t j = 0;
#if YOCO_AVX2
  // Eight keys at a time: each output row is loaded and stored once per eight keys, not once per key.
  if (hd % 8 == 0) {
    for (; j + 8 <= nt; j += 8) {
      const float* v0 = V + j * ldv;
      if (j + 16 <= nt) prefetch_rows(v0, ldv, 8, 16, hd);
      for (int r = 0; r < R; ++r) {
        const float* p = P + r * nt + j;
        bool any = false;
        for (int k = 0; k < 8; ++k) any |= p[k] != 0.0f;
        if (!any) continue;  // masked keys
        for (int64_t c = 0; c < hd; c += 8) {
          __m256 o = _mm256_loadu_ps(O + r * hd + c);
          for (int k = 0; k < 8; ++k) o = _mm256_fmadd_ps(_mm256_set1_ps(p[k]), _mm256_loadu_ps(v0 + k * ldv + c), o);
          _mm256_storeu_ps(O + r * hd + c, o);
        }
      }
    }
  }
#endif
  for (; j < nt; ++j) {
    const float* vj = V + j * ldv;
    if (j + kPrefetchRows < nt) {
      const char* pf = reinterpret_cast<const char*>(vj + kPrefetchRows * ldv);
      for (int64_t c = 0; c < hd * 4; c += 64) __builtin_prefetch(pf + c);
    }
    float p[R];
    bool any = false;
    for (int r = 0; r < R; ++r) any |= (p[r] = P[r * nt + j]) != 0.0f;
    if (!any) continue;  // masked for every row
    int64_t c = 0;
#if YOCO_AVX2
    __m256 pv[R];
    for (int r = 0; r < R; ++r) pv[r] = _mm256_set1_ps(p[r]);
    for (; c + 8 <= hd; c += 8) {
      const __m256 v = _mm256_loadu_ps(vj + c);
      for (int r = 0; r < R; ++r)
        _mm256_storeu_ps(O + r * hd + c, _mm256_fmadd_ps(pv[r], v, _mm256_loadu_ps(O + r * hd + c)));
    }
#endif
    for (; c < hd; ++c)
      for (int r = 0; r < R; ++r) O[r * hd + c] += p[r] * vj[c];
  }
}

// Up to this many rows take the register-blocked loops, in groups of eight that each walk the key tile (the
// tile is in L2 after the first group). Speculative decoding checks drafts of up to 17 queries (x the GQA
// group): with BLAS, packing each key tile cost such a pass of 5 queries 2.3x a one-query step at 40K keys
// (demo model, one thread); in groups 1.4-1.6x, and no slower at 512 keys.
constexpr int64_t kMaxSmallRows = 64;
constexpr int64_t kRowGroup = 8;

// S[r, j] = Q_r · K_j for r < R, j < nt (S row stride nt).
void small_rows_scores(int64_t R, const float* Q, int64_t hd, const float* K, int64_t ldk, int64_t nt,
                       float* S) {
  for (; R > kRowGroup; R -= kRowGroup, Q += kRowGroup * hd, S += kRowGroup * nt)
    scores_rows<kRowGroup>(Q, hd, K, ldk, nt, S);
  switch (R) {
    case 1:
      return scores_rows<1>(Q, hd, K, ldk, nt, S);
    case 2:
      return scores_rows<2>(Q, hd, K, ldk, nt, S);
    case 3:
      return scores_rows<3>(Q, hd, K, ldk, nt, S);
    case 4:
      return scores_rows<4>(Q, hd, K, ldk, nt, S);
    case 5:
      return scores_rows<5>(Q, hd, K, ldk, nt, S);
    case 6:
      return scores_rows<6>(Q, hd, K, ldk, nt, S);
    case 7:
      return scores_rows<7>(Q, hd, K, ldk, nt, S);
    case 8:
      return scores_rows<8>(Q, hd, K, ldk, nt, S);
  }
  YOCO_CHECK(false);
}

// O_r += Σ_j P[r, j] V_j for r < R.
void small_rows_pv(int64_t R, const float* P, int64_t nt, const float* V, int64_t ldv, int64_t hd, float* O) {
  for (; R > kRowGroup; R -= kRowGroup, P += kRowGroup * nt, O += kRowGroup * hd)
    pv_rows<kRowGroup>(P, nt, V, ldv, hd, O);
  switch (R) {
    case 1:
      return pv_rows<1>(P, nt, V, ldv, hd, O);
    case 2:
      return pv_rows<2>(P, nt, V, ldv, hd, O);
    case 3:
      return pv_rows<3>(P, nt, V, ldv, hd, O);
    case 4:
      return pv_rows<4>(P, nt, V, ldv, hd, O);
    case 5:
      return pv_rows<5>(P, nt, V, ldv, hd, O);
    case 6:
      return pv_rows<6>(P, nt, V, ldv, hd, O);
    case 7:
      return pv_rows<7>(P, nt, V, ldv, hd, O);
    case 8:
      return pv_rows<8>(P, nt, V, ldv, hd, O);
  }
  YOCO_CHECK(false);
}

// Runs queries [i0, i1) against keys [k0, k1) for every kv head, leaving per head g the unnormalised
// output O (R × hd at sc.o + g·R·hd), running max m and sum l (R each at sc.m / sc.l + g·R).
void attend(const Problem& pb, int64_t i0, int64_t i1, int64_t k0, int64_t k1, Scratch& sc) {
  const KvSpan& kv = *pb.kv;
  const AttentionParams& p = *pb.p;
  const int64_t hd = kv.head_dim;
  const int64_t G = pb.group;
  const int64_t n_kv = kv.n_kv_heads;
  const int64_t row = n_kv * hd;
  const int64_t R = (i1 - i0) * G;
  const int64_t tile = pb.key_tile;
  const bool use_gemm = R > kMaxSmallRows;

  sc.q.resize(static_cast<size_t>(n_kv * R * hd));
  sc.o.assign(static_cast<size_t>(n_kv * R * hd), 0.0f);
  sc.m.assign(static_cast<size_t>(n_kv * R), kNegInf);
  sc.l.assign(static_cast<size_t>(n_kv * R), 0.0f);
  sc.s.resize(static_cast<size_t>(R * tile));
  if (kv.dtype != DType::F32) {
    sc.k.resize(static_cast<size_t>(tile * row));
    sc.v.resize(static_cast<size_t>(tile * row));
  }
  float* S = sc.s.data();

  // Q for head g: rows (query i, head-in-group hh) at sc.q + g·R·hd, pre-scaled.
  for (int64_t g = 0; g < n_kv; ++g) {
    for (int64_t i = i0; i < i1; ++i) {
      const float* src = pb.q + i * pb.q_stride + g * G * hd;
      float* dst = sc.q.data() + (g * R + (i - i0) * G) * hd;
      for (int64_t e = 0; e < G * hd; ++e) dst[e] = src[e] * p.scale;
    }
  }
  // Per query of the tile: its visible range (the same for every head).
  int64_t lo_buf[kTargetRows], hi_buf[kTargetRows];
  for (int64_t i = i0; i < i1; ++i)
    visible_range(kv, p.window, pb.q_pos0 + i, lo_buf[i - i0], hi_buf[i - i0]);

  // Blocks overlapping [k0, k1).
  const auto& bs = pb.block_start;
  int64_t b = std::upper_bound(bs.begin(), bs.end() - 1, k0) - bs.begin() - 1;
  for (int64_t t0 = k0; t0 < k1;) {
    while (bs[static_cast<size_t>(b + 1)] <= t0) ++b;
    const KvBlock& blk = kv.blocks[b];
    const int64_t t1 = std::min({k1, t0 + tile, bs[static_cast<size_t>(b + 1)]});
    const int64_t nt = t1 - t0;
    const int64_t local0 = t0 - bs[static_cast<size_t>(b)];
    const float* K_rows = load_rows(kv, blk.k, local0, nt, sc.k.data());
    const float* V_rows = load_rows(kv, blk.v, local0, nt, sc.v.data());

    for (int64_t g = 0; g < n_kv; ++g) {
      const float* K = K_rows + g * hd;
      const float* V = V_rows + g * hd;
      const float* Q = sc.q.data() + g * R * hd;
      float* O = sc.o.data() + g * R * hd;
      float* m = sc.m.data() + g * R;
      float* l = sc.l.data() + g * R;
      if (use_gemm) {
        cpu::sgemm_serial(false, true, R, nt, hd, 1.0f, Q, hd, K, row, 0.0f, S, nt);
      } else {
        small_rows_scores(R, Q, hd, K, row, nt, S);
      }
      bool any = false;
      for (int64_t r = 0; r < R; ++r) {
        const int64_t qi = r / G;
        const int64_t a = std::max(lo_buf[qi], t0) - t0;
        const int64_t e = std::min(hi_buf[qi], t1) - t0;
        float* srow = S + r * nt;
        if (a >= e) {
          std::fill(srow, srow + nt, 0.0f);
          continue;
        }
        const float mx = cpu::max_of(srow + a, e - a);
        const float m_new = std::max(m[r], mx);
        const float alpha = std::exp(m[r] - m_new);  // 0 when m[r] = -inf (O and l are 0 then)
        const float sum = cpu::exp_shift_sum(srow + a, m_new, e - a);
        std::fill(srow, srow + a, 0.0f);
        std::fill(srow + e, srow + nt, 0.0f);
        if (alpha != 1.0f) cpu::scale(O + r * hd, alpha, hd);
        l[r] = l[r] * alpha + sum;
        m[r] = m_new;
        any = true;
      }
      if (!any) continue;
      if (use_gemm) {
        cpu::sgemm_serial(false, false, R, hd, nt, 1.0f, S, nt, V, row, 1.0f, O, hd);
      } else {
        small_rows_pv(R, S, nt, V, row, hd, O);
      }
    }
    t0 = t1;
  }
}

void write_rows(const Problem& pb, int g, int64_t i0, int64_t i1, const float* O, const float* l) {
  const int64_t hd = pb.kv->head_dim;
  const int64_t G = pb.group;
  for (int64_t r = 0; r < (i1 - i0) * G; ++r) {
    const int64_t i = i0 + r / G;
    const int64_t h = static_cast<int64_t>(g) * G + r % G;
    float* dst = pb.out + i * pb.out_stride + h * hd;
    if (l[r] > 0.0f) {
      const float inv = 1.0f / l[r];
      for (int64_t e = 0; e < hd; ++e) dst[e] = O[r * hd + e] * inv;
    } else {
      std::fill(dst, dst + hd, 0.0f);
    }
  }
}

}  // namespace

void attention(const float* q, int64_t q_stride, int64_t n_q, int64_t q_pos0, const KvSpan& kv,
               const AttentionParams& p, float* out, int64_t out_stride) {
  if (n_q <= 0) return;
  validate(kv, p);
  Problem pb{q, q_stride, n_q, q_pos0, &kv, &p, out, out_stride, p.n_heads / kv.n_kv_heads, 1, 0, {}};
  const int64_t hd = kv.head_dim;
  const int64_t G = pb.group;
  pb.tile_queries = std::max<int64_t>(1, kTargetRows / G);
  pb.block_start.resize(static_cast<size_t>(kv.n_blocks + 1));
  pb.block_start[0] = 0;
  for (int64_t b = 0; b < kv.n_blocks; ++b) pb.block_start[b + 1] = pb.block_start[b] + kv.blocks[b].n_tokens;
  YOCO_CHECK(pb.block_start.back() == kv.n_tokens);

  const int64_t Bq = pb.tile_queries;
  const int64_t n_qtiles = (n_q + Bq - 1) / Bq;
  const int64_t n_kv = kv.n_kv_heads;
  const int64_t row = n_kv * hd;
  pb.key_tile = std::clamp<int64_t>(kTileFloats / row / 16 * 16, 16, 512);
  const int threads = num_threads();

  // Key range of each query tile: the union of its queries' visible ranges.
  std::vector<int64_t> tile_lo(static_cast<size_t>(n_qtiles)), tile_hi(static_cast<size_t>(n_qtiles));
  int64_t longest = 0;
  for (int64_t t = 0; t < n_qtiles; ++t) {
    const int64_t i0 = t * Bq, i1 = std::min(n_q, i0 + Bq);
    int64_t lo0, hi0, lo1, hi1;
    visible_range(kv, p.window, q_pos0 + i0, lo0, hi0);
    visible_range(kv, p.window, q_pos0 + i1 - 1, lo1, hi1);
    tile_lo[t] = lo0;
    tile_hi[t] = std::max(hi1, lo0);
    longest = std::max(longest, tile_hi[t] - tile_lo[t]);
  }

  int64_t n_splits = 1;
  if (n_qtiles < 2 * threads) {
    n_splits = std::clamp<int64_t>((4 * threads + n_qtiles - 1) / n_qtiles, 1,
                                   std::max<int64_t>(1, longest / kMinSplitKeys));
  }
  const int64_t n_items = n_qtiles * n_splits;
  const int64_t R_max = Bq * G;

  // Partial results of split items: per item and kv head, R_max × hd outputs, R_max maxima, R_max sums.
  thread_local std::vector<float> partial;
  const int64_t head_floats = R_max * (hd + 2);
  const int64_t item_floats = n_kv * head_floats;
  if (n_splits > 1) partial.resize(static_cast<size_t>(n_items * item_floats));
  float* part = partial.data();

  std::atomic<int64_t> next{0};
  auto worker = [&](int64_t, int64_t, int) {
    thread_local Scratch sc;
    for (int64_t it = next.fetch_add(1); it < n_items; it = next.fetch_add(1)) {
      // Latest query tiles (the most keys under a causal mask) first.
      const int64_t t = n_qtiles - 1 - it / n_splits;
      const int64_t s = it % n_splits;
      const int64_t i0 = t * Bq, i1 = std::min(n_q, i0 + Bq);
      const int64_t R = (i1 - i0) * G;
      const int64_t len = tile_hi[t] - tile_lo[t];
      const int64_t k0 = tile_lo[t] + len * s / n_splits, k1 = tile_lo[t] + len * (s + 1) / n_splits;
      attend(pb, i0, i1, k0, k1, sc);
      for (int64_t g = 0; g < n_kv; ++g) {
        const float* O = sc.o.data() + g * R * hd;
        const float* m = sc.m.data() + g * R;
        const float* l = sc.l.data() + g * R;
        if (n_splits == 1) {
          write_rows(pb, static_cast<int>(g), i0, i1, O, l);
        } else {
          float* dst = part + (t * n_splits + s) * item_floats + g * head_floats;
          std::copy(O, O + R * hd, dst);
          std::copy(m, m + R, dst + R_max * hd);
          std::copy(l, l + R, dst + R_max * hd + R_max);
        }
      }
    }
  };
  if (n_items == 1 || threads == 1) {
    worker(0, 1, 0);
  } else {
    parallel_for(std::min<int64_t>(threads, n_items), 1, worker);
  }
  if (n_splits == 1) return;

  // Combine the splits of each (query tile, kv head) by log-sum-exp.
  const int64_t pairs = n_qtiles * n_kv;
  parallel_for(pairs, std::max<int64_t>(1, 4096 / (n_splits * R_max * hd)), [&](int64_t p0, int64_t p1, int) {
    thread_local std::vector<float> acc;
    acc.resize(static_cast<size_t>(R_max * hd + R_max));
    for (int64_t pi = p0; pi < p1; ++pi) {
      const int64_t t = pi / n_kv;
      const int64_t g = pi % n_kv;
      const int64_t i0 = t * Bq, i1 = std::min(n_q, i0 + Bq);
      const int64_t R = (i1 - i0) * G;
      float* O = acc.data();
      float* l = acc.data() + R_max * hd;
      auto split = [&](int64_t s) { return part + (t * n_splits + s) * item_floats + g * head_floats; };
      for (int64_t r = 0; r < R; ++r) {
        float M = kNegInf;
        for (int64_t s = 0; s < n_splits; ++s) M = std::max(M, split(s)[R_max * hd + r]);
        std::fill(O + r * hd, O + (r + 1) * hd, 0.0f);
        l[r] = 0.0f;
        if (M == kNegInf) continue;
        for (int64_t s = 0; s < n_splits; ++s) {
          const float* it = split(s);
          const float ms = it[R_max * hd + r];
          if (ms == kNegInf) continue;
          const float w = std::exp(ms - M);
          l[r] += w * it[R_max * hd + R_max + r];
          cpu::axpy(w, it + r * hd, O + r * hd, hd);
        }
      }
      write_rows(pb, static_cast<int>(g), i0, i1, O, l);
    }
  });
}

void attention_reference(const float* q, int64_t q_stride, int64_t n_q, int64_t q_pos0, const KvSpan& kv,
                         const AttentionParams& p, float* out, int64_t out_stride) {
  if (n_q <= 0) return;
  validate(kv, p);
  const int64_t hd = kv.head_dim;
  const int64_t G = p.n_heads / kv.n_kv_heads;
  const int64_t row = static_cast<int64_t>(kv.n_kv_heads) * hd;
  // All keys and values as f32, [n_tokens, n_kv, hd].
  std::vector<float> K(static_cast<size_t>(kv.n_tokens * row)), V(K.size());
  int64_t j0 = 0;
  for (int64_t b = 0; b < kv.n_blocks; ++b) {
    const int64_t n = kv.blocks[b].n_tokens;
    kv_rows_to_f32(kv.dtype, kv.blocks[b].k, n, kv.n_kv_heads, hd, K.data() + j0 * row);
    kv_rows_to_f32(kv.dtype, kv.blocks[b].v, n, kv.n_kv_heads, hd, V.data() + j0 * row);
    j0 += kv.blocks[b].n_tokens;
  }
  std::vector<double> w(static_cast<size_t>(kv.n_tokens)), acc(static_cast<size_t>(hd));
  for (int64_t i = 0; i < n_q; ++i) {
    int64_t lo, hi;
    visible_range(kv, p.window, q_pos0 + i, lo, hi);
    for (int64_t h = 0; h < p.n_heads; ++h) {
      const float* qv = q + i * q_stride + h * hd;
      float* o = out + i * out_stride + h * hd;
      const int64_t g = h / G;
      if (lo >= hi) {
        std::fill(o, o + hd, 0.0f);
        continue;
      }
      double mx = -std::numeric_limits<double>::infinity();
      for (int64_t j = lo; j < hi; ++j) {
        const float* kj = K.data() + j * row + g * hd;
        double s = 0.0;
        for (int64_t e = 0; e < hd; ++e) s += static_cast<double>(qv[e]) * kj[e];
        w[j] = s * p.scale;
        mx = std::max(mx, w[j]);
      }
      double sum = 0.0;
      for (int64_t j = lo; j < hi; ++j) sum += (w[j] = std::exp(w[j] - mx));
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t j = lo; j < hi; ++j) {
        const float* vj = V.data() + j * row + g * hd;
        for (int64_t e = 0; e < hd; ++e) acc[e] += w[j] * vj[e];
      }
      for (int64_t e = 0; e < hd; ++e) o[e] = static_cast<float>(acc[e] / sum);
    }
  }
}

}  // namespace yoco::kernels
