// yoco bench llm --device cuda: YOCO against a same-shape GQA Transformer on the GPU, in one run and one table —
// real prefill time of the whole context, decode tokens/s at that context, device memory — at the YOCO-3B shape by
// default (26 layers, dim 3072, FFN 8192, 24/8 heads, vocab 100,288; random bf16 weights), beside the measured
// ceilings (a large device-to-device copy, a large bf16 cuBLAS GEMM). Built only with the CUDA backend.
#include <cuda_runtime_api.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <random>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/args.h"
#include "apps/bench_llm_cuda.h"
#include "apps/bench_util.h"
#include "apps/stream_cli.h"
#include "kernels/error.h"
#include "llm/device_session.h"
#include "llm/random_model.h"

namespace yoco::app {
namespace {

namespace cu = kernels::cuda;
using kernels::DType;

DType parse_weight_dtype(const std::string& s) {
  const auto t = kernels::dtype_from_name(s);
  YOCO_REQUIRE(t && *t != DType::Q8, "--weights must be bf16, f16 or f32 (got '" + s + "')");
  return *t;
}

struct Ceilings {
  double copy_gbps = 0, gemm_tflops = 0;
};

Ceilings measure_ceilings(cu::Context& ctx, int reps) {
  Ceilings c;
  const size_t bytes = size_t{1} << 30;
  cu::DeviceBuffer<char> a(bytes), b(bytes);
  YOCO_CUDA_CHECK(cudaMemset(a.data(), 1, bytes));
  const Stat cp = time_it(1, reps, [&] {
    YOCO_CUDA_CHECK(cudaMemcpyAsync(b.data(), a.data(), bytes, cudaMemcpyDeviceToDevice, ctx.stream()));
    ctx.synchronize();
  });
  c.copy_gbps = 2.0 * bytes / cp.median / 1e9;  // read + write
  const int64_t G = 8192;
  cu::DeviceBuffer<uint16_t> A(G * G), W(G * G);
  YOCO_CUDA_CHECK(cudaMemset(A.data(), 0, G * G * 2));
  YOCO_CUDA_CHECK(cudaMemset(W.data(), 0, G * G * 2));
  cu::DeviceBuffer<float> C(G * G);
  const Stat gm = time_it(1, reps, [&] {
    cu::matmul_wt(ctx, DType::BF16, A.data(), G, W.data(), C.data(), G, G, G, G);
    ctx.synchronize();
  });
  c.gemm_tflops = 2.0 * G * G * G / gm.median / 1e12;
  return c;
}

struct Row {
  std::string arch;
  int64_t context = 0;
  double prefill_s = -1;  // -1: not measured (past --max-prefill for this arch)
  double decode_tps = 0;
  size_t cache_bytes = 0, device_bytes = 0;
};

}  // namespace

int run_bench_llm_cuda(const std::vector<std::string>& args) {
  ArgParser ap("bench llm --device cuda", "yoco bench llm --device cuda [options]",
               "YOCO vs a same-shape GQA Transformer on the GPU (random weights): prefill time of the whole\n"
               "context, decode tokens/s at it (the cache filled with random K/V), device memory, and the\n"
               "measured ceilings (device copy bandwidth, bf16 GEMM). Defaults: the YOCO-3B shape.");
  ap.option("device", "D", "cuda (cpu: the CPU benchmark)", "cuda");
  ap.option("dim", "D", "model width", "3072");
  ap.option("layers", "L", "layers (YOCO: L/2 self + L/2 cross)", "26");
  ap.option("hidden", "H", "FFN width", "8192");
  ap.option("heads", "N", "attention heads (and self-decoder heads)", "24");
  ap.option("kv-heads", "N", "K/V heads", "8");
  ap.option("vocab", "V", "vocabulary", "100288");
  ap.option("contexts", "LIST", "context lengths", "32K,64K,128K,256K,512K");
  ap.option("max-prefill", "N", "longest context whose Transformer prefill is timed (quadratic)", "128K");
  ap.option("decode-steps", "N", "decode steps per timed run", "32");
  ap.option("batch", "N", "tokens per prefill batch", "4096");
  ap.option("reps", "N", "timed repetitions of decode (median reported)", "3");
  ap.option("weights", "T", "bf16, f16 or f32", "bf16");
  ap.option("cache-dtype", "T", "bf16, f16, f32 or int8 (a scale per token and head: 0.52x of bf16 at head "
            "dim 128)", "bf16");
  ap.flag("json", "print the table as JSON");
  if (!ap.parse(args)) return 0;
  YOCO_REQUIRE(cu::cuda_device_available(), "bench llm --device cuda: no CUDA device");

  const llm::ModelConfig yc = yoco_shape_from_args(ap);
  const llm::ModelConfig tc = transformer_like(yc);
  const auto contexts = parse_lengths(ap.get("contexts"), int64_t{1} << 22);
  const int64_t max_prefill = parse_lengths(ap.get("max-prefill"), int64_t{1} << 22).at(0);
  const int steps = static_cast<int>(ap.get_int("decode-steps")), reps = static_cast<int>(ap.get_int("reps"));
  llm::DeviceOptions o;
  o.weight_dtype = parse_weight_dtype(ap.get("weights"));
  o.cache_dtype = parse_cache_dtype(ap.get("cache-dtype"), "--cache-dtype");
  o.max_batch = static_cast<int>(ap.get_int("batch"));

  cu::Context ctx;
  const Ceilings ceil = measure_ceilings(ctx, reps);

  namespace fs = std::filesystem;
  const BenchTempDir tmp_dir("yoco-bench-llm-cuda");
  const fs::path& tmp = tmp_dir.path;
  std::vector<Row> rows;
  nlohmann::json j;
  for (const auto& [name, cfg] : {std::pair{std::string("yoco"), yc}, std::pair{std::string("transformer"), tc}}) {
    llm::write_random_model((tmp / name).string(), cfg, name == "yoco" ? 1 : 2);
    auto dm = std::make_shared<const llm::DeviceModel>(llm::Model::load((tmp / name).string()), o.weight_dtype);
    fs::remove_all(tmp / name);
    j["params"][name] = dm->host().weights().n_params;
    j["weight_bytes"][name] = dm->bytes();
    std::mt19937 rng(3);
    {  // warm-up: cuBLAS heuristics, first launches, page-table uploads
      llm::DeviceOptions w = o;
      w.max_tokens = 2 * o.max_batch + 64;
      llm::DeviceSession s(dm, ctx, w);
      s.prefill(std::vector<int32_t>(static_cast<size_t>(2 * o.max_batch), 1));
      for (int i = 0; i < 8; ++i) s.forward(std::vector<int32_t>{1});
    }
    for (int64_t n : contexts) {
      Row r;
      r.arch = name;
      r.context = n;
      o.max_tokens = n + steps * (reps + 1) + 16;
      try {
        llm::DeviceSession s(dm, ctx, o);
        if (name == "yoco" || n <= max_prefill) {  // a real prefill of the whole context, timed once
          std::vector<int32_t> toks(static_cast<size_t>(n));
          for (auto& t : toks) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(cfg.vocab_size));
          const auto t0 = std::chrono::steady_clock::now();
          s.prefill(toks);
          r.prefill_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        } else {
          s.fill_random_context(n, 11);
        }
        int32_t tok = 1;
        const Stat d = time_it(1, reps, [&] {
          for (int i = 0; i < steps; ++i) {
            const auto lg = s.forward(std::span<const int32_t>(&tok, 1));
            tok = static_cast<int32_t>(std::max_element(lg.begin(), lg.end()) - lg.begin());
          }
        });
        r.decode_tps = steps / d.median;
        r.cache_bytes = s.cache_bytes();
        r.device_bytes = s.device_bytes() + dm->bytes();
      } catch (const Error& e) {  // out of device memory at this context: reported, the run goes on
        std::fprintf(stderr, "%s at %lld: %s\n", name.c_str(), static_cast<long long>(n), e.what());
        r.decode_tps = -1;
      }
      rows.push_back(r);
    }
  }
  cudaDeviceProp prop{};
  YOCO_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  j["device"] = prop.name;
  j["ceilings"] = {{"copy_gb_per_s", ceil.copy_gbps}, {"bf16_gemm_tflops", ceil.gemm_tflops}};
  for (const auto& r : rows)
    j["rows"].push_back({{"arch", r.arch}, {"context", r.context}, {"prefill_s", r.prefill_s},
                         {"decode_tokens_per_s", r.decode_tps}, {"cache_bytes", r.cache_bytes},
                         {"device_bytes", r.device_bytes}});
  if (ap.has("json")) {
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("yoco bench llm --device cuda — %s; dim %d, %d layers, %d/%d heads, FFN %d, vocab %d; %s weights, "
              "%s cache; decode median of %d × %d steps\n",
              prop.name, yc.dim, yc.n_layers, yc.n_attn_heads, yc.n_attn_kv_heads, yc.hidden_dim, yc.vocab_size,
              ap.get("weights").c_str(), ap.get("cache-dtype").c_str(), reps, steps);
  std::printf("ceilings: device copy %.0f GB/s, bf16 GEMM (8192³) %.0f TFLOP/s\n\n", ceil.copy_gbps,
              ceil.gemm_tflops);
  std::printf("%-12s %8s %12s %14s %12s %12s\n", "arch", "context", "prefill s", "decode tok/s", "cache GB",
              "device GB");
  for (const auto& r : rows) {
    char pre[32] = "-";
    if (r.prefill_s >= 0) std::snprintf(pre, sizeof pre, "%.2f", r.prefill_s);
    if (r.decode_tps < 0) {
      std::printf("%-12s %8lld %12s %14s\n", r.arch.c_str(), static_cast<long long>(r.context), "out of memory", "");
      continue;
    }
    std::printf("%-12s %8lld %12s %14.1f %12.2f %12.2f\n", r.arch.c_str(), static_cast<long long>(r.context), pre,
                r.decode_tps, r.cache_bytes / 1e9, r.device_bytes / 1e9);
  }
  std::printf("\npaper (H100, YOCO-3B): 512K prefill < 6 s (target ≤ 4 s); 43 tok/s decode at 512K (target ≥ 60); "
              "12.4 GB at 1M (target ≤ 10 GB)\n");
  return 0;
}

}  // namespace yoco::app
