// Device attention against the CPU backend's kernels::attention on the same paged K/V (the pages hold the
// same stored values, so f16 / bf16 caches compare at f32 precision too). Cases cover prefill and decode,
// GQA groups 1..4, windows, queries before / after the cache, a query that sees nothing, an empty cache,
// head sizes not a multiple of 32, odd page sizes, and both the split-key (flash-decoding) and unsplit paths.
//
// Tolerance: outputs are convex combinations of V rows (|v| ~ 1); a score's f32 rounding error is about
// sqrt(hd)·u·Σ|q·k|·scale ~ 1e-6 here, which moves a softmax weight by the same relative amount, so 1e-4
// absolute leaves a wide margin while any indexing or masking error is O(0.1).
#include <limits>
#include <string>

#include "tests/cuda/cuda_test_util.h"

namespace yoco::kernels::cuda::test {
namespace {

struct Case {
  std::string name;
  int64_t n_q, q_pos0;
  int64_t n_tokens, kv_pos0;
  int n_heads, n_kv, hd;
  int64_t window;
  int page_tokens;
  DType dtype;
  int max_splits = 0;
};

// Host pages (for the CPU span) and device pages (separately allocated, reached through pointer tables).
struct PagedKv {
  std::vector<std::vector<uint8_t>> k_host, v_host;
  std::vector<KvBlock> blocks;
  std::vector<DeviceBuffer<uint8_t>> k_dev, v_dev;
  DeviceBuffer<const void*> k_table, v_table;

  PagedKv(const Case& c, uint64_t seed) {
    const int64_t row = static_cast<int64_t>(c.n_kv) * c.hd;
    const size_t rb = kv_row_bytes(c.dtype, c.n_kv, c.hd);
    std::vector<const void*> kp, vp;
    for (int64_t start = 0; start < c.n_tokens; start += c.page_tokens) {
      const int64_t n = std::min<int64_t>(c.page_tokens, c.n_tokens - start);
      // A full page is allocated even when partly filled (as the cache does); the tail stays NaN so that
      // reading past n_tokens would show.
      std::vector<float> k = randn(static_cast<size_t>(c.page_tokens * row), seed + 2 * start);
      std::vector<float> v = randn(static_cast<size_t>(c.page_tokens * row), seed + 2 * start + 1);
      for (int64_t i = n * row; i < c.page_tokens * row; ++i) k[i] = v[i] = kNaN;
      std::vector<uint8_t> ks(c.page_tokens * rb), vs(c.page_tokens * rb);
      kernels::kv_rows_from_f32(k.data(), row, c.dtype, ks.data(), c.page_tokens, c.n_kv, c.hd);
      kernels::kv_rows_from_f32(v.data(), row, c.dtype, vs.data(), c.page_tokens, c.n_kv, c.hd);
      k_dev.emplace_back(ks);
      v_dev.emplace_back(vs);
      kp.push_back(k_dev.back().data());
      vp.push_back(v_dev.back().data());
      k_host.push_back(std::move(ks));
      v_host.push_back(std::move(vs));
      blocks.push_back({k_host.back().data(), v_host.back().data(), n});
    }
    k_table = DeviceBuffer<const void*>(kp);
    v_table = DeviceBuffer<const void*>(vp);
  }

  KvSpan cpu_span(const Case& c) const {
    KvSpan s;
    s.blocks = blocks.data();
    s.n_blocks = static_cast<int64_t>(blocks.size());
    s.n_tokens = c.n_tokens;
    s.dtype = c.dtype;
    s.n_kv_heads = c.n_kv;
    s.head_dim = c.hd;
    s.pos0 = c.kv_pos0;
    return s;
  }

