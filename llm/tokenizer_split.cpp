#include "llm/tokenizer_split.h"

#include <cstdint>

#include "llm/tokenizer_unicode.h"

namespace yoco::llm::tok {

namespace {

struct Char {
  uint32_t offset;  // byte offset in the text
  char32_t cp;
  CharClass cls;
};

bool is_newline(char32_t c) {
  return c == '\r' || c == '\n';
}

// Case-insensitive contraction letter as (?i) matches it: ASCII letters fold to lower case and U+017F (long
// s) folds to 's' (Unicode simple case folding; no other code point folds onto t, r, e, v, m, l or d).
char32_t fold(char32_t c, bool ignore_case) {
  if (!ignore_case) return c;
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c == 0x17F) return 's';
  return c;
}

// 's|'t|'re|'ve|'m|'ll|'d at i: the match length in characters, 0 for none.
size_t contraction(const std::vector<Char>& c, size_t i, bool ignore_case) {
  const size_t n = c.size();
  if (c[i].cp != '\'' || i + 1 >= n) return 0;
  const char32_t x = fold(c[i + 1].cp, ignore_case);
  if (x == 's' || x == 't' || x == 'm' || x == 'd') return 2;
  if (i + 2 >= n) return 0;
  const char32_t y = fold(c[i + 2].cp, ignore_case);
  if ((x == 'r' && y == 'e') || (x == 'v' && y == 'e') || (x == 'l' && y == 'l')) return 3;
  return 0;
}

size_t run_end(const std::vector<Char>& c, size_t j, CharClass cls) {
  while (j < c.size() && c[j].cls == cls) ++j;
  return j;
}

// \s+(?!\S) then \s+ at i (c[i] is a space): greedy run, giving back one character when a non-space follows.
size_t spaces(const std::vector<Char>& c, size_t i) {
  const size_t j = run_end(c, i, CharClass::Space);
  if (j == c.size() || j - i < 2) return j;
  return j - 1;
}

// One match of the GPT-2 pattern at i (i < n); returns its end (in characters).
size_t match_gpt2(const std::vector<Char>& c, size_t i) {
  const size_t n = c.size();
  if (size_t k = contraction(c, i, false)) return i + k;
  // ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+': an optional ASCII space, then a run of one class.
  size_t start = i;
  if (c[i].cp == ' ' && i + 1 < n && c[i + 1].cls != CharClass::Space) start = i + 1;
  if (c[start].cls != CharClass::Space) return run_end(c, start, c[start].cls);
  return spaces(c, i);
}

// One match of the cl100k pattern at i; max_digits is 3 (cl100k) or 1 (single digits).
size_t match_cl100k(const std::vector<Char>& c, size_t i, size_t max_digits) {
  const size_t n = c.size();
  if (size_t k = contraction(c, i, true)) return i + k;
  const CharClass cls = c[i].cls;
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (cls == CharClass::Letter) return run_end(c, i, CharClass::Letter);
  if (cls != CharClass::Number && !is_newline(c[i].cp) && i + 1 < n && c[i + 1].cls == CharClass::Letter)
    return run_end(c, i + 1, CharClass::Letter);
  // \p{N}{1,3}
  if (cls == CharClass::Number) {
    size_t j = i + 1;
    while (j < n && j - i < max_digits && c[j].cls == CharClass::Number) ++j;
    return j;
  }
  // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
  size_t start = n;
  if (cls == CharClass::Other)
    start = i;
  else if (c[i].cp == ' ' && i + 1 < n && c[i + 1].cls == CharClass::Other)
    start = i + 1;
  if (start < n) {
    size_t j = run_end(c, start, CharClass::Other);
    while (j < n && is_newline(c[j].cp)) ++j;
    return j;
  }
  // Here c[i] is a space. \s*[\r\n]+ : up to the last newline of the whitespace run.
  const size_t j = run_end(c, i, CharClass::Space);
  for (size_t k = j; k > i; --k)
    if (is_newline(c[k - 1].cp)) return k;
  // \s+(?!\S) | \s+
  return spaces(c, i);
}

}  // namespace

const char* split_pattern_regex(SplitPattern p) {
  switch (p) {
    case SplitPattern::Gpt2:
      return R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
    case SplitPattern::Cl100k:
      return R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
    case SplitPattern::Cl100kSingleDigit:
      return R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  }
  return "";
}

void split_text(std::string_view text, SplitPattern p, std::vector<std::string_view>& out) {
  std::vector<Char> c;
  c.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t len = 1;
    const char32_t cp = decode_utf8(text, i, &len);
    c.push_back({static_cast<uint32_t>(i), cp, char_class(cp)});
    i += len;
  }
  const size_t n = c.size();
  auto offset = [&](size_t k) { return k < n ? c[k].offset : static_cast<uint32_t>(text.size()); };
  for (size_t i = 0; i < n;) {
    size_t j = 0;
    switch (p) {
      case SplitPattern::Gpt2:
        j = match_gpt2(c, i);
        break;
      case SplitPattern::Cl100k:
        j = match_cl100k(c, i, 3);
        break;
      case SplitPattern::Cl100kSingleDigit:
        j = match_cl100k(c, i, 1);
        break;
    }
    // Every alternative set above matches at least one character at any position.
    if (j <= i) j = i + 1;
    out.push_back(text.substr(offset(i), offset(j) - offset(i)));
    i = j;
  }
}

}  // namespace yoco::llm::tok
