#include "llm/lookup_decoder.h"

#include <algorithm>

#include "kernels/error.h"
#include "kernels/ops.h"
#include "llm/session.h"

namespace yoco::llm {

LookupDecoder::LookupDecoder(Session& session, std::span<const float> logits, std::vector<int32_t> lookup,
                             int max_tokens, const LookupOptions& options)
    : session_(session),
      opts_(options),
      vocab_(session.model().config().vocab_size),
      logits_(logits.begin(), logits.end()),
      text_(std::move(lookup)),
      remaining_(max_tokens),
      draft_len_(0) {
  YOCO_REQUIRE(static_cast<int64_t>(logits_.size()) == vocab_, "lookup decoder: logits are not one vocabulary row");
  YOCO_REQUIRE(opts_.max_draft >= LookupOptions::kAuto && opts_.max_draft <= 255,
               "lookup decoder: max_draft must be in -1..255");
  if (opts_.max_draft == LookupOptions::kAuto) {
    const int64_t read = session.n_tokens() - session.evicted_tokens();
    opts_.max_draft = read < LookupOptions::kLongContext ? 4 : 16;
  }
  draft_len_ = std::min(8, opts_.max_draft);
  YOCO_REQUIRE(opts_.min_ngram >= 1 && opts_.max_ngram >= opts_.min_ngram, "lookup decoder: bad n-gram range");
}

int32_t LookupDecoder::next() {
  if (pending_ && ready_pos_ >= ready_.size()) {
    pending_ = false;
    advance(pending_token_);
  }
  --remaining_;
  if (ready_pos_ < ready_.size()) return ready_[ready_pos_++];
  const int32_t t = kernels::argmax(logits_.data(), vocab_);
  text_.push_back(t);
  pending_ = true;
  pending_token_ = t;
  return t;
}

std::vector<int32_t> LookupDecoder::draft() const {
  const int64_t n_text = static_cast<int64_t>(text_.size());
  const int64_t cap = std::min<int64_t>(draft_len_, remaining_);
  if (cap <= 0) return {};
  for (int64_t n = opts_.max_ngram; n >= opts_.min_ngram; --n) {
    if (n_text < n + 1) continue;
    const int32_t* suffix = text_.data() + n_text - n;
    // The most recent earlier occurrence of the suffix with at least one token after it.
    for (int64_t i = n_text - n - 1; i >= 0; --i) {
      if (text_[static_cast<size_t>(i)] != suffix[0] || !std::equal(suffix, suffix + n, text_.data() + i)) continue;
      const int64_t start = i + n;
      const int64_t len = std::min(cap, n_text - start);
      return std::vector<int32_t>(text_.begin() + start, text_.begin() + start + len);
    }
  }
  return {};
}

void LookupDecoder::advance(int32_t token) {
  ready_.clear();
  ready_pos_ = 0;
  const std::vector<int32_t> d = draft();
  stats_.passes++;
  if (d.empty()) {
    const std::span<const float> l = session_.step(token);
    logits_.assign(l.begin(), l.end());
    return;
  }
  const int64_t length = session_.n_tokens();
  std::vector<int32_t> seq;
  seq.reserve(d.size() + 1);
  seq.push_back(token);
  seq.insert(seq.end(), d.begin(), d.end());
  rows_.resize(seq.size() * static_cast<size_t>(vocab_));
  session_.mark();
  try {
    session_.forward_all(seq, rows_.data());
  } catch (...) {
    session_.unmark(length);
    throw;
  }
  size_t kept = 0;
  while (kept < d.size() && kernels::argmax(rows_.data() + kept * vocab_, vocab_) == d[kept]) ++kept;
  if (kept < d.size()) {  // undo the rejected tail: back to the mark, then the kept tokens again
    session_.rollback(length);
    session_.prefill(std::span<const int32_t>(seq.data(), kept + 1));
  }
  session_.unmark(length);
  stats_.drafted += static_cast<int64_t>(d.size());
  stats_.longest = std::max<int64_t>(stats_.longest, static_cast<int64_t>(d.size()));
  stats_.accepted += static_cast<int64_t>(kept);
  logits_.assign(rows_.begin() + static_cast<int64_t>(kept) * vocab_, rows_.begin() + static_cast<int64_t>(kept + 1) * vocab_);
  ready_.assign(d.begin(), d.begin() + static_cast<int64_t>(kept));
  text_.insert(text_.end(), ready_.begin(), ready_.end());
  draft_len_ = kept == d.size() ? std::min(opts_.max_draft, std::max(1, draft_len_ * 2))
                                : std::max(1, static_cast<int>(kept) + 1);
}

}  // namespace yoco::llm