  DeviceKvSpan device_span(const Case& c) const {
    DeviceKvSpan s;
    s.k_pages = k_table.data();
    s.v_pages = v_table.data();
    s.n_pages = static_cast<int64_t>(blocks.size());
    s.page_tokens = c.page_tokens;
    s.n_tokens = c.n_tokens;
    s.dtype = c.dtype;
    s.n_kv_heads = c.n_kv;
    s.head_dim = c.hd;
    s.pos0 = c.kv_pos0;
    return s;
  }
};

void run_case(const Case& c) {
  SCOPED_TRACE(c.name);
  const PagedKv kv(c, 1000 + c.n_tokens);
  const int64_t width = static_cast<int64_t>(c.n_heads) * c.hd;
  const int64_t q_stride = width + 3, out_stride = width + 5;
  const std::vector<float> q = randn(static_cast<size_t>(c.n_q * q_stride), 2000 + c.n_q);
  AttentionParams p;
  p.n_heads = c.n_heads;
  p.scale = 1.0f / std::sqrt(static_cast<float>(c.hd));
  p.window = c.window;
  std::vector<float> want(static_cast<size_t>(c.n_q * out_stride), kNaN);
  kernels::attention(q.data(), q_stride, c.n_q, c.q_pos0, kv.cpu_span(c), p, want.data(), out_stride);

  DeviceBuffer<float> dq(q), dout(std::vector<float>(want.size(), kNaN));
  attention(ctx(), dq.data(), q_stride, c.n_q, c.q_pos0, kv.device_span(c), p, dout.data(), out_stride,
            c.max_splits);
  const std::vector<float> got = download(dout);
  std::vector<double> tol(want.size(), 1e-4);
  for (size_t i = 0; i < want.size(); ++i)
    if (std::isnan(want[i])) tol[i] = 0.0;  // padding: must stay NaN (all_within treats NaN as a mismatch)
  std::vector<float> g, w;
  std::vector<double> t;
  for (size_t i = 0; i < want.size(); ++i) {
    if (static_cast<int64_t>(i % out_stride) >= width) {
      EXPECT_TRUE(std::isnan(got[i])) << "padding written at " << i;
      continue;
    }
    g.push_back(got[i]);
    w.push_back(want[i]);
    t.push_back(tol[i]);
  }
  EXPECT_TRUE(all_within(g, to_double(w), t));
}

TEST(CudaAttention, PrefillOverItsOwnKeysGqa) {
  YOCO_SKIP_WITHOUT_DEVICE();
  run_case({"prefill f32 G=3 hd64", 67, 0, 67, 0, 6, 2, 64, 0, 16, DType::F32});
  run_case({"prefill f32 G=1 hd128 unsplit", 45, 0, 45, 0, 4, 4, 128, 0, 7, DType::F32, 1});
  run_case({"prefill f32 G=4 hd32 split 5", 100, 0, 100, 0, 8, 2, 32, 0, 33, DType::F32, 5});
}

TEST(CudaAttention, PrefillAfterACachedPrefixInHalfTypes) {
  YOCO_SKIP_WITHOUT_DEVICE();
  run_case({"bf16 G=2 hd128", 33, 100, 133, 0, 4, 2, 128, 0, 37, DType::BF16});
  run_case({"f16 G=3 hd80", 29, 500, 529, 0, 3, 1, 80, 0, 64, DType::F16});
  run_case({"bf16 cache not from 0", 17, 1000, 300, 717, 2, 2, 96, 0, 50, DType::BF16});
}

TEST(CudaAttention, SlidingWindow) {
  YOCO_SKIP_WITHOUT_DEVICE();
  run_case({"window 17 f16", 50, 0, 50, 0, 4, 4, 32, 17, 8, DType::F16});
  run_case({"window 1 (self only)", 20, 0, 20, 0, 2, 2, 64, 1, 5, DType::F32});
  run_case({"window 100 over a ring-like span", 40, 960, 101 + 39, 860, 6, 6, 64, 100, 16, DType::F32});
}

TEST(CudaAttention, DecodeOverALongCacheSplitsKeys) {
  YOCO_SKIP_WITHOUT_DEVICE();
  // YOCO-3B's cross-decoder shape: 24 query heads over 8 kv heads of 128.
  run_case({"decode bf16 24/8 hd128", 1, 4999, 5000, 0, 24, 8, 128, 0, 256, DType::BF16});
  run_case({"decode f32 unsplit", 1, 4999, 5000, 0, 24, 8, 128, 0, 256, DType::F32, 1});
  run_case({"decode f16 odd pages", 1, 20010, 20011, 0, 8, 2, 64, 0, 999, DType::F16});
  run_case({"decode 3 queries G=4", 3, 3000, 3003, 0, 16, 4, 128, 0, 128, DType::BF16});
}

TEST(CudaAttention, EdgeCases) {
  YOCO_SKIP_WITHOUT_DEVICE();
  run_case({"hd 256", 9, 40, 49, 0, 2, 1, 256, 0, 16, DType::BF16});
  run_case({"hd 2", 9, 0, 9, 0, 2, 1, 2, 0, 3, DType::F32});
  run_case({"queries before the cache see nothing", 5, 0, 50, 100, 4, 2, 64, 0, 16, DType::F32});
  run_case({"window excludes the whole cache", 3, 5000, 1000, 0, 4, 2, 64, 100, 64, DType::F32});
  run_case({"queries after the cache", 4, 1500, 1000, 0, 4, 2, 64, 0, 64, DType::BF16});
  run_case({"empty cache", 3, 10, 0, 0, 4, 2, 64, 0, 16, DType::F32});
  run_case({"one key", 1, 0, 1, 0, 3, 1, 128, 0, 1, DType::F32});
}

// int8 pages (a scale per token and head after the row's values): the device reads the bytes the CPU cache
// holds and dequantises them as the CPU does (one f32 product), so the f32 tolerance holds. hd 30 with one
// kv head makes rows of 34 bytes: most scales are not 4-byte aligned.
TEST(CudaAttention, Int8Pages) {
  YOCO_SKIP_WITHOUT_DEVICE();
  run_case({"decode int8 24/8 hd128", 1, 4999, 5000, 0, 24, 8, 128, 0, 256, DType::Q8});
  run_case({"decode int8 unsplit", 1, 2999, 3000, 0, 8, 2, 64, 0, 100, DType::Q8, 1});
  run_case({"prefill int8 after a prefix", 33, 100, 133, 0, 4, 2, 128, 0, 37, DType::Q8});
  run_case({"int8 hd 30 unaligned scales, window", 20, 0, 20, 0, 2, 1, 30, 7, 5, DType::Q8});
}

// kv_append_pages into int8 pages writes the bytes kernels::kv_rows_from_f32 writes (same rounding, same
// zero / non-finite heads), at tokens that start mid-page and cross pages.
TEST(CudaAttention, KvAppendInt8MatchesTheCpuBytes) {
  YOCO_SKIP_WITHOUT_DEVICE();
  const int n_kv = 3, hd = 40, PT = 5;
  const int64_t rows = 12, t0 = 3, stride = 2 * n_kv * hd + 1, row = static_cast<int64_t>(n_kv) * hd;
  std::vector<float> x = randn(static_cast<size_t>(rows * stride), 77);
  for (int c = 0; c < hd; ++c) x[static_cast<size_t>(2 * stride + hd + c)] = 0.0f;  // row 2, K head 1: zeros
  x[static_cast<size_t>(5 * stride + row + 3)] = kNaN;                               // row 5, V head 0: NaN
  x[static_cast<size_t>(7 * stride + 2 * hd)] = std::numeric_limits<float>::infinity();
  const size_t rb = kv_row_bytes(DType::Q8, n_kv, hd);
  const int64_t pages = (t0 + rows + PT - 1) / PT;
  DeviceBuffer<float> dx(x);
  DeviceBuffer<uint8_t> dpages(std::vector<uint8_t>(static_cast<size_t>(pages * 2 * PT) * rb, 0xAB));
  kv_append_pages(ctx(), dx.data(), stride, dx.data() + row, stride, rows, n_kv, hd, DType::Q8, dpages.data(), PT,
                  t0);
  const std::vector<uint8_t> got = download(dpages);
  std::vector<uint8_t> want(rb);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t t = t0 + r, page = t / PT, slot = t % PT;
    for (int kv = 0; kv < 2; ++kv) {
      kernels::kv_rows_from_f32(x.data() + r * stride + kv * row, stride, DType::Q8, want.data(), 1, n_kv, hd);
      const size_t at = static_cast<size_t>((page * 2 * PT + kv * PT + slot)) * rb;
      for (size_t i = 0; i < rb; ++i)
        ASSERT_EQ(got[at + i], want[i]) << "token " << t << (kv ? " V" : " K") << " byte " << i;
    }
  }
  for (size_t i = 0; i < static_cast<size_t>(t0) * rb; ++i) ASSERT_EQ(got[i], 0xAB) << "before t0: " << i;
}

TEST(CudaAttention, LargePrefillFillsTheDeviceUnsplit) {
  YOCO_SKIP_WITHOUT_DEVICE();
  // 2048 queries × 3 heads per group × 8 groups = 3072 row blocks: the automatic choice is not to split.
  run_case({"prefill 2048 bf16 24/8", 2048, 0, 2048, 0, 24, 8, 128, 0, 256, DType::BF16});
}

}  // namespace
}  // namespace yoco::kernels::cuda::test
