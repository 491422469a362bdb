// Softmax attention (fast path and attention_reference) against a double-precision naive attention written
// here: prefill, decode over long paged caches of uneven blocks in f32/f16/bf16/int8, windows, GQA groups 1/2/4,
// queries after / before the cache, queries that see nothing.
//
// Tolerance per output row (the output is a convex combination of value rows):
// - a score error δ moves the weights by a relative δ, so the output by at most 2·δ·max|v|; scores are f32
//   dot products of length hd: δ <= 4·sqrt(hd)·eps·scale·max_j Σ_e |q_e k_je| (plus the pre-scaling);
// - the running sum and the output accumulate one f32 addition per key tile (128 keys) plus a split combine:
//   4·(tiles + 8)·eps·max|v|.
// K/V in f16/bf16/int8 are rounded once when the fixture stores them; the naive reference reads the same rounded
// values, so the fp32 tolerance applies to every dtype.
#include <algorithm>
#include <cmath>

#include "kernels/ops.h"
#include "test_util.h"

namespace yoco::kernels {
namespace {

using test::kEps;

struct KvFixture {
  DType dtype = DType::F32;
  int n_kv = 0, hd = 0;
  int64_t pos0 = 0, n_tokens = 0;
  std::vector<std::vector<uint8_t>> k_store, v_store;
  std::vector<KvBlock> blocks;
  std::vector<float> k, v;  // the stored values as f32, [n_tokens, n_kv, hd]

