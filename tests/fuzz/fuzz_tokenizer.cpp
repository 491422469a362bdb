// Fuzz target: text through the tokenizers (llm/tokenizer.h) — the byte tokenizer and the small tiktoken and
// Hugging Face tokenizers of tests/data/tokenizer. For any bytes each must round-trip
// decode(encode(text)) == text (encode_ordinary too), and decoding the input read as ids must give text or a
// yoco::Error. The file parsers have their own targets (tiktoken_file, hf_tokenizer_file, tokenizer_config).
// Input: byte 0 picks the tokenizer, the rest is the text. Corpus: corpus/tokenizer/. Build and run:
// tools/fuzz.sh (docs/FUZZING.md).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kernels/error.h"
#include "llm/tokenizer.h"
#include "tests/fuzz/tokenizer_checks.h"

namespace {

std::vector<std::unique_ptr<yoco::llm::Tokenizer>> make_all() {
  using nlohmann::json;
  const std::string dir = std::string(YOCO_TEST_DATA) + "/tokenizer";
  std::vector<std::unique_ptr<yoco::llm::Tokenizer>> all;
  all.push_back(yoco::llm::make_byte_tokenizer({"<frame>", "<image>"}));
  all.push_back(yoco::llm::load_tokenizer(
      dir, json{{"type", "tiktoken"}, {"file", "tiny.tiktoken"}, {"specials", {{"<|endoftext|>", 557}}}}));
  all.push_back(yoco::llm::load_tokenizer(dir, json{{"type", "hf"}, {"file", "tiny_hf/tokenizer.json"}}));
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto tokenizers = make_all();
  if (size == 0) return 0;
  const auto& tok = *tokenizers[data[0] % tokenizers.size()];
  yoco::fuzz::check_round_trip(tok, yoco::fuzz::as_text(data + 1, size - 1));
  std::vector<int32_t> ids((size - 1) / 4);
  if (!ids.empty()) std::memcpy(ids.data(), data + 1, ids.size() * 4);
  try {
    (void)tok.decode(ids);
  } catch (const yoco::Error&) {
  }
  return 0;
}
