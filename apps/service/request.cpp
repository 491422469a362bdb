#include "apps/service/request.h"

#include <cctype>
#include <cstdint>

#include "kernels/error.h"
#include "kernels/ops.h"

namespace yoco::app {

namespace {

using nlohmann::json;

// Questions and instructions become prompts; a prompt is bounded as docs/PROTOCOL.md says.
constexpr size_t kMaxPromptBytes = 4096;
// The shortest period of a standing instruction, as parse_instruction() (pipeline/instruction.h) has it.
constexpr double kMinPeriod = 0.01;

// The body as JSON; discarded when it is not JSON or nests deeper than kMaxRequestDepth (*too_deep set).
json parse_bounded(std::string_view body, bool* too_deep) {
  *too_deep = false;
  json j = json::parse(
      body.begin(), body.end(),
      [too_deep](int depth, json::parse_event_t, json&) {
        if (depth > kMaxRequestDepth) *too_deep = true;
        return !*too_deep;
      },
      /*allow_exceptions=*/false);
  return *too_deep ? json(json::value_t::discarded) : j;
}

bool valid_stream_id(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == ':')) return false;
  return true;
}

bool present(const json& obj, const char* name) {
  return obj.contains(name);
}

// A field that must be there and be a string.
const std::string& string_field(const json& req, const char* name) {
  YOCO_REQUIRE(present(req, name), std::string("missing field '") + name + "'");
  YOCO_REQUIRE(req[name].is_string(), std::string("field '") + name + "' must be a string");
  return req[name].get_ref<const std::string&>();
}

// An integer JSON number in [lo, hi], whatever its stored kind (unsigned values past int64 included).
bool integer_in(const json& v, int64_t lo, int64_t hi) {
  if (v.is_number_unsigned()) {  // nlohmann::json stores every non-negative integer as unsigned
    const uint64_t u = v.get<uint64_t>();
    return (lo <= 0 || u >= static_cast<uint64_t>(lo)) && hi >= 0 && u <= static_cast<uint64_t>(hi);
  }
  return v.is_number_integer() && v.get<int64_t>() >= lo && v.get<int64_t>() <= hi;
}

bool number_in(const json& v, double lo, double hi) {
  return v.is_number() && v.get<double>() >= lo && v.get<double>() <= hi;
}

void optional_bool(const json& req, const char* name) {
  if (!present(req, name) || req[name].is_null()) return;
  YOCO_REQUIRE(req[name].is_boolean(), std::string("field '") + name + "' must be true or false");
}

void check_options(const json& o) {
  YOCO_REQUIRE(o.is_object(), "field 'options' must be an object");
  if (present(o, "pace")) {
    const json& p = o["pace"];
    YOCO_REQUIRE(p.is_string() && (p == "realtime" || p == "fast"), "options.pace must be \"realtime\" or \"fast\"");
  }
  if (present(o, "fps")) YOCO_REQUIRE(number_in(o["fps"], 0, 1000), "options.fps must be a number in 0..1000");
  if (present(o, "budget")) {
    // 2^53: any byte count a double holds exactly, far past any memory.
    const json& b = o["budget"];
    YOCO_REQUIRE(b.is_string() || number_in(b, 0, 9007199254740992.0),
                 "options.budget must be bytes (a number in 0..2^53, or a string such as \"512M\")");
  }
  if (present(o, "budget_mb")) {
    YOCO_REQUIRE(!present(o, "budget"), "give options.budget or options.budget_mb, not both");
    YOCO_REQUIRE(number_in(o["budget_mb"], 0, 1e9), "options.budget_mb must be a number of MiB in 0..1e9");
  }
  for (const char* key : {"budget_policy", "memory_policy"})
    if (present(o, key)) YOCO_REQUIRE(o[key].is_string(), std::string("options.") + key + " must be a string");
  if (present(o, "sink_pages"))
    YOCO_REQUIRE(integer_in(o["sink_pages"], 0, 65536), "options.sink_pages must be an integer in 0..65536");
  if (present(o, "spill_dir"))
    YOCO_REQUIRE(o["spill_dir"].is_string() && !o["spill_dir"].get_ref<const std::string&>().empty(),
                 "options.spill_dir must be a directory path");
  if (present(o, "page_tokens"))
    YOCO_REQUIRE(integer_in(o["page_tokens"], 1, 65536), "options.page_tokens must be an integer in 1..65536");
  if (present(o, "cache_dtype"))
    YOCO_REQUIRE(o["cache_dtype"].is_string() &&
                     kernels::dtype_from_name(o["cache_dtype"].get_ref<const std::string&>()),
                 "options.cache_dtype must be f32, f16, bf16 or int8");
  if (present(o, "stats_every"))
    YOCO_REQUIRE(number_in(o["stats_every"], 0, 1e9), "options.stats_every must be seconds in 0..1e9");
  if (present(o, "instruction") && !o["instruction"].is_null()) {
    YOCO_REQUIRE(o["instruction"].is_string(), "options.instruction must be a string");
    YOCO_REQUIRE(o["instruction"].get_ref<const std::string&>().size() <= kMaxPromptBytes,
                 "options.instruction too long (4096 bytes at most)");
  }
}

