// LookupDecoder: greedy decoding that drafts tokens from text already seen and checks a whole draft in one
// forward pass (prompt-lookup decoding, a draft-model-free form of speculative decoding).
//
// After each token it looks for the most recent earlier occurrence of the last n tokens (n from max_ngram
// down to min_ngram) in the lookup text (what the caller gave: the question, earlier answers) followed by the
// tokens produced so far; the tokens that followed that occurrence are the draft. One forward_all() over
// [token, draft…] gives the logits at every draft position: the draft is kept up to its first token that is
// not the argmax there, and the argmax at that point is the next token. A rejected tail is undone by rolling
// back to a mark and prefilling the kept tokens again (self-decoder only: no cross-decoder, no logits).
//
// Why: a decode step reads the whole K/V cache (and every weight) for one token; a verified draft of k tokens
// costs one read for k + 1. Captions and summaries repeat their own phrases ("… enters moving right; …
// leaves; …"), so long drafts are often right.
//
// The tokens are the greedy ones of the logits the batched passes compute; those equal step-by-step logits up
// to float rounding (a different batch shape sums in another order), so a near-tie can resolve differently,
// as it can between any two batch sizes. Draft lengths adapt: doubled after a fully kept draft, cut to the
// kept length + 1 otherwise.
//
// Thread safety: one thread, and the session is the decoder's until it is done (marks are added and removed).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace yoco::llm {

class Session;

struct LookupOptions {
  // Tokens drafted at most per pass (0: plain one-token steps; -1: by the context the session reads, below).
  // A pass over 1 + d tokens costs, against one step (demo model, one thread, 2026-11-25): 512 cached tokens
  // 1.5x (d 1), 2.5x (d 4), 4.8x (d 8), 11x (d 16); 40K tokens 1.1x, 1.6x, 2.4x, 3.6x: where the weights and
  // per-op costs dominate, a long draft that is partly rejected costs more than the steps it saves (captions
  // of 346 tokens at ~500 cached: 55 ms with d <= 4, 69 ms with d <= 16, 61 ms with none); where reading the
  // cache dominates, it is nearly free. Auto: 4 under kLongContext tokens read, 16 from there.
  static constexpr int kAuto = -1;
  static constexpr int64_t kLongContext = 4096;
  int max_draft = kAuto;
  int max_ngram = 6;   // longest suffix looked up
  int min_ngram = 2;   // shortest suffix looked up
};

struct LookupStats {
  int64_t passes = 0;    // forward passes (steps and draft checks)
  int64_t drafted = 0;   // draft tokens checked
  int64_t accepted = 0;  // draft tokens kept
  int64_t longest = 0;   // longest draft checked
};

class LookupDecoder {
 public:
  // `logits`: the logits after the session's last position (copied). `lookup`: tokens the draft may be taken
  // from besides the generated ones (e.g. the question). `max_tokens`: tokens next() will be asked for at
  // most (drafts never run past it).
  LookupDecoder(Session& session, std::span<const float> logits, std::vector<int32_t> lookup, int max_tokens,
                const LookupOptions& options = {});

  // The next greedy token. Every token returned before it is in the session; this one is appended (with the
  // draft after it) at the following call.
  int32_t next();
  const LookupStats& stats() const { return stats_; }
  int max_draft() const { return opts_.max_draft; }  // the cap in force (kAuto resolved)

 private:
  void advance(int32_t token);  // appends token (and a checked draft), refreshing logits_
  std::vector<int32_t> draft() const;

  Session& session_;
  LookupOptions opts_;
  int64_t vocab_;
  std::vector<float> logits_;  // after the session's last position
  std::vector<float> rows_;    // forward_all output
  std::vector<int32_t> text_;  // lookup text + tokens produced
  std::vector<int32_t> ready_;  // kept draft tokens not yet returned (in the session already), in order
  size_t ready_pos_ = 0;
  bool pending_ = false;        // the last returned token is not in the session yet
  int32_t pending_token_ = 0;
  int remaining_;               // tokens next() may still be asked for
  int draft_len_;
  LookupStats stats_;
};

}  // namespace yoco::llm
