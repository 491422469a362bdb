// Internal to the tokenizers: the regex pre-tokenizers of byte-level BPE, implemented by hand (no regex
// library). Each splits text into pieces exactly as its regular expression does under leftmost-first
// alternation with backtracking, over UTF-8 code points; a byte that is not valid UTF-8 counts as a
// character outside \p{L}, \p{N} and \s.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace yoco::llm::tok {

enum class SplitPattern {
  // GPT-2 / Hugging Face ByteLevel(use_regex=true):
  //   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  Gpt2,
  // tiktoken cl100k_base (also Llama 3):
  //   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
  //   ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  Cl100k,
  // The same with \p{N} instead of \p{N}{1,3} (Qwen2).
  Cl100kSingleDigit,
};

// The pattern's regular expression as Hugging Face tokenizer.json spells it.
const char* split_pattern_regex(SplitPattern p);

// Appends to `out` the pieces of `text` (views into it) in order; their concatenation is `text`.
void split_text(std::string_view text, SplitPattern p, std::vector<std::string_view>& out);

}  // namespace yoco::llm::tok
