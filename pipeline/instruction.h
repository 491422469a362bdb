// Standing instructions (proactive mode): a per-stream instruction that the stream evaluates by itself at
// regular stream times and turns into timestamped events.
//
//   caption  "caption every 10 s", "describe every 5s": every `every` seconds of stream time the stream forks
//            and asks `prompt` (empty from parse_instruction: the stream asks its model's caption prompt,
//            StreamFormat::caption_prompt, "what happened?" unless config.json names one); each answer is a
//            "caption" event with the pts it refers to.
//   alert    "say when a red square appears": every `every` seconds (default: each kept frame) the stream asks
//            the instruction as a yes/no question; an answer that starts with "yes" after one that did not
//            is an "alert" event (edge-triggered, so a condition that stays true alerts once).
// parse_instruction() recognises "every N s" / "every N seconds" (caption) and treats anything else as an
// alert; callers may set the fields directly (the service's `instruct` accepts `kind`, `every`, `prompt`,
// `context`).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace yoco::pipeline {

struct Instruction {
  enum class Kind { kCaption, kAlert };
  Kind kind = Kind::kAlert;
  std::string text;    // as given
  std::string prompt;  // the question asked at each evaluation
  double every = 0.0;  // seconds of stream time between evaluations; 0: every kept frame
  // Seconds of recent stream an evaluation reads, besides the attention sink (the cache pages the stream keeps
  // first): older whole cache pages are left out of the evaluation's fork, so its cost stays flat however long
  // the stream grows. 0: the whole stream; < 0: unset, the stream resolves it (captions: the model's
  // StreamFormat::caption_context; alerts: the whole stream).
  double context = -1.0;
};

// Throws yoco::Error for an empty instruction or a period outside 0.01 s .. 1e9 s.
Instruction parse_instruction(const std::string& text);
const char* instruction_kind_name(Instruction::Kind k);
// The instruction as saved with a stream (docs/PERSISTENCE.md): {"text", "kind", "prompt", "every", "context"}.
// from_json throws yoco::Error for a field of the wrong type or out of range (a missing one keeps its default).
nlohmann::json instruction_to_json(const Instruction& ins);
Instruction instruction_from_json(const nlohmann::json& j);
// Whether an alert answer counts as "yes".
bool answer_is_yes(const std::string& answer);

}  // namespace yoco::pipeline
