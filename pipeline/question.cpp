#include "pipeline/question.h"

#include <algorithm>
#include <chrono>

#include "kernels/error.h"
#include "kernels/ops.h"
#include "llm/lookup_decoder.h"
#include "llm/session.h"
#include "llm/tokenizer.h"

namespace yoco::pipeline {

namespace {
double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

std::string trim_spaces(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && (s[a] == ' ' || s[a] == '\t' || s[a] == '\n' || s[a] == '\r')) ++a;
  while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\n' || s[b - 1] == '\r')) --b;
  return s.substr(a, b - a);
}

// Length of the longest suffix of `text` that is a proper prefix of `end` (such bytes may still become the
// terminator, so they are held back from streaming).
size_t pending_end_prefix(const std::string& text, const std::string& end) {
  for (size_t n = std::min(text.size(), end.empty() ? 0 : end.size() - 1); n > 0; --n)
    if (text.compare(text.size() - n, n, end, 0, n) == 0) return n;
  return 0;
}
}  // namespace

size_t incomplete_utf8_tail(const std::string& s) {
  // Walk back over at most 3 continuation bytes to the lead byte and check whether its sequence is complete.
  size_t n = s.size(), i = n, cont = 0;
  while (i > 0 && cont < 4 && (static_cast<unsigned char>(s[i - 1]) & 0xC0) == 0x80) {
    --i;
    ++cont;
  }
  if (i == 0) return 0;
  const unsigned char lead = static_cast<unsigned char>(s[i - 1]);
  size_t need = 0;
  if ((lead & 0xE0) == 0xC0) need = 1;
  else if ((lead & 0xF0) == 0xE0) need = 2;
  else if ((lead & 0xF8) == 0xF0) need = 3;
  else return 0;  // ASCII or an invalid byte: nothing to wait for
  return cont < need ? cont + 1 : 0;
}

GeneratedAnswer generate_answer(llm::Session& session, const llm::Tokenizer& tok, const StreamFormat& fmt,
                                const std::string& question, int max_tokens, const TextFn& on_text,
                                const std::function<void()>& on_prefilled, const std::vector<int32_t>& lookup) {
  const auto t0 = std::chrono::steady_clock::now();
  GeneratedAnswer out;
  if (max_tokens <= 0) max_tokens = fmt.max_answer_tokens;
  const std::vector<int32_t> ids = encode_stream_text(tok, fmt.question_text(question));
  YOCO_CHECK(!ids.empty());
  const int64_t vocab = session.model().config().vocab_size;
  std::span<const float> logits;
  try {
    logits = session.forward(ids);
  } catch (...) {
    if (on_prefilled) on_prefilled();
    throw;
  }
  out.prefill_ms = ms_since(t0);
  if (on_prefilled) on_prefilled();

  std::string text;
  size_t emitted = 0;
  const int32_t eos = tok.eos();
  // Greedy, with drafts looked up in the question, the caller's text and the answer so far (llm/lookup_decoder.h).
  std::vector<int32_t> seen = lookup;
  seen.insert(seen.end(), ids.begin(), ids.end());
  llm::LookupDecoder decoder(session, logits.subspan(0, static_cast<size_t>(vocab)), std::move(seen), max_tokens);
  for (int i = 0; i < max_tokens; ++i) {
    const int32_t t = decoder.next();
    out.tokens.push_back(t);
    if (t == eos) {
      out.stopped_by_end = true;
      break;
    }
    text += (t >= 0 && t < tok.vocab_size()) ? tok.decode_token(t) : std::string();
    if (!fmt.answer_end.empty() && text.size() >= fmt.answer_end.size() &&
        text.compare(text.size() - fmt.answer_end.size(), fmt.answer_end.size(), fmt.answer_end) == 0) {
      text.resize(text.size() - fmt.answer_end.size());
      out.stopped_by_end = true;
      break;
    }
    if (on_text) {
      const size_t hold = std::max(pending_end_prefix(text, fmt.answer_end), incomplete_utf8_tail(text));
      if (text.size() - hold > emitted) {
        on_text(text.substr(emitted, text.size() - hold - emitted));
        emitted = text.size() - hold;
      }
    }
  }
  if (on_text && text.size() > emitted) on_text(text.substr(emitted));
  out.raw = text;
  out.text = trim_spaces(text);
  out.total_ms = ms_since(t0);
  return out;
}

}  // namespace yoco::pipeline
