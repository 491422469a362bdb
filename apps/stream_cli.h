// Helpers shared by the stream subcommands (ask, summarize, live, serve, bench stream): JSON output that
// survives invalid UTF-8 (a random or half-trained model can emit any byte), mm:ss formatting and the
// stream options every one of them accepts.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "apps/args.h"
#include "pipeline/stream.h"

namespace yoco::app {

// One-line JSON; invalid UTF-8 in strings is replaced (U+FFFD) instead of throwing.
std::string dump_json(const nlohmann::json& j);
std::string dump_json(const nlohmann::ordered_json& j);
// "mm:ss" below an hour, "h:mm:ss" from an hour on (seconds truncated), as the stream's time tags.
std::string format_mmss(double seconds);
// "hh:mm:ss.mmm" (WebVTT).
std::string format_vtt_time(double seconds);

// --fps, --budget / --budget-mb, --budget-policy (alias --memory-policy), --sink-pages, --spill-dir,
// --page-tokens, --cache-dtype: declared on `ap` / read back into StreamOptions.
void declare_stream_options(ArgParser& ap);
pipeline::StreamOptions stream_options_from(const ArgParser& ap);
// "f32", "f16", "bf16" or "int8" -> the cache storage type; yoco::Error naming `what` otherwise.
kernels::DType parse_cache_dtype(const std::string& name, const std::string& what);

}  // namespace yoco::app