  KvSpan span() const {
    KvSpan s;
    s.blocks = blocks.data();
    s.n_blocks = static_cast<int64_t>(blocks.size());
    s.n_tokens = n_tokens;
    s.dtype = dtype;
    s.n_kv_heads = n_kv;
    s.head_dim = hd;
    s.pos0 = pos0;
    return s;
  }
};

KvFixture make_kv(DType dtype, int n_kv, int hd, int64_t pos0, const std::vector<int64_t>& block_sizes,
                  uint64_t seed) {
  KvFixture f;
  f.dtype = dtype;
  f.n_kv = n_kv;
  f.hd = hd;
  f.pos0 = pos0;
  for (int64_t s : block_sizes) f.n_tokens += s;
  const int64_t row = static_cast<int64_t>(n_kv) * hd;
  f.k = test::randn(static_cast<size_t>(f.n_tokens * row), seed);
  f.v = test::randn(static_cast<size_t>(f.n_tokens * row), seed + 1);
  const size_t rb = kv_row_bytes(dtype, n_kv, hd);
  int64_t off = 0;
  f.k_store.resize(block_sizes.size());
  f.v_store.resize(block_sizes.size());
  for (size_t b = 0; b < block_sizes.size(); ++b) {
    const int64_t n = block_sizes[b];
    f.k_store[b].resize(std::max<size_t>(1, static_cast<size_t>(n) * rb));
    f.v_store[b].resize(std::max<size_t>(1, static_cast<size_t>(n) * rb));
    kv_rows_from_f32(f.k.data() + off * row, row, dtype, f.k_store[b].data(), n, n_kv, hd);
    kv_rows_from_f32(f.v.data() + off * row, row, dtype, f.v_store[b].data(), n, n_kv, hd);
    kv_rows_to_f32(dtype, f.k_store[b].data(), n, n_kv, hd, f.k.data() + off * row);
    kv_rows_to_f32(dtype, f.v_store[b].data(), n, n_kv, hd, f.v.data() + off * row);
    f.blocks.push_back({f.k_store[b].data(), f.v_store[b].data(), block_sizes[b]});
    off += block_sizes[b];
  }
  return f;
}

std::vector<int64_t> random_blocks(int64_t total, int64_t max_block, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> sizes;
  while (total > 0) {
    const int64_t s =
        std::min<int64_t>(total, 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(max_block)));
    sizes.push_back(s);
    total -= s;
  }
  return sizes;
}

struct Case {
  int n_heads, n_kv, hd;
  int64_t n_q, q_pos0, window;
  DType dtype;
  int64_t kv_pos0;
  std::vector<int64_t> blocks;
};

// Runs `fn` (attention or attention_reference) and checks it against the naive double attention.
template <typename Fn>
void check(const Case& c, uint64_t seed, Fn fn, const char* what) {
  const KvFixture kv = make_kv(c.dtype, c.n_kv, c.hd, c.kv_pos0, c.blocks, seed);
  const int64_t width = static_cast<int64_t>(c.n_heads) * c.hd;
  const int64_t q_stride = width + 7, out_stride = width + 3;
  const auto q = test::randn(static_cast<size_t>(c.n_q * q_stride), seed + 2);
  std::vector<float> out = test::poisoned(static_cast<size_t>(c.n_q * out_stride));
  AttentionParams p;
  p.n_heads = c.n_heads;
  p.scale = 1.0f / std::sqrt(static_cast<float>(c.hd));
  p.window = c.window;
  fn(q.data(), q_stride, c.n_q, c.q_pos0, kv.span(), p, out.data(), out_stride);

  const int G = c.n_heads / c.n_kv;
  const int64_t row = static_cast<int64_t>(c.n_kv) * c.hd;
  double max_v = 0.0;
  for (float x : kv.v) max_v = std::max(max_v, static_cast<double>(std::fabs(x)));
  std::vector<float> got;
  std::vector<double> want, tol;
  int64_t n_empty = 0;
  std::vector<double> s(static_cast<size_t>(kv.n_tokens));
  for (int64_t i = 0; i < c.n_q; ++i) {
    const int64_t qp = c.q_pos0 + i;
    for (int h = 0; h < c.n_heads; ++h) {
      const float* qv = q.data() + i * q_stride + h * c.hd;
      const int g = h / G;
      double mx = -1e300, max_abs_qk = 0.0;
      int64_t n_vis = 0;
      for (int64_t j = 0; j < kv.n_tokens; ++j) {
        const int64_t kp = kv.pos0 + j;
        const bool visible = kp <= qp && (c.window == 0 || kp > qp - c.window);
        if (!visible) {
          s[j] = -1e300;
          continue;
        }
        ++n_vis;
        double d = 0.0, a = 0.0;
        for (int e = 0; e < c.hd; ++e) {
          const double t = static_cast<double>(qv[e]) * kv.k[j * row + g * c.hd + e];
          d += t;
          a += std::fabs(t);
        }
        s[j] = d * p.scale;
        mx = std::max(mx, s[j]);
        max_abs_qk = std::max(max_abs_qk, a * p.scale);
      }
      std::vector<double> o(static_cast<size_t>(c.hd), 0.0);
      if (n_vis > 0) {
        double z = 0.0;
        for (int64_t j = 0; j < kv.n_tokens; ++j) {
          if (s[j] == -1e300) continue;
          const double w = std::exp(s[j] - mx);
          z += w;
          for (int e = 0; e < c.hd; ++e) o[e] += w * kv.v[j * row + g * c.hd + e];
        }
        for (double& x : o) x /= z;
      } else {
        ++n_empty;
      }
      const double delta = 4 * std::sqrt(static_cast<double>(c.hd)) * kEps * max_abs_qk + kEps * max_abs_qk;
      const double tiles = static_cast<double>(n_vis / 128 + 1);
      const double t = max_v * (2 * delta + 4 * (tiles + 8) * kEps);
      for (int e = 0; e < c.hd; ++e) {
        got.push_back(out[i * out_stride + h * c.hd + e]);
        want.push_back(o[e]);
        tol.push_back(n_vis > 0 ? t : 0.0);  // a query that sees nothing gets exact zeros
      }
    }
    for (int64_t e = width; e < out_stride; ++e)
      EXPECT_TRUE(std::isnan(out[i * out_stride + e])) << "padding written";
  }
  EXPECT_TRUE(test::all_within(got, want, tol))
      << what << ": heads " << c.n_heads << "/" << c.n_kv << " hd " << c.hd << " n_q " << c.n_q << " q_pos0 "
      << c.q_pos0 << " window " << c.window << " dtype " << dtype_name(c.dtype) << " n_kv " << kv.n_tokens
      << " (empty rows " << n_empty << ")";
}

void check_both(const Case& c, uint64_t seed) {
  check(c, seed, attention, "attention");
  check(c, seed, attention_reference, "attention_reference");
}

TEST(Attention, PrefillGqaGroups) {
  for (int G : {1, 2, 4}) {
    check_both({2 * G, 2, 40, 129, 0, 0, DType::F32, 0, {50, 1, 78}}, 10 + G);
  }
}

TEST(Attention, PrefillNarrowCaches) {
  for (DType t : {DType::F16, DType::BF16, DType::Q8}) {
    check_both({4, 2, 24, 300, 0, 0, t, 0, {64, 64, 64, 64, 44}}, 20);
  }
}

TEST(Attention, PrefillWindowed) {
  for (int64_t w : {1, 17, 200}) {
    check_both({4, 1, 24, 300, 0, w, DType::F32, 0, {100, 7, 193}}, 30 + static_cast<uint64_t>(w));
  }
}

TEST(Attention, QueriesAfterTheCacheStart) {
  // Keys at positions 10..309; queries 250..286 see a causal prefix; queries 400.. see every key.
  check_both({6, 2, 40, 37, 250, 0, DType::F32, 10, {128, 172}}, 40);
  check_both({6, 3, 40, 7, 400, 0, DType::BF16, 10, {1, 299}}, 41);
  // A question appended after a long cache: 19 queries continuing the sequence.
  check_both({4, 2, 24, 19, 2000, 0, DType::F16, 0, random_blocks(2000, 300, 42)}, 42);
}

TEST(Attention, QueriesThatSeeNoKeyGetZeros) {
  // Keys at 100..149; queries 90..109: the first ten precede every key.
  check_both({2, 1, 24, 20, 90, 0, DType::F32, 100, {30, 20}}, 50);
  // Window 5 at positions 160..: the newest key (149) is out of every window.
  check_both({2, 2, 24, 5, 160, 5, DType::F32, 100, {50}}, 51);
  // An empty cache.
  check_both({2, 1, 24, 3, 0, 0, DType::F32, 0, {}}, 52);
}

TEST(Attention, DecodeLongPagedCacheAllDtypes) {
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8}) {
    for (int G : {1, 2, 4}) {
      const auto blocks = random_blocks(5003, 700, 60 + G);
      check_both({2 * G, 2, 40, 1, 5002, 0, t, 0, blocks}, 61 + G);
    }
  }
}

