// The service's request parser (apps/service/request.h): what it accepts, the error reply for each kind of bad
// request, and the fuzzing findings whose inputs are too large to keep in tests/fuzz/regressions/request/.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "apps/service/request.h"

namespace yoco::app {
namespace {

using nlohmann::json;
using Status = ParsedRequest::Status;

ParsedRequest parse(const json& j, size_t limit = 64 * 1024) {
  return parse_request(j.dump(), limit);
}

void expect_error(const ParsedRequest& p, Status status, const std::string& fragment) {
  EXPECT_FALSE(p.ok());
  EXPECT_EQ(p.status, status);
  ASSERT_TRUE(p.error.is_object());
  EXPECT_EQ(p.error["v"], 1);
  EXPECT_EQ(p.error["ok"], false);
  EXPECT_EQ(p.error["id"], p.id);
  EXPECT_NE(p.error["error"].get<std::string>().find(fragment), std::string::npos) << p.error["error"];
}

TEST(Request, EveryOpOfTheProtocolIsAccepted) {
  for (const json& r : {json{{"v", 1}, {"id", 1}, {"op", "status"}},
                        json{{"v", 1}, {"op", "stats"}, {"stream", "cam1"}},
                        json{{"v", 1}, {"id", "x"}, {"op", "open"}, {"stream", "cam-1.a:b_c"}, {"source", "bus"},
                             {"options", {{"pace", "realtime"}, {"fps", 2.5}, {"budget", "512M"},
                                          {"budget_policy", "evict"}, {"sink_pages", 1}, {"page_tokens", 64},
                                          {"cache_dtype", "int8"}, {"stats_every", 5},
                                          {"instruction", "caption every 10 s"}}}},
                        json{{"v", 1}, {"op", "open"}, {"stream", "f"}, {"source", "/x.mp4"},
                             {"options", {{"budget_mb", 64}, {"memory_policy", "spill"}, {"spill_dir", "/tmp"}}}},
                        json{{"v", 1}, {"op", "open"}, {"stream", "f"}, {"source", "/x.mp4"}, {"options", nullptr}},
                        json{{"v", 1}, {"id", {{"n", 4}}}, {"op", "ask"}, {"stream", "cam1"}, {"question", "what?"},
                             {"stream_reply", true}, {"keep_dialogue", nullptr}, {"max_tokens", 4096}},
                        json{{"v", 1}, {"op", "instruct"}, {"stream", "c"}, {"instruction", "say when"},
                             {"kind", "alert"}, {"every", 0}, {"prompt", "is it?"}, {"context", 20}},
                        json{{"v", 1}, {"op", "instruct"}, {"stream", "c"}, {"instruction", nullptr}},
                        json{{"v", 1}, {"op", "close"}, {"stream", "c"}}}) {
    const ParsedRequest p = parse(r);
    EXPECT_TRUE(p.ok()) << r << " -> " << p.error;
    EXPECT_EQ(p.op, r["op"]);
    EXPECT_EQ(p.body, r);
    EXPECT_EQ(p.id, r.contains("id") ? r["id"] : json(nullptr));
  }
}

TEST(Request, BadRequestsGetTheirErrorReply) {
  expect_error(parse_request("", 1024), Status::kMalformed, "not a JSON object");
  expect_error(parse_request("[1, 2]", 1024), Status::kMalformed, "not a JSON object");
  expect_error(parse_request("{\"v\": 1", 1024), Status::kMalformed, "not a JSON object");
  expect_error(parse_request("\xff\xfe", 1024), Status::kMalformed, "not a JSON object");
  expect_error(parse(json{{"v", 2}, {"id", 7}, {"op", "status"}}), Status::kMalformed, "protocol version");
  expect_error(parse(json{{"v", 1.0}, {"op", "status"}}), Status::kMalformed, "protocol version");
  expect_error(parse(json{{"v", 1}, {"id", 3}}), Status::kMalformed, "missing field 'op'");
  expect_error(parse(json{{"v", 1}, {"op", "explode"}}), Status::kUnknownOp, "unknown op 'explode'");
  expect_error(parse(json{{"v", 1}, {"op", "ask"}, {"stream", 7}, {"question", "x"}}), Status::kMalformed,
               "field 'stream' must be a string");
  expect_error(parse(json{{"v", 1}, {"op", "ask"}, {"stream", "a"}}), Status::kMalformed, "missing field 'question'");
  expect_error(parse(json{{"v", 1}, {"op", "ask"}, {"stream", "a"}, {"question", std::string(4097, 'q')}}),
               Status::kMalformed, "question too long");
  expect_error(parse(json{{"v", 1}, {"op", "ask"}, {"stream", "a"}, {"question", "q"}, {"stream_reply", 1}}),
               Status::kMalformed, "true or false");
  expect_error(parse(json{{"v", 1}, {"op", "open"}, {"stream", "bad id!"}, {"source", "x"}}), Status::kMalformed,
               "a stream id");
  expect_error(parse(json{{"v", 1}, {"op", "open"}, {"stream", "a"}, {"source", "x"}, {"options", 3}}),
               Status::kMalformed, "'options' must be an object");
  expect_error(parse(json{{"v", 1}, {"op", "open"}, {"stream", "a"}, {"source", "x"},
                          {"options", {{"budget", 1}, {"budget_mb", 1}}}}),
               Status::kMalformed, "not both");
  expect_error(parse(json{{"v", 1}, {"op", "instruct"}, {"stream", "a"}}), Status::kMalformed,
               "missing field 'instruction'");
  expect_error(parse(json{{"v", 1}, {"op", "instruct"}, {"stream", "a"}, {"instruction", "x"}, {"kind", "shout"}}),
               Status::kMalformed, "'kind'");
  expect_error(parse(json{{"v", 1}, {"op", "stats"}, {"stream", nullptr}}), Status::kMalformed, "must be a string");
  const ParsedRequest big = parse(json{{"v", 1}, {"id", 12}, {"op", "status"}, {"pad", std::string(100, 'x')}}, 64);
  expect_error(big, Status::kTooLarge, "request too large");
  EXPECT_EQ(big.id, 12);  // still echoed
}

// Integers past int32 were read with get<int>() by the ops and wrapped: max_tokens 2^32 + 1 became 1, and
// page_tokens likewise; a budget of 1e300 bytes was cast to size_t (undefined behaviour). The parser reads
// every integer at full width and bounds every number.
TEST(Request, OutOfRangeNumbersAreRejectedNotWrapped) {
  const json ask = {{"v", 1}, {"op", "ask"}, {"stream", "a"}, {"question", "q"}};
  for (const json& v : {json(4294967297ull), json(-1), json(18446744073709551615ull), json(4097), json(1.5)}) {
    json r = ask;
    r["max_tokens"] = v;
    expect_error(parse(r), Status::kMalformed, "max_tokens");
  }
  const json open = {{"v", 1}, {"op", "open"}, {"stream", "a"}, {"source", "x"}};
  for (const auto& [key, v] : std::vector<std::pair<std::string, json>>{{"page_tokens", json(4294967297ull)},
                                                                        {"page_tokens", json(0)},
                                                                        {"sink_pages", json(-1)},
                                                                        {"budget", json(1e300)},
                                                                        {"budget", json(-1)},
                                                                        {"budget_mb", json(1e10)},
                                                                        {"fps", json(1001)},
                                                                        {"stats_every", json(1e300)},
                                                                        {"pace", json(nullptr)},
                                                                        {"instruction", json(7)},
                                                                        {"cache_dtype", json("int4")},
                                                                        {"cache_dtype", json(8)}}) {
    json r = open;
    r["options"] = {{key, v}};
    expect_error(parse(r), Status::kMalformed, key);
  }
  // A period that vanishes next to the pts hung the stream's scheduling loop (pipeline/stream.cpp).
  const json instruct = {{"v", 1}, {"op", "instruct"}, {"stream", "a"}, {"instruction", "x"}};
  for (const json& v : {json(1e-15), json(0.001), json(1e300), json(-1), json("1")}) {
    json r = instruct;
    r["every"] = v;
    expect_error(parse(r), Status::kMalformed, "'every'");
  }
  for (const json& v : {json(0), json(0.0), json(0.01), json(3600)}) {
    json r = instruct;
    r["every"] = v;
    EXPECT_TRUE(parse(r).ok()) << v;
  }
  for (const json& v : {json(-1), json(1e300), json("20"), json(nullptr)}) {
    json r = instruct;
    r["context"] = v;
    expect_error(parse(r), Status::kMalformed, "'context'");
  }
}

// Nesting: nlohmann::json copies and serialises recursively. An oversized body (up to the 1 MiB that ZeroMQ
// lets through) whose id nested half a million levels deep overflowed the stack when the id was copied into
// the error reply; within the size limit the same happened with --max-request-bytes raised.
TEST(Request, DeepNestingIsRefused) {
  const auto nested = [](size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  const std::string huge = R"({"v": 1, "id": )" + nested(500000) + R"(, "op": "status"})";
  const ParsedRequest big = parse_request(huge, 64 * 1024);
  expect_error(big, Status::kTooLarge, "request too large");
  EXPECT_TRUE(big.id.is_null());
  const ParsedRequest within = parse_request(huge, huge.size());
  expect_error(within, Status::kMalformed, "nested deeper than");
  EXPECT_TRUE(within.id.is_null());
  // Ordinary nesting is fine.
  const ParsedRequest ok = parse_request(R"({"v": 1, "id": )" + nested(kMaxRequestDepth - 1) + R"(, "op": "status"})", 1024);
  EXPECT_TRUE(ok.ok()) << ok.error;
}

}  // namespace
}  // namespace yoco::app
