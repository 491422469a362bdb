// Tokenizers: text (UTF-8 bytes) <-> token ids. Three kinds, chosen by the model config's "tokenizer" object
// (docs/TOKENIZERS.md):
//   our own models:    {"type": "byte", "specials": ["<frame>", ...]}
//   tiktoken files:    {"type": "tiktoken", "file": "cl100k_base.tiktoken", "offset": 4,
//                       "specials": {"<|endoftext|>": 100257}}
//   Hugging Face BPE:  {"type": "hf", "file": "tokenizer.json"}
//
// Contract: a Tokenizer is const after construction and every method may be called from any number of
// threads at once (the BPE kinds keep an internal, mutex-guarded cache). encode() accepts any bytes, valid
// UTF-8 or not, and decode(encode(text)) == text for every kind. Special tokens spelled in the text passed to
// encode() become their ids (whole-string match, longest first); encode_ordinary() never produces a special.
// Bad files and ids out of range throw yoco::Error naming the file (and line) or the id; nothing crashes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace yoco::llm {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Text to ids; specials spelled in the text (e.g. "<frame>") are matched as whole tokens.
  std::vector<int32_t> encode(std::string_view text) const;
  // Text to ids treating every byte as text (for untrusted input that must not inject control tokens).
  std::vector<int32_t> encode_ordinary(std::string_view text) const;
  // Ids to text: the concatenation of decode_token over ids (specials render as their spelling). Throws
  // yoco::Error for an id outside [0, vocab_size()) or an id that names no token.
  std::string decode(std::span<const int32_t> ids) const;
  // One token's bytes, for streaming output. A multi-byte UTF-8 character may span tokens: callers that print
  // must buffer incomplete sequences.
  virtual std::string decode_token(int32_t id) const = 0;
  // One past the largest id this tokenizer can produce or decode.
  virtual int32_t vocab_size() const = 0;

  // Special token ids, -1 where the tokenizer defines none.
  int32_t bos() const { return bos_; }
  int32_t eos() const { return eos_; }
  int32_t pad() const { return pad_; }
  int32_t unk() const { return unk_; }
  // The id of the special token spelled `name` (e.g. "<frame>", "</s>"), -1 when there is none.
  int32_t token_id(std::string_view name) const;
  bool is_special(int32_t id) const;
  struct Special {
    std::string text;
    int32_t id;
  };
  const std::vector<Special>& specials() const { return specials_; }

 protected:
  // Encodes text containing no special token to be matched.
  virtual void encode_text(std::string_view text, std::vector<int32_t>& out) const = 0;
  // Registers a special token (called by constructors only). Throws on a duplicate spelling.
  void add_special(std::string text, int32_t id, const std::string& where);
  // Sets bos/eos/pad/unk from the spellings in config keys "bos", "eos", "pad", "unk" (if present) or the
  // given defaults; a name that is no special is an error naming `where`.
  void resolve_roles(const nlohmann::json& config, const std::string& where, const char* bos, const char* eos,
                     const char* pad, const char* unk);
  // The spelling of special `id`, or nullptr when `id` is not a special.
  const std::string* special_text(int32_t id) const;

 private:
  std::vector<Special> specials_;    // in registration order
  std::vector<uint32_t> by_length_;  // indices into specials_, longest spelling first
  std::map<std::string, int32_t, std::less<>> by_text_;
  std::unordered_map<int32_t, uint32_t> by_id_;  // id -> index into specials_
  bool first_bytes_[256] = {};                   // true where some special starts with that byte
  int32_t bos_ = -1, eos_ = -1, pad_ = -1, unk_ = -1;
};

// Builds the tokenizer described by `config` (the config.json "tokenizer" object); files are relative to
// `model_dir`. Throws yoco::Error for an unknown type, a missing or malformed file, or a bad key.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& model_dir, const nlohmann::json& config);

// The kinds, for tools and tests that build one directly.
// specials: extra special tokens after the 260 byte-level ids.
std::unique_ptr<Tokenizer> make_byte_tokenizer(const std::vector<std::string>& specials);
std::unique_ptr<Tokenizer> load_tiktoken_tokenizer(const std::string& file, const nlohmann::json& config);
std::unique_ptr<Tokenizer> load_hf_tokenizer(const std::string& file, const nlohmann::json& config);

}  // namespace yoco::llm
