// libFuzzer entry point for the tokenizers: for any input bytes, each kind must round-trip
// decode(encode(text)) == text, and decoding the input read as ids must give text or yoco::Error.
// The first input byte picks the tokenizer; the rest is the text.
//
// Not built by default. Build and run (from the repository root):
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. \
//     -DYOCO_TEST_DATA='"'$PWD/tests/data'"' tests/fuzz/fuzz_tokenizer.cpp llm/tokenizer*.cpp \
//     -o fuzz_tokenizer
//   ./fuzz_tokenizer -max_len=512 tests/fuzz/corpus/tokenizer
// To fuzz the file parsers instead, point load_tokenizer at fuzzer-written files the same way
// fuzz_safetensors.cpp does.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kernels/error.h"
#include "llm/tokenizer.h"

#ifndef YOCO_TEST_DATA
#define YOCO_TEST_DATA "tests/data"
#endif

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
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  if (tok.decode(tok.encode(text)) != text) std::abort();
  if (tok.decode(tok.encode_ordinary(text)) != text) std::abort();
  std::vector<int32_t> ids((size - 1) / 4);
  if (!ids.empty()) std::memcpy(ids.data(), data + 1, ids.size() * 4);
  try {
    (void)tok.decode(ids);
  } catch (const yoco::Error&) {
  }
  return 0;
}
