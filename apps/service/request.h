// Parsing and validation of one `yoco serve` request body (docs/PROTOCOL.md), apart from the service that
// acts on it: the size limit, the JSON object, `v`, `id`, `op`, and the type (and range) of every field the
// op reads, options of `open` included. A pure function of its input, safe on arbitrary bytes (fuzzed by
// tests/fuzz/fuzz_request.cpp).
//
// What it does not check needs the runtime or another module: whether a stream exists, whether a source spec
// opens, the spelling of a byte size ("512M"), a budget policy or an instruction (pipeline/ parses those).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace yoco::app {

// JSON nesting deeper than this is malformed: a request is a flat object with one nested `options` object,
// and `id` is echoed in replies, which nlohmann::json serialises (and copies) recursively.
constexpr int kMaxRequestDepth = 32;

struct ParsedRequest {
  enum class Status {
    kOk,
    kTooLarge,   // over max_request_bytes
    kMalformed,  // not a JSON object, bad `v`, no `op`, a missing or mistyped field
    kUnknownOp,
  };
  Status status = Status::kMalformed;
  nlohmann::json id;     // echoed in every reply (null when absent or unreadable)
  std::string op;        // kOk: open, close, ask, instruct, status or stats
  nlohmann::json body;   // kOk: the request object, its fields checked
  nlohmann::json error;  // otherwise: the whole reply {"v": 1, "id", "ok": false, "error"}

  bool ok() const { return status == Status::kOk; }
};

// The request in `body`, or the error reply for it. Never throws for bad input.
ParsedRequest parse_request(std::string_view body, size_t max_request_bytes);

// {"v": 1, "id": id, "ok": false, "error": message}
nlohmann::json request_error_reply(const nlohmann::json& id, const std::string& message);

}  // namespace yoco::app
