// StreamFormat: how frames and questions become one token sequence (docs/STREAM-FORMAT.md), read from the
// model's config.json `stream` block with the documented defaults. Plain data, const after construction.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace yoco::llm {
class Tokenizer;
}

namespace yoco::pipeline {

struct StreamFormat {
  double fps = 1.0;                     // frames per second kept during ingest
  std::string question_prefix = "\nQ: ";
  std::string answer_prefix = "\nA: ";
  std::string answer_end = "\n";        // generation stops after producing this text
  int max_answer_tokens = 64;
  // Prompts the model was trained to answer (a model declares them; generic defaults otherwise):
  std::string caption_prompt = "what happened?";                // a caption instruction's question
  double caption_every = 0.0;                                   // its natural period in seconds; 0: none
  bool caption_covers_preceding = false;                        // "preceding": a caption at t tells of (t - every, t]
  int caption_max_tokens = 0;  // answer cap of instruction evaluations (captions, alerts); 0: max_answer_tokens
  double caption_context = 0.0;  // seconds of recent stream a caption reads (plus the sink); 0: the whole stream
  std::string summary_prompt = "what happened in the video?";  // the whole-video question of `yoco summarize`

  // Throws yoco::Error naming the bad key. A null `stream` block gives the defaults.
  static StreamFormat from_json(const nlohmann::json& stream);

  // The text a question adds to the sequence: question_prefix + question + answer_prefix.
  std::string question_text(const std::string& question) const { return question_prefix + question + answer_prefix; }
};

// Text encoded for the stream: every byte is text (encode_ordinary), so a question cannot inject a control token.
std::vector<int32_t> encode_stream_text(const llm::Tokenizer& tok, const std::string& text);

}  // namespace yoco::pipeline
