// What every tokenizer that loads must do, checked by the tokenizer fuzz targets (docs/TOKENIZERS.md's
// contract): decode(encode(text)) == text for any bytes, ids inside [0, vocab_size()), specials findable by
// their spelling, roles naming specials, and decode() of any id giving text or yoco::Error.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/error.h"
#include "llm/tokenizer.h"
#include "tests/fuzz/fuzz_util.h"

namespace yoco::fuzz {

inline void check_round_trip(const llm::Tokenizer& tok, std::string_view text) {
  for (const bool ordinary : {false, true}) {
    const std::vector<int32_t> ids = ordinary ? tok.encode_ordinary(text) : tok.encode(text);
    for (int32_t id : ids)
      if (id < 0 || id >= tok.vocab_size()) fail("encode() gives an id outside [0, vocab_size())");
    std::string back;
    try {
      back = tok.decode(ids);
    } catch (const Error&) {
      fail("decode() rejects an id that encode() gave");
    }
    if (back != text) fail(ordinary ? "decode(encode_ordinary(text)) != text" : "decode(encode(text)) != text");
  }
}

// `sample`: a few bytes of the input, encoded as text too.
inline void check_tokenizer(const llm::Tokenizer& tok, std::string_view sample) {
  if (tok.vocab_size() < 1) fail("vocab_size() < 1");
  std::string with_specials = "a ";
  for (const auto& s : tok.specials()) {
    if (tok.token_id(s.text) != s.id || !tok.is_special(s.id)) fail("a special is not found by its spelling");
    if (s.id < 0 || s.id >= tok.vocab_size()) fail("a special id outside [0, vocab_size())");
    with_specials += s.text + "x";
  }
  for (int32_t role : {tok.bos(), tok.eos(), tok.pad(), tok.unk()})
    if (role != -1 && !tok.is_special(role)) fail("a role names no special");
  for (std::string_view text : {std::string_view(""), std::string_view("hello world, 12345!\n"),
                                std::string_view("  \t\xc3\xa9t\xc3\xa9 \xe2\x82\xac 3.14's \xff\xfe\x80"),
                                std::string_view(with_specials).substr(0, 512), sample.substr(0, 256)})
    check_round_trip(tok, text);
  const int32_t n = tok.vocab_size();
  std::vector<int32_t> probe = {-1, n, n - 1, std::numeric_limits<int32_t>::max(),
                                std::numeric_limits<int32_t>::min()};
  for (int32_t id = 0; id < n && id < 1024; ++id) probe.push_back(id);
  for (int32_t id : probe) {
    try {
      (void)tok.decode_token(id);
    } catch (const Error&) {
    }
  }
}

}  // namespace yoco::fuzz
