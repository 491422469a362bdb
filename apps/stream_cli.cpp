#include "apps/stream_cli.h"

#include <cmath>
#include <cstdio>

#include "kernels/error.h"

namespace yoco::app {

std::string dump_json(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }
std::string dump_json(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string format_mmss(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  const long long s = static_cast<long long>(seconds);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof(buf), "%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
  else std::snprintf(buf, sizeof(buf), "%02lld:%02lld", s / 60, s % 60);
  return buf;
}

std::string format_vtt_time(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  const long long ms = std::llround(seconds * 1000.0);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%02lld:%02lld:%02lld.%03lld", ms / 3600000, (ms / 60000) % 60, (ms / 1000) % 60,
                ms % 1000);
  return buf;
}

void declare_stream_options(ArgParser& ap) {
  ap.option("fps", "F", "frames per second kept from the video (default: the model's stream.fps)");
  ap.option("budget", "BYTES", "memory budget of the stream's cache and state (e.g. 512M; default: none)");
  ap.option("budget-mb", "MB", "the same budget in MiB");
  ap.option("budget-policy", "P",
            "past the budget: stop (end ingest), evict (drop the oldest pages after a sink) or spill "
            "(pages to --spill-dir; the budget bounds resident bytes); default stop");
  ap.option("memory-policy", "P", "the same as --budget-policy (older name)");
  ap.option("sink-pages", "N", "evict: cache pages kept at the start of the stream", "1");
  ap.option("spill-dir", "DIR", "spill: directory of the per-stream spill file (default: the temp directory)");
  ap.option("page-tokens", "N", "tokens per cache page", "256");
  ap.option("cache-dtype", "T", "storage of the global K/V cache: f32, f16, bf16 or int8 (a scale per token and "
            "head: about a quarter of f32's bytes for head sizes of 64 and more)", "f32");
}

kernels::DType parse_cache_dtype(const std::string& name, const std::string& what) {
  const auto t = kernels::dtype_from_name(name);
  YOCO_REQUIRE(t, what + " must be f32, f16, bf16 or int8 (got '" + name + "')");
  return *t;
}

pipeline::StreamOptions stream_options_from(const ArgParser& ap) {
  pipeline::StreamOptions o;
  if (ap.get_opt("fps")) {
    o.fps = ap.get_double("fps");
    YOCO_REQUIRE(o.fps >= 0.0 && o.fps <= 1000.0, "--fps must be in 0..1000");
  }
  YOCO_REQUIRE(!(ap.get_opt("budget") && ap.get_opt("budget-mb")), "give --budget or --budget-mb, not both");
  if (auto b = ap.get_opt("budget")) o.budget.max_bytes = pipeline::parse_byte_size(*b);
  if (ap.get_opt("budget-mb")) {
    const double mb = ap.get_double("budget-mb");
    YOCO_REQUIRE(mb >= 0.0 && mb <= 1e9, "--budget-mb must be a number of MiB >= 0");
    o.budget.max_bytes = static_cast<size_t>(mb * 1024.0 * 1024.0);
  }
  const auto p1 = ap.get_opt("budget-policy"), p2 = ap.get_opt("memory-policy");
  YOCO_REQUIRE(!(p1 && p2 && *p1 != *p2), "--budget-policy and --memory-policy disagree");
  o.budget.policy = pipeline::parse_budget_policy(p1 ? *p1 : p2 ? *p2 : "stop");
  const long long sink = ap.get_int("sink-pages");
  YOCO_REQUIRE(sink >= 0 && sink <= 65536, "--sink-pages must be in 0..65536");
  o.budget.sink_pages = static_cast<int>(sink);
  if (auto d = ap.get_opt("spill-dir")) o.budget.spill_dir = *d;
  o.budget.validate();
  const long long pt = ap.get_int("page-tokens");
  YOCO_REQUIRE(pt >= 1 && pt <= 65536, "--page-tokens must be in 1..65536");
  o.session.page_tokens = static_cast<int>(pt);
  o.session.cache_dtype = parse_cache_dtype(ap.get("cache-dtype"), "--cache-dtype");
  return o;
}

}  // namespace yoco::app
