// Kernel benchmarks at YOCO-3B shapes (dim 3072, FFN 8192, 24 query / 8 kv heads of 128, 24 retention heads
// of 128): GEMMs, decode attention over long paged caches, prefill attention, retention, RMSNorm. Prints a
// Markdown table (median and min of the repeats, with the rate each op is bound by) on stdout.
//
// A program, not a test: warm-up, repeats timed with CUDA events on the context's stream.
// Usage: bench_cuda_ops [--quick]   (--quick: smaller caches and fewer repeats)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "kernels/cuda/ops_cuda.h"

namespace yoco::kernels::cuda {
namespace {

struct Stat {
  double median_ms, min_ms;
};

Stat time_op(Context& ctx, int reps, const std::function<void()>& op) {
  op();  // warm-up (and first-call setup)
  op();
  ctx.synchronize();
  cudaEvent_t a, b;
  YOCO_CUDA_CHECK(cudaEventCreate(&a));
  YOCO_CUDA_CHECK(cudaEventCreate(&b));
  std::vector<double> ms;
  for (int r = 0; r < reps; ++r) {
    YOCO_CUDA_CHECK(cudaEventRecord(a, ctx.stream()));
    op();
    YOCO_CUDA_CHECK(cudaEventRecord(b, ctx.stream()));
    YOCO_CUDA_CHECK(cudaEventSynchronize(b));
    float t = 0.0f;
    YOCO_CUDA_CHECK(cudaEventElapsedTime(&t, a, b));
    ms.push_back(t);
  }
  YOCO_CUDA_CHECK(cudaEventDestroy(a));
  YOCO_CUDA_CHECK(cudaEventDestroy(b));
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms.front()};
}

void row(const std::string& what, const Stat& s, double rate, const char* unit) {
  std::printf("| %s | %.3f | %.3f | %.1f %s |\n", what.c_str(), s.median_ms, s.min_ms, rate, unit);
  std::fflush(stdout);
}

// Device memory filled with a constant (benchmarks do not need random values; NaN-free is enough).
template <class T>
DeviceBuffer<T> filled(size_t n, Context& ctx) {
  DeviceBuffer<T> b(n);
  YOCO_CUDA_CHECK(cudaMemsetAsync(b.data(), 0x3c, n * sizeof(T), ctx.stream()));  // ~0.01 (f32) / ~1 (half)
  return b;
}

int run(bool quick) {
  if (!cuda_device_available()) {
    std::fprintf(stderr, "bench_cuda_ops: no CUDA device\n");
    return 2;
  }
  ContextOptions opts;
  opts.scratch_bytes = size_t{1} << 30;
  Context ctx(opts);
  const DeviceInfo& info = ctx.info();
  const int reps = quick ? 5 : 15;
  std::printf("# bench_cuda_ops on %s (sm_%d%d, %d SMs, %.1f GiB)\n\n", info.name.c_str(), info.sm_major,
              info.sm_minor, info.n_sms, static_cast<double>(info.total_bytes) / (1 << 30));
  std::printf("| op | median ms | min ms | rate (at the median) |\n|---|---|---|---|\n");

  const int64_t dim = 3072, ffn = 8192;
  // ---- GEMMs: the fused FFN input projection [2·FFN, dim] and the output projection.
  for (DType t : {DType::BF16, DType::F32}) {
    const size_t es = dtype_size(t);
    DeviceBuffer<uint8_t> W(static_cast<size_t>(2 * ffn * dim) * es), A(static_cast<size_t>(4096 * dim) * es);
    DeviceBuffer<float> C(static_cast<size_t>(4096 * 2 * ffn));
    YOCO_CUDA_CHECK(cudaMemsetAsync(W.data(), 0, W.size(), ctx.stream()));
    YOCO_CUDA_CHECK(cudaMemsetAsync(A.data(), 0, A.size(), ctx.stream()));
    for (int64_t M : {int64_t{1}, int64_t{16}, int64_t{512}, int64_t{4096}}) {
      const Stat s = time_op(
          ctx, reps, [&] { matmul_wt(ctx, t, A.data(), dim, W.data(), C.data(), 2 * ffn, M, 2 * ffn, dim); });
      const double flops = 2.0 * M * 2 * ffn * dim;
      const double bytes = static_cast<double>(W.size());
      if (M <= 16)
        row(std::string("matmul_wt ") + dtype_name(t) + " M=" + std::to_string(M) + " N=16384 K=3072", s,
            bytes / (s.median_ms * 1e6), "GB/s (weights)");
      else
        row(std::string("matmul_wt ") + dtype_name(t) + " M=" + std::to_string(M) + " N=16384 K=3072", s,
            flops / (s.median_ms * 1e9), "TFLOP/s");
    }
  }

  // ---- Attention over the global cache (bf16 pages of 256 tokens), 24 query heads over 8 kv heads of 128:
  // the cross-decoder's decode step (one query; the cache is read once per cross layer) and causal prefill.
  const int n_heads = 24, n_kv = 8, hd = 128, page = 256;
  const std::vector<int64_t> lengths =
      quick ? std::vector<int64_t>{32768, 131072} : std::vector<int64_t>{32768, 131072, 524288};
  const int64_t max_n = lengths.back();
  const int64_t page_elems = static_cast<int64_t>(page) * n_kv * hd;
  const int64_t n_pages = max_n / page;
  DeviceBuffer<uint16_t> kv_store(static_cast<size_t>(2 * n_pages * page_elems));  // bf16 K then V per page
  YOCO_CUDA_CHECK(cudaMemsetAsync(kv_store.data(), 0x3c, kv_store.size() * 2, ctx.stream()));
  std::vector<const void*> kp(static_cast<size_t>(n_pages)), vp(static_cast<size_t>(n_pages));
  for (int64_t i = 0; i < n_pages; ++i) {
    kp[i] = kv_store.data() + 2 * i * page_elems;
    vp[i] = kv_store.data() + (2 * i + 1) * page_elems;
  }
  DeviceBuffer<const void*> k_table(kp), v_table(vp);
  DeviceKvSpan span;
  span.k_pages = k_table.data();
  span.v_pages = v_table.data();
  span.n_pages = n_pages;
  span.page_tokens = page;
  span.dtype = DType::BF16;
  span.n_kv_heads = n_kv;
  span.head_dim = hd;
  AttentionParams ap;
  ap.n_heads = n_heads;
  ap.scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int64_t max_q = quick ? 2048 : 8192;
  DeviceBuffer<float> q = filled<float>(static_cast<size_t>(max_q * n_heads * hd), ctx);
  DeviceBuffer<float> out(static_cast<size_t>(max_q * n_heads * hd));
  for (int64_t n : lengths) {
    span.n_tokens = n;
    const Stat s = time_op(ctx, reps, [&] {
      attention(ctx, q.data(), n_heads * hd, 1, n - 1, span, ap, out.data(), n_heads * hd);
    });
    const double bytes = 2.0 * n * n_kv * hd * 2;
    row("attention decode bf16 24/8x128, " + std::to_string(n / 1024) + "K keys", s,
        bytes / (s.median_ms * 1e6), "GB/s");
  }
  for (int64_t n : {int64_t{2048}, max_q}) {
    span.n_tokens = n;
    const Stat s = time_op(ctx, std::max(3, reps / 3), [&] {
      attention(ctx, q.data(), n_heads * hd, n, 0, span, ap, out.data(), n_heads * hd);
    });
    const double flops = 4.0 * n * n / 2 * hd * n_heads;  // QKᵀ and PV over the causal half
    row("attention prefill causal bf16 24/8x128, n=" + std::to_string(n), s, flops / (s.median_ms * 1e9),
        "TFLOP/s");
  }

  // ---- Gated retention, 24 heads of 128: chunkwise prefill and one recurrent decode step.
  {
    const int H = 24, d = 128;
    const int64_t T = quick ? 4096 : 16384, width = static_cast<int64_t>(H) * d;
    DeviceBuffer<float> qkv = filled<float>(static_cast<size_t>(T * 3 * width), ctx);
    DeviceBuffer<float> decay(static_cast<size_t>(T * H)), state(static_cast<size_t>(H) * d * d),
        o(static_cast<size_t>(T * width));
    YOCO_CUDA_CHECK(cudaMemsetAsync(decay.data(), 0, decay.size() * 4, ctx.stream()));
    YOCO_CUDA_CHECK(cudaMemsetAsync(state.data(), 0, state.size() * 4, ctx.stream()));
    const float* p = qkv.data();
    Stat s = time_op(ctx, std::max(3, reps / 3), [&] {
      retention_chunkwise(ctx, p, p + width, p + 2 * width, 3 * width, decay.data(), T, H, d, state.data(),
                          o.data(), width, 64);
    });
    row("retention chunkwise 24x128, T=" + std::to_string(T), s, T / (s.median_ms * 1e-3) / 1e6, "Mtok/s");
    s = time_op(ctx, reps, [&] {
      retention_recurrent(ctx, p, p + width, p + 2 * width, 3 * width, decay.data(), 1, H, d, state.data(),
                          o.data(), width);
    });
    row("retention recurrent 24x128, 1 token", s, 2.0 * state.size() * 4 / (s.median_ms * 1e6),
        "GB/s (state)");
  }

  // ---- RMSNorm over 4096 rows of 3072.
  {
    DeviceBuffer<float> x = filled<float>(static_cast<size_t>(4096 * dim), ctx), w = filled<float>(dim, ctx);
    const Stat s =
        time_op(ctx, reps, [&] { rmsnorm(ctx, x.data(), dim, w.data(), x.data(), dim, 4096, dim, 1e-5f); });
    row("rmsnorm 4096x3072 in place", s, 2.0 * x.size() * 4 / (s.median_ms * 1e6), "GB/s");
  }
  std::printf("\nscratch high water: %.1f MiB\n",
              static_cast<double>(ctx.scratch().high_water()) / (1 << 20));
  return 0;
}

}  // namespace
}  // namespace yoco::kernels::cuda

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  try {
    return yoco::kernels::cuda::run(quick);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cuda_ops: %s\n", e.what());
    return 1;
  }
}
