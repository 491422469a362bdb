// yoco bench llm: YOCO against a same-shape GQA Transformer in one run and one table — prefill and decode
// tokens/s at growing contexts, time to the first token of a question, cache bytes per token — plus the GEMM
// ceiling measured in the same run and, when PyTorch is available, the reference's cached decode speed.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <random>
#include <sstream>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/args.h"
#include "apps/bench.h"
#include "apps/bench_llm_cuda.h"
#include "apps/bench_util.h"
#include "apps/common.h"
#include "apps/stream_cli.h"
#include "kernels/error.h"
#include "kernels/ops.h"
#include "kernels/thread_pool.h"
#include "llm/random_model.h"
#include "llm/session.h"

namespace yoco::app {
namespace {

// Non-embedding parameters a token passes through in prefill (YOCO: self-decoder + K̂/V̂ projection only).
double prefill_flops_per_token(const llm::ModelConfig& c) {
  const double d = c.dim, h = c.hidden_dim, kvd = c.kv_dim();
  const double ffn = 3 * d * h;
  if (c.arch == llm::Arch::Yoco) {
    const double mixer = c.retention() ? 5 * d * d + c.n_self_heads * d : 4 * d * d;
    return 2 * (c.n_self_layers() * (mixer + ffn) + 2 * d * kvd);
  }
  const double hd = c.head_dim();
  return 2 * c.n_layers * (d * (c.n_attn_heads + 2 * c.n_attn_kv_heads) * hd + d * d + ffn);
}

struct Row {
  std::string cache_dtype;
  std::string arch;
  int64_t context;
  Stat prefill_s, decode_s, ttft_s;
  int64_t prefill_tokens, decode_tokens;
  size_t cache_bytes;
};

int run_bench_llm(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--device=cuda" || (args[i] == "--device" && i + 1 < args.size() && args[i + 1] == "cuda")) {
#ifdef YOCO_APP_HAVE_CUDA
      return run_bench_llm_cuda(args);
#else
      exec_cuda_build("bench llm --device cuda");
#endif
    }
  }
  ArgParser ap("bench llm", "yoco bench llm [options]",
               "YOCO vs a same-shape Transformer on random weights: prefill and decode tokens/s at each\n"
               "context, time to the first token of a question, cache bytes per token, the GEMM ceiling\n"
               "of this machine, and the PyTorch reference's decode speed (when torch is importable).\n"
               "Long contexts are reached by filling the caches with random K/V (costs do not depend on\n"
               "the values), so a quadratic Transformer prefill is not needed to time a 64K decode.");
  ap.option("device", "D", "cpu, or cuda: the GPU benchmark at the YOCO-3B shape (its own options: "
            "yoco bench llm --device cuda --help)", "cpu");
  ap.option("dim", "D", "model width", "256");
  ap.option("layers", "L", "layers (YOCO: L/2 self + L/2 cross)", "8");
  ap.option("hidden", "H", "FFN width", "768");
  ap.option("heads", "N", "attention heads (and self-decoder heads)", "4");
  ap.option("kv-heads", "N", "K/V heads", "2");
  ap.option("vocab", "V", "vocabulary", "8192");
  ap.option("contexts", "LIST", "context lengths", "1K,4K,16K,64K");
  ap.option("prefill-chunk", "N", "tokens per timed prefill", "512");
  ap.option("decode-steps", "N", "decode steps per timed run", "16");
  ap.option("question", "N", "question length for time-to-first-token", "20");
  ap.option("reps", "N", "timed repetitions (median reported)", "5");
  ap.option("cache-dtype", "LIST", "f32, f16, bf16 or int8 (a scale per token and head); a comma list "
            "(e.g. f32,bf16,int8) compares them in one run", "f32");
  ap.option("python", "PATH", "interpreter with torch for the reference figure ('none' to skip)",
            "/usr/bin/python3");
  ap.flag("json", "print the table as JSON");
  if (!ap.parse(args)) return 0;
  YOCO_REQUIRE(ap.get("device") == "cpu", "--device must be cpu or cuda (got '" + ap.get("device") + "')");

  const llm::ModelConfig yc = yoco_shape_from_args(ap);
  const llm::ModelConfig tc = transformer_like(yc);
  const auto contexts = parse_lengths(ap.get("contexts"));
  const int64_t chunk = ap.get_int("prefill-chunk"), steps = ap.get_int("decode-steps"),
                qlen = ap.get_int("question");
  const int reps = static_cast<int>(std::max<long long>(1, ap.get_int("reps")));
  llm::SessionOptions so;
  const std::string dt = ap.get("cache-dtype");
  std::vector<std::pair<std::string, kernels::DType>> dtypes;
  for (std::stringstream ss(dt); ss.good();) {
    std::string name;
    std::getline(ss, name, ',');
    dtypes.emplace_back(name, parse_cache_dtype(name, "--cache-dtype"));
  }
  so.cache_dtype = dtypes.front().second;
  so.max_batch = static_cast<int>(std::max<int64_t>(chunk, 256));