void check_open(const json& req) {
  YOCO_REQUIRE(valid_stream_id(string_field(req, "stream")),
               "a stream id is 1..64 characters of letters, digits, '_', '-', '.', ':'");
  (void)string_field(req, "source");
  if (present(req, "options") && !req["options"].is_null()) check_options(req["options"]);
}

void check_ask(const json& req) {
  (void)string_field(req, "stream");
  YOCO_REQUIRE(string_field(req, "question").size() <= kMaxPromptBytes, "question too long (4096 bytes at most)");
  optional_bool(req, "keep_dialogue");
  optional_bool(req, "stream_reply");
  if (present(req, "max_tokens"))
    YOCO_REQUIRE(integer_in(req["max_tokens"], 0, 4096), "field 'max_tokens' must be an integer in 0..4096");
}

void check_instruct(const json& req) {
  (void)string_field(req, "stream");
  YOCO_REQUIRE(present(req, "instruction"), "missing field 'instruction'");
  const json& text = req["instruction"];
  YOCO_REQUIRE(text.is_null() || text.is_string(), "field 'instruction' must be a string or null");
  YOCO_REQUIRE(text.is_null() || text.get_ref<const std::string&>().size() <= kMaxPromptBytes,
               "instruction too long (4096 bytes at most)");
  if (present(req, "kind")) {
    const json& k = req["kind"];
    YOCO_REQUIRE(k.is_string() && (k == "caption" || k == "alert"), "field 'kind' must be \"caption\" or \"alert\"");
  }
  if (present(req, "every")) {
    // 0: every kept frame. A tiny positive period stepped the stream's schedule forward by `every` until it
    // passed the frame's pts (pipeline/stream.cpp): 1e-15 s never got there.
    const json& e = req["every"];
    YOCO_REQUIRE(number_in(e, 0, 0) || number_in(e, kMinPeriod, 1e9), "field 'every' must be 0 or seconds in 0.01..1e9");
  }
  if (present(req, "prompt"))
    YOCO_REQUIRE(string_field(req, "prompt").size() <= kMaxPromptBytes, "prompt too long (4096 bytes at most)");
  if (present(req, "context"))
    YOCO_REQUIRE(number_in(req["context"], 0, 1e9), "field 'context' must be seconds in 0..1e9");
}

void check_stats(const json& req) {
  if (present(req, "stream")) (void)string_field(req, "stream");
}

}  // namespace

json request_error_reply(const json& id, const std::string& message) {
  return json{{"v", 1}, {"id", id}, {"ok", false}, {"error", message}};
}

ParsedRequest parse_request(std::string_view body, size_t max_request_bytes) {
  using Status = ParsedRequest::Status;
  ParsedRequest p;
  auto fail = [&p](Status status, const std::string& message) {
    p.status = status;
    p.op.clear();
    p.body = nullptr;
    p.error = request_error_reply(p.id, message);
    return p;
  };
  bool too_deep = false;
  if (body.size() > max_request_bytes) {
    // Still echo the id when the oversized body is JSON (the router's hard cap bounds what is parsed here).
    const json big = parse_bounded(body, &too_deep);
    if (big.is_object() && big.contains("id")) p.id = big["id"];
    return fail(Status::kTooLarge, "request too large (" + std::to_string(body.size()) + " bytes, limit " +
                                       std::to_string(max_request_bytes) + ")");
  }
  json req = parse_bounded(body, &too_deep);
  if (too_deep)
    return fail(Status::kMalformed,
                "malformed request: JSON nested deeper than " + std::to_string(kMaxRequestDepth) + " levels");
  if (req.is_discarded() || !req.is_object()) return fail(Status::kMalformed, "malformed request: not a JSON object");
  if (req.contains("id")) p.id = req["id"];
  const auto v = req.find("v");
  if (v == req.end() || !integer_in(*v, 1, 1))
    return fail(Status::kMalformed, "unsupported or missing protocol version (\"v\": 1)");
  if (!req.contains("op") || !req["op"].is_string()) return fail(Status::kMalformed, "missing field 'op'");
  const std::string op = req["op"].get<std::string>();
  try {
    if (op == "open") check_open(req);
    else if (op == "close") (void)string_field(req, "stream");
    else if (op == "ask") check_ask(req);
    else if (op == "instruct") check_instruct(req);
    else if (op == "status") {
    } else if (op == "stats") check_stats(req);
    else return fail(Status::kUnknownOp, "unknown op '" + op + "'");
  } catch (const Error& e) {
    return fail(Status::kMalformed, e.what());
  }
  p.status = Status::kOk;
  p.op = op;
  p.body = std::move(req);
  return p;
}

}  // namespace yoco::app