TEST(Attention, DecodeWindowedAndBatched) {
  const auto blocks = random_blocks(3001, 500, 70);
  check_both({4, 2, 40, 1, 3000, 1000, DType::F32, 0, blocks}, 71);
  // A few queries at once over a long cache: split keys with causal masks inside the splits.
  check_both({4, 2, 40, 3, 2998, 0, DType::F16, 0, blocks}, 72);
  check_both({8, 2, 24, 5, 3003, 1500, DType::BF16, 7, blocks}, 73);
  // Two query tiles (128 + 1 queries), each split over the keys: the combine indexes tiles and splits.
  check_both({2, 2, 24, 129, 2872, 0, DType::F32, 0, blocks}, 74);
  // Head sizes that are a multiple of 8 with few query rows: the eight-keys-at-a-time loops, with window and
  // causal masks cutting inside a block of eight, tails of 1..7 keys, and f16 keys.
  check_both({4, 2, 32, 1, 3000, 1000, DType::F32, 0, blocks}, 75);
  check_both({4, 2, 32, 3, 2998, 37, DType::F32, 0, blocks}, 76);
  check_both({2, 1, 16, 2, 2999, 0, DType::F16, 0, blocks}, 77);
}

// Draft checks: 9..64 query rows (queries x GQA group) take the register-blocked loops in groups of eight
// rows; the causal mask differs between the groups' rows, and a partial last group (R = 18, 28, 32, 15, 50).
TEST(Attention, DraftSizedQueryTilesInRowGroups) {
  const auto blocks = random_blocks(3001, 500, 90);
  check_both({4, 2, 32, 9, 2992, 0, DType::F32, 0, blocks}, 91);     // G 2: R 18
  check_both({8, 2, 32, 7, 2994, 600, DType::F32, 0, blocks}, 92);   // G 4: R 28, windowed
  check_both({4, 2, 32, 16, 2985, 0, DType::BF16, 3, blocks}, 93);   // G 2: R 32, bf16 keys
  check_both({6, 2, 24, 5, 2996, 0, DType::F32, 0, blocks}, 94);     // G 3: R 15, per-key loops (hd 24)
  check_both({10, 2, 32, 10, 2991, 0, DType::F16, 0, blocks}, 95);   // G 5: R 50
  check_both({8, 2, 32, 5, 2996, 0, DType::Q8, 0, blocks}, 96);      // G 4: R 20, int8 keys
}

TEST(Attention, DecodeOver64kKeys) {
  const auto blocks = random_blocks(66000, 4096, 80);
  check({4, 1, 64, 1, 65999, 0, DType::F16, 0, blocks}, 81, attention, "attention");
}

}  // namespace
}  // namespace yoco::kernels