  const BenchTempDir tmp_dir("yoco-bench-llm");
  namespace fs = std::filesystem;
  const fs::path& tmp = tmp_dir.path;
  llm::write_random_model((tmp / "yoco").string(), yc, 1);
  llm::write_random_model((tmp / "transformer").string(), tc, 2);
  auto ym = llm::Model::load((tmp / "yoco").string());
  auto tm = llm::Model::load((tmp / "transformer").string());

  std::mt19937 rng(7);
  auto tokens = [&](int64_t n) {
    std::vector<int32_t> t(n);
    for (auto& x : t) x = static_cast<int32_t>(rng() % yc.vocab_size);
    return t;
  };
  const auto chunk_tokens = tokens(chunk), question = tokens(qlen);

  // GEMM ceiling of this machine, same run: a large square sgemm through the kernel layer.
  const int64_t G = 1024;
  std::vector<float> A(G * G, 0.5f), Bm(G * G, 0.25f), C(G * G);
  const Stat gemm = time_it(1, reps, nullptr, [&] { kernels::matmul_wt(A.data(), G, Bm.data(), C.data(), G, G, G, G); });
  const double gemm_gflops = 2.0 * G * G * G / gemm.median / 1e9;

  std::vector<Row> rows;
  for (const auto& [dname, dtype] : dtypes) {
    so.cache_dtype = dtype;
    for (const auto& [name, model] : {std::pair{"yoco", ym}, std::pair{"transformer", tm}}) {
      for (int64_t ctx : contexts) {
        llm::Session s(model, so);
        s.append_random_context(ctx, 11);
        s.mark();
        Row r{dname, name, ctx, {}, {}, {}, chunk, steps, 0};
        r.prefill_s = time_it(1, reps, [&] { s.rollback(ctx); }, [&] { s.prefill(chunk_tokens); });
        r.decode_s = time_it(1, reps, [&] { s.rollback(ctx); }, [&] {
          int32_t t = 1;
          for (int64_t i = 0; i < steps; ++i) t = kernels::argmax(s.step(t).data(), yc.vocab_size);
        });
        s.rollback(ctx);
        r.ttft_s = time_it(1, reps, nullptr, [&] {
          llm::Session f = s.fork();
          f.forward(question);
        });
        r.cache_bytes = s.cache_bytes();
        rows.push_back(r);
      }
    }
  }
  so.cache_dtype = dtypes.front().second;

  // The PyTorch reference's cached decode for the same YOCO model (subprocess; skipped without torch).
  double torch_tps = -1, cpp_tps_ref = -1;
  const int64_t ref_ctx = 1024;
  const std::string py = ap.get("python");
  const fs::path script = fs::path(YOCO_SOURCE_DIR_STR) / "tools" / "reference" / "bench_decode.py";
  if (py != "none" && fs::exists(script) && fs::exists(py)) {
    const std::string cmd = py + " " + script.string() + " " + (tmp / "yoco").string() +
                            " --context " + std::to_string(ref_ctx) + " --steps 32 --threads " +
                            std::to_string(kernels::num_threads()) + " --json 2>/dev/null";
    if (FILE* p = popen(cmd.c_str(), "r")) {
      std::string out;
      char buf[4096];
      while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
      if (pclose(p) == 0) {
        auto j = nlohmann::json::parse(out.substr(out.find('{')), nullptr, false);
        if (j.is_object() && j.contains("tokens_per_s")) torch_tps = j["tokens_per_s"].get<double>();
      }
    }
    // Our decode at the same context, by a real prefill (not random fill), 32 steps.
    llm::Session s(ym, so);
    s.prefill(tokens(ref_ctx));
    s.mark();
    const Stat st = time_it(1, reps, [&] { s.rollback(ref_ctx); }, [&] {
      int32_t t = 1;
      for (int i = 0; i < 32; ++i) t = kernels::argmax(s.step(t).data(), yc.vocab_size);
    });
    cpp_tps_ref = 32 / st.median;
  }

