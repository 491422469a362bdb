#include "pipeline/stream_format.h"

#include "kernels/error.h"
#include "llm/tokenizer.h"

namespace yoco::pipeline {

StreamFormat StreamFormat::from_json(const nlohmann::json& j) {
  StreamFormat f;
  if (j.is_null()) return f;
  YOCO_REQUIRE(j.is_object(), "config.json: `stream` must be an object");
  auto str = [&](const char* key, std::string& out) {
    if (!j.contains(key)) return;
    YOCO_REQUIRE(j[key].is_string(), std::string("config.json: stream.") + key + " must be a string");
    out = j[key].get<std::string>();
  };
  if (j.contains("fps")) {
    YOCO_REQUIRE(j["fps"].is_number() && j["fps"].get<double>() >= 0.0, "config.json: stream.fps must be >= 0");
    f.fps = j["fps"].get<double>();
  }
  str("question_prefix", f.question_prefix);
  str("answer_prefix", f.answer_prefix);
  str("answer_end", f.answer_end);
  if (j.contains("max_answer_tokens")) {
    YOCO_REQUIRE(j["max_answer_tokens"].is_number_integer() && j["max_answer_tokens"].get<int>() >= 1,
                 "config.json: stream.max_answer_tokens must be an integer >= 1");
    f.max_answer_tokens = j["max_answer_tokens"].get<int>();
  }
  str("caption_prompt", f.caption_prompt);
  str("summary_prompt", f.summary_prompt);
  YOCO_REQUIRE(!f.caption_prompt.empty() && !f.summary_prompt.empty(),
               "config.json: stream.caption_prompt and stream.summary_prompt must not be empty");
  if (j.contains("caption_every")) {
    YOCO_REQUIRE(j["caption_every"].is_number() && j["caption_every"].get<double>() >= 0.0 &&
                     j["caption_every"].get<double>() <= 1e9,
                 "config.json: stream.caption_every must be seconds in 0..1e9");
    f.caption_every = j["caption_every"].get<double>();
  }
  if (j.contains("caption_context")) {
    YOCO_REQUIRE(j["caption_context"].is_number() && j["caption_context"].get<double>() >= 0.0 &&
                     j["caption_context"].get<double>() <= 1e9,
                 "config.json: stream.caption_context must be seconds in 0..1e9");
    f.caption_context = j["caption_context"].get<double>();
  }
  if (j.contains("caption_max_tokens")) {
    YOCO_REQUIRE(j["caption_max_tokens"].is_number_integer() && j["caption_max_tokens"].get<int64_t>() >= 1 &&
                     j["caption_max_tokens"].get<int64_t>() <= f.max_answer_tokens,
                 "config.json: stream.caption_max_tokens must be an integer in 1..max_answer_tokens");
    f.caption_max_tokens = j["caption_max_tokens"].get<int>();
  }
  if (j.contains("caption_covers")) {
    const auto& c = j["caption_covers"];
    YOCO_REQUIRE(c.is_string() && (c == "preceding" || c == "following"),
                 "config.json: stream.caption_covers must be \"preceding\" or \"following\"");
    f.caption_covers_preceding = c == "preceding";
  }
  return f;
}

std::vector<int32_t> encode_stream_text(const llm::Tokenizer& tok, const std::string& text) {
  return tok.encode_ordinary(text);
}

}  // namespace yoco::pipeline
