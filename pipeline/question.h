// Answering a question on a forked session (docs/STREAM-FORMAT.md): append question_prefix + question +
// answer_prefix, then generate greedily until answer_end, </s> or max_answer_tokens. Tokens are reported as
// they are produced (on_text receives text pieces, never the terminator, never a split UTF-8 character).
// The returned text is the generated text without the terminator, trimmed of spaces.
//
// Thread safety: runs on the caller's thread and touches only `session` (a fork nobody else uses).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pipeline/stream_format.h"

namespace yoco::llm {
class Session;
class Tokenizer;
}  // namespace yoco::llm

namespace yoco::pipeline {

using TextFn = std::function<void(const std::string& piece)>;

struct GeneratedAnswer {
  std::string text;              // trimmed answer
  std::string raw;               // generated text before trimming, without the terminator
  std::vector<int32_t> tokens;   // generated ids, the terminator included when one was produced
  bool stopped_by_end = false;   // answer_end or </s> (false: max tokens)
  double prefill_ms = 0.0;       // question tokens through the model (the time to the first answer token)
  double total_ms = 0.0;
};

// `lookup`: tokens (e.g. earlier answers of the same kind) the decoder may draft from besides the question and
// the answer so far; drafts are checked, so they change the speed, not the greedy answer.
// `on_prefilled` (optional) is called once the question's tokens are in, before the first answer token:
// the stream runtime uses it to let ingest resume (questions have priority over ingest while they prefill).
GeneratedAnswer generate_answer(llm::Session& session, const llm::Tokenizer& tok, const StreamFormat& fmt,
                                const std::string& question, int max_tokens, const TextFn& on_text = {},
                                const std::function<void()>& on_prefilled = {},
                                const std::vector<int32_t>& lookup = {});

// Number of bytes at the end of `s` that form an incomplete UTF-8 character (0 when s ends on a boundary).
size_t incomplete_utf8_tail(const std::string& s);

}  // namespace yoco::pipeline
