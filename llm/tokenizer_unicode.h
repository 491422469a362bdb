// Internal to the tokenizers: UTF-8 decoding and the code point classes the BPE pre-tokenizers need.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace yoco::llm::tok {

// \p{L}, \p{N}, \s (Unicode White_Space), or anything else (including bytes that are not valid UTF-8).
enum class CharClass : uint8_t { Letter, Number, Space, Other };

// The table lookup for non-ASCII code points (generated, llm/tokenizer_unicode.cpp).
CharClass char_class_slow(char32_t c);

inline CharClass char_class(char32_t c) {
  if (c < 0x80) {
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return CharClass::Letter;
    if (c >= '0' && c <= '9') return CharClass::Number;
    if (c == ' ' || (c >= 0x09 && c <= 0x0d)) return CharClass::Space;
    return CharClass::Other;
  }
  return char_class_slow(c);
}

// A byte that is not part of a valid UTF-8 sequence decodes as this (class Other), one byte at a time.
constexpr char32_t kInvalid = 0xFFFFFFFF;

// Decodes the code point at s[i] (strict UTF-8: no overlongs, surrogates or values past U+10FFFF) and sets
// *len to its byte length (1 for an invalid byte).
inline char32_t decode_utf8(std::string_view s, size_t i, size_t* len) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  *len = 1;
  if (b0 < 0x80) return b0;
  int n;
  char32_t c, min;
  if ((b0 & 0xe0) == 0xc0) {
    n = 2, c = b0 & 0x1f, min = 0x80;
  } else if ((b0 & 0xf0) == 0xe0) {
    n = 3, c = b0 & 0x0f, min = 0x800;
  } else if ((b0 & 0xf8) == 0xf0) {
    n = 4, c = b0 & 0x07, min = 0x10000;
  } else {
    return kInvalid;
  }
  if (i + n > s.size()) return kInvalid;
  for (int k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xc0) != 0x80) return kInvalid;
    c = (c << 6) | (b & 0x3f);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return kInvalid;
  *len = static_cast<size_t>(n);
  return c;
}

}  // namespace yoco::llm::tok
