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
  ap.option("memory-policy", "P", "what happens past the budget: stop (evict and spill are not available yet)",
            "stop");
  ap.option("page-tokens", "N", "tokens per cache page", "256");
}

pipeline::StreamOptions stream_options_from(const ArgParser& ap) {
  pipeline::StreamOptions o;
  if (ap.get_opt("fps")) {
    o.fps = ap.get_double("fps");
    YOCO_REQUIRE(o.fps >= 0.0 && o.fps <= 1000.0, "--fps must be in 0..1000");
  }
  if (auto b = ap.get_opt("budget")) o.budget.max_bytes = pipeline::parse_byte_size(*b);
  o.budget.policy = pipeline::parse_budget_policy(ap.get("memory-policy"));
  o.budget.validate();
  const long long pt = ap.get_int("page-tokens");
  YOCO_REQUIRE(pt >= 1 && pt <= 65536, "--page-tokens must be in 1..65536");
  o.session.page_tokens = static_cast<int>(pt);
  return o;
}

}  // namespace yoco::app
