// Fuzz target: the `yoco serve` request parser (apps/service/request.h), and what the service then does with
// the string fields it accepted and parses without the runtime (an instruction, a byte size, a budget
// policy). Any body must give a request or an error reply, never a crash. An error reply is
// {"v": 1, "id", "ok": false, "error": string} and serialises as the service sends it; an accepted request
// has a known op and the field types docs/PROTOCOL.md gives.
// Input: the request body; byte 0's low bit picks the size limit (64 KiB, or 64 bytes to reach the oversized
// path). Corpus: corpus/request/. Build and run: tools/fuzz.sh (docs/FUZZING.md).
#include <cstddef>
#include <cstdint>
#include <string>

#include "apps/service/request.h"
#include "kernels/error.h"
#include "pipeline/instruction.h"
#include "pipeline/memory_budget.h"
#include "tests/fuzz/fuzz_util.h"

using nlohmann::json;
using yoco::fuzz::fail;

namespace {

// The reply as the service serialises it (apps/stream_cli.cpp dump_json), parsed back.
json round_trip(const json& reply) {
  const std::string text = reply.dump(-1, ' ', false, json::error_handler_t::replace);
  const json back = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (back.is_discarded()) fail("a reply does not serialise to JSON");
  return back;
}

template <typename F>
void may_throw(F&& f) {
  try {
    f();
  } catch (const yoco::Error&) {
  }
}

// The stream steps its schedule by the period (pipeline/stream.cpp): a vanishing one never gets anywhere.
void check_period(double every) {
  if (!(every == 0 || (every >= 0.01 && every <= 1e9))) fail("accepted an instruction period outside 0.01..1e9 s");
}

void check_instruction(const std::string& text) {
  may_throw([&] { check_period(yoco::pipeline::parse_instruction(text).every); });
}

void check_accepted(const yoco::app::ParsedRequest& p) {
  const json& r = p.body;
  if (!r.is_object() || !r.contains("op") || r["op"] != p.op) fail("accepted request without its op");
  if (!r.contains("v") || r["v"] != 1) fail("accepted request without v 1");
  auto str = [&](const char* key) {
    if (!r.contains(key) || !r[key].is_string()) fail("accepted request with a missing or mistyped string");
    return r[key].get<std::string>();
  };
  if (p.op == "open") {
    (void)str("stream");
    (void)str("source");
    if (r.contains("options") && !r["options"].is_null()) {
      const json& o = r["options"];
      if (!o.is_object()) fail("accepted options that are not an object");
      // What op_open reads as int must fit one (get<int>() of 2^32 + 1 was 1).
      for (const char* key : {"page_tokens", "sink_pages"})
        if (o.contains(key) && (!o[key].is_number_integer() || o[key].get<int64_t>() < 0 || o[key].get<int64_t>() > 65536))
          fail("accepted an integer option out of 0..65536");
      // What op_open does with the strings.
      if (o.contains("budget") && o["budget"].is_string())
        may_throw([&] { (void)yoco::pipeline::parse_byte_size(o["budget"].get<std::string>()); });
      for (const char* key : {"budget_policy", "memory_policy"})
        if (o.contains(key)) may_throw([&] { (void)yoco::pipeline::parse_budget_policy(o[key].get<std::string>()); });
      if (o.contains("instruction") && o["instruction"].is_string()) check_instruction(o["instruction"].get<std::string>());
    }
  } else if (p.op == "close") {
    (void)str("stream");
  } else if (p.op == "ask") {
    (void)str("stream");
    if (str("question").size() > 4096) fail("accepted an over-long question");
    if (r.contains("max_tokens") &&
        (!r["max_tokens"].is_number_integer() || r["max_tokens"].get<int64_t>() < 0 || r["max_tokens"].get<int64_t>() > 4096))
      fail("accepted max_tokens out of 0..4096");
  } else if (p.op == "instruct") {
    (void)str("stream");
    if (!r.contains("instruction")) fail("accepted instruct without an instruction");
    const json& text = r["instruction"];
    if (text.is_string() && !text.get<std::string>().empty()) check_instruction(text.get<std::string>());
    if (r.contains("every")) check_period(r["every"].is_number() ? r["every"].get<double>() : -1);
  } else if (p.op != "status" && p.op != "stats") {
    fail("accepted an unknown op");
  }
  (void)round_trip(r);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t limit = (data[0] & 1) ? 64 : 64 * 1024;
  const auto body = yoco::fuzz::as_text(data + 1, size - 1);
  const yoco::app::ParsedRequest p = yoco::app::parse_request(body, limit);
  if (p.ok()) {
    check_accepted(p);
    return 0;
  }
  const json e = round_trip(p.error);
  if (!e.is_object() || e.size() != 4 || e["v"] != 1 || e["ok"] != false || !e["error"].is_string() ||
      !e.contains("id"))
    fail("an error reply is not {v: 1, id, ok: false, error}");
  if ((p.status == yoco::app::ParsedRequest::Status::kTooLarge) != (body.size() > limit))
    fail("too large iff over the limit");
  return 0;
}