  auto find = [&](const std::string& arch, int64_t ctx) -> const Row& {  // the first cache dtype's rows
    for (const auto& r : rows)
      if (r.arch == arch && r.context == ctx && r.cache_dtype == dtypes.front().first) return r;
    YOCO_CHECK(false);
    return rows[0];
  };
  const int64_t big = contexts.empty() ? 0 : contexts.back();
  nlohmann::json j;
  j["model"] = {{"dim", yc.dim}, {"layers", yc.n_layers}, {"hidden", yc.hidden_dim}, {"heads", yc.n_attn_heads},
                {"kv_heads", yc.n_attn_kv_heads}, {"vocab", yc.vocab_size},
                {"yoco_params", ym->weights().n_params}, {"transformer_params", tm->weights().n_params}};
  j["threads"] = kernels::num_threads();
  j["cache_dtype"] = dt;
  j["gemm_gflops"] = gemm_gflops;
  for (const auto& r : rows) {
    const double ptps = r.prefill_tokens / r.prefill_s.median;
    const auto& m = r.arch == "yoco" ? ym : tm;
    j["rows"].push_back({{"cache_dtype", r.cache_dtype}, {"arch", r.arch}, {"context", r.context},
                         {"prefill_tokens_per_s", ptps},
                         {"prefill_gflops", ptps * prefill_flops_per_token(m->config()) / 1e9},
                         {"decode_tokens_per_s", r.decode_tokens / r.decode_s.median},
                         {"decode_spread", {r.decode_tokens / r.decode_s.max, r.decode_tokens / r.decode_s.min}},
                         {"ttft_ms", r.ttft_s.median * 1e3}, {"ttft_max_ms", r.ttft_s.max * 1e3},
                         {"cache_bytes", r.cache_bytes},
                         {"cache_bytes_per_token", r.context ? static_cast<double>(r.cache_bytes) / r.context : 0}});
  }
  if (big > 0) {
    const Row& y = find("yoco", big);
    const Row& t = find("transformer", big);
    j["summary"] = {{"context", big},
                    {"cache_ratio_transformer_over_yoco", static_cast<double>(t.cache_bytes) / y.cache_bytes},
                    {"decode_speedup_yoco_over_transformer", t.decode_s.median / y.decode_s.median},
                    {"yoco_prefill_fraction_of_gemm",
                     (y.prefill_tokens / y.prefill_s.median) * prefill_flops_per_token(ym->config()) / 1e9 /
                         gemm_gflops}};
  }
  if (torch_tps > 0) {
    j["reference"] = {{"context", ref_ctx}, {"torch_decode_tokens_per_s", torch_tps},
                      {"cpp_decode_tokens_per_s", cpp_tps_ref}, {"speedup", cpp_tps_ref / torch_tps}};
  }
  if (ap.has("json")) {
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("yoco bench llm — dim %d, %d layers, %d/%d heads, FFN %d, vocab %d; YOCO %.1fM params, "
              "Transformer %.1fM; %d threads; %s cache; median of %d\n",
              yc.dim, yc.n_layers, yc.n_attn_heads, yc.n_attn_kv_heads, yc.hidden_dim, yc.vocab_size,
              ym->weights().n_params / 1e6, tm->weights().n_params / 1e6, kernels::num_threads(), dt.c_str(), reps);
  std::printf("GEMM ceiling (1024³ sgemm): %.1f GFLOP/s\n\n", gemm_gflops);
  std::printf("%-6s %-12s %8s %14s %10s %14s %20s %12s %12s\n", "cache", "arch", "context", "prefill tok/s",
              "GFLOP/s", "decode tok/s", "(min..max)", "TTFT ms", "cache MB");
  for (const auto& r : j["rows"]) {
    std::printf("%-6s %-12s %8lld %14.0f %10.1f %14.1f %9.1f..%-10.1f %12.1f %12.2f\n",
                r["cache_dtype"].get<std::string>().c_str(), r["arch"].get<std::string>().c_str(),
                static_cast<long long>(r["context"].get<int64_t>()),
                r["prefill_tokens_per_s"].get<double>(), r["prefill_gflops"].get<double>(),
                r["decode_tokens_per_s"].get<double>(), r["decode_spread"][0].get<double>(),
                r["decode_spread"][1].get<double>(), r["ttft_ms"].get<double>(),
                r["cache_bytes"].get<double>() / (1 << 20));
  }
  if (j.contains("summary")) {
    const auto& s = j["summary"];
    std::printf("\n%s cache at %lld tokens: cache Transformer/YOCO = %.2f× (L = %d); "
                "decode YOCO/Transformer = %.2f×; "
                "YOCO prefill = %.0f%% of the GEMM ceiling\n",
                dtypes.front().first.c_str(), static_cast<long long>(big),
                s["cache_ratio_transformer_over_yoco"].get<double>(), yc.n_layers,
                s["decode_speedup_yoco_over_transformer"].get<double>(),
                100 * s["yoco_prefill_fraction_of_gemm"].get<double>());
  }
  if (j.contains("reference")) {
    std::printf("PyTorch reference cached decode at %lld tokens: %.1f tok/s; C++: %.1f tok/s (%.1f×)\n",
                static_cast<long long>(ref_ctx), torch_tps, cpp_tps_ref, cpp_tps_ref / torch_tps);
  } else {
    std::printf("PyTorch reference: skipped (no torch at %s)\n", py.c_str());
  }
  return 0;
}

}  // namespace

YOCO_BENCH("llm", "YOCO vs Transformer: prefill, decode, TTFT, cache bytes, GEMM ceiling, PyTorch", run_bench_llm);

}  // namespace yoco::app
