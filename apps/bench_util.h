// Timing helpers shared by the `yoco bench` programs: warm up, repeat, report the median and the spread.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "apps/args.h"
#include "kernels/error.h"
#include "llm/config.h"

namespace yoco::app {

struct Stat {
  double median = 0, min = 0, max = 0;  // seconds
};

// Runs fn `warmup + reps` times (setup, untimed, before each run when given) and summarises the last `reps`.
inline Stat time_it(int warmup, int reps, const std::function<void()>& setup, const std::function<void()>& fn) {
  using Clock = std::chrono::steady_clock;
  std::vector<double> t;
  reps = std::max(reps, 1);
  for (int i = 0; i < warmup + reps; ++i) {
    if (setup) setup();
    const auto t0 = Clock::now();
    fn();
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (i >= warmup) t.push_back(s);
  }
  std::sort(t.begin(), t.end());
  return {t[t.size() / 2], t.front(), t.back()};
}

inline Stat time_it(int warmup, int reps, const std::function<void()>& fn) { return time_it(warmup, reps, nullptr, fn); }

// A temporary folder (random-weight models, test videos) removed when the benchmark returns or throws.
struct BenchTempDir {
  std::filesystem::path path;
  explicit BenchTempDir(const std::string& prefix)
      : path(std::filesystem::temp_directory_path() / (prefix + "-" + std::to_string(::getpid()))) {}
  ~BenchTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  BenchTempDir(const BenchTempDir&) = delete;
  BenchTempDir& operator=(const BenchTempDir&) = delete;
};

// "1K,4K,512K,1M" -> token counts (K = 1024, M = 1024²), each in [0, max].
inline std::vector<int64_t> parse_lengths(const std::string& s, int64_t max = int64_t{1} << 24) {
  std::vector<int64_t> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    int64_t mult = 1;
    if (!item.empty() && (item.back() == 'K' || item.back() == 'k')) mult = 1024, item.pop_back();
    else if (!item.empty() && (item.back() == 'M' || item.back() == 'm')) mult = int64_t{1} << 20, item.pop_back();
    size_t used = 0;
    try {
      out.push_back(std::stoll(item, &used) * mult);
    } catch (...) {
      used = 0;
    }
    if (used == 0 || used != item.size()) throw Error("bad length list '" + s + "' (expected e.g. 1K,4K,16K,64K)");
    YOCO_REQUIRE(out.back() >= 0 && out.back() <= max, "length out of range: " + item);
  }
  return out;
}

// The YOCO shape of `yoco bench llm`'s options (dim, layers, hidden, heads, kv-heads, vocab), validated.
inline llm::ModelConfig yoco_shape_from_args(const ArgParser& ap) {
  llm::ModelConfig c;
  c.arch = llm::Arch::Yoco;
  c.dim = static_cast<int>(ap.get_int("dim"));
  c.n_layers = static_cast<int>(ap.get_int("layers"));
  c.hidden_dim = static_cast<int>(ap.get_int("hidden"));
  c.n_self_heads = c.n_attn_heads = static_cast<int>(ap.get_int("heads"));
  c.n_attn_kv_heads = static_cast<int>(ap.get_int("kv-heads"));
  c.vocab_size = static_cast<int>(ap.get_int("vocab"));
  c.validate();
  return c;
}

// The same-shape GQA Transformer baseline of a YOCO config (its LM part only).
inline llm::ModelConfig transformer_like(llm::ModelConfig c) {
  c.arch = llm::Arch::Transformer;
  c.rope_style = kernels::RopeStyle::Neox;
  c.embed_scale = false;
  c.tokenizer = c.vision = c.stream = nullptr;
  return c;
}

}  // namespace yoco::app
