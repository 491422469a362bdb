// Session: the state of one sequence (one stream, or one question forked from it) and the forward pass
// that advances it. The model is shared and immutable; the session owns
//   - the self-decoder state: per self layer, the gated-retention matrices [H, d, d] or the sliding-window
//     ring of the last W keys/values (constant size, whatever the length);
//   - the growing K/V: YOCO's one global K̂/V̂ cache, or one cache per layer (Transformer) / group (CLA);
//   - preallocated activations for batches of up to `max_batch` tokens.
// Ingest (prefill) on YOCO runs the self-decoder and the K̂/V̂ projection only (early exit); the cross-decoder
// runs only for positions whose logits are asked for. Logits equal those of a full forward pass.
//
// Thread safety: one thread at a time per session. fork() copies the small state and shares the cache pages
// (copy-on-write), so a fork can answer on another thread while the parent keeps ingesting.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "llm/kv_cache.h"
#include "llm/kv_spill.h"
#include "llm/model.h"

namespace yoco::llm {

struct SessionOptions {
  kernels::DType cache_dtype = kernels::DType::F32;  // storage of the growing K/V (F32, F16, BF16 or Q8)
  int page_tokens = 256;   // tokens per cache page
  int max_batch = 256;     // tokens per forward batch (activations are sized for this)
  int retention_chunk = 64;  // chunk of the chunkwise retention form
};

// Observer of intermediate activations (tests and debugging): name is "self.{i}", "kv.k", "kv.v",
// "cross.{i}" (YOCO) or "layers.{i}" (Transformer/CLA); rows are positions pos0 .. pos0 + rows - 1.
using TraceFn = std::function<void(const std::string& name, int64_t pos0, const float* data, int64_t rows,
                                   int64_t cols)>;

class Session {
 public:
  explicit Session(std::shared_ptr<const Model> model, const SessionOptions& opts = {});
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  ~Session();

  // Appends tokens without computing logits (YOCO: early exit, no cross-decoder).
  void prefill(std::span<const int32_t> tokens);
  // Appends rows of embeddings already at the LM width ([n, dim], no embedding scale applied): the seam
  // through which vision tokens enter.
  void prefill_embeddings(const float* embeddings, int64_t n);
  // Appends tokens and returns the logits after the last one (vocab floats, valid until the next call).
  std::span<const float> forward(std::span<const int32_t> tokens);
  std::span<const float> step(int32_t token) { return forward(std::span<const int32_t>(&token, 1)); }
  // Appends tokens and writes the logits at every one of their positions to out ([n, vocab]).
  void forward_all(std::span<const int32_t> tokens, float* out);
  // Logits after the last appended position (recomputes the cross-decoder for it; the session must not be
  // empty). Used after prefill_embeddings, when the question starts with vision tokens.
  std::span<const float> last_logits();

  // A new session at the same point: copies the self-decoder state, shares the cache pages.
  Session fork() const;
  // Records the self-decoder state at the current length so that rollback() can return here.
  void mark();
  // Forgets the mark at length n (no-op without one).
  void unmark(int64_t n);
  // Returns to an earlier length. Transformer/CLA: any length. YOCO: a length recorded by mark() (the
  // recurrent state cannot be rewound otherwise); throws yoco::Error for any other length, and for a length
  // strictly inside evicted positions.
  void rollback(int64_t n_tokens);

  // Memory budget policies (DESIGN.md, "Errors, threads, memory"; llm/kv_cache.h).
  // evict_pages: drops `n_pages` full pages after the first `sink_pages` from every growing cache (the same
  // pages of every layer for Transformer/CLA). Positions keep their absolute values: n_tokens() does not
  // change, RoPE of new tokens and queries uses absolute positions, the causal mask is shifted by
  // evicted_tokens() (queries read the held keys only). The YOCO self-decoder state is untouched: it has
  // seen every token. Forks taken before keep their pages; rollback() into the evicted positions throws.
  // Throws yoco::Error (and evicts nothing) when the pages are not there or the sink differs from an earlier
  // eviction. Returns the positions dropped.
  int64_t evict_pages(int sink_pages, int64_t n_pages);
  // evict_before: evict_pages of every full page after the sink that lies wholly before `position` (a view of
  // the sink and the recent context, e.g. for a fork answering about the last seconds only). Drops nothing
  // when the sink differs from an earlier eviction. Returns the positions dropped.
  int64_t evict_before(int sink_pages, int64_t position);
  // Full pages that evict_pages(sink_pages, ·) could still drop.
  int64_t evictable_pages(int sink_pages) const;
  int64_t evicted_tokens() const;
  // spill_pages: writes the oldest resident full pages of the caches to `file` and maps them back read-only
  // until the resident cache bytes are at most `max_resident_bytes` (or no full page is left resident).
  // Logits are unchanged bit for bit. Returns the bytes spilled; throws yoco::Error on I/O failure (pages
  // spilled before it stay spilled and correct).
  size_t spill_pages(KvSpillFile& file, size_t max_resident_bytes);

  int64_t n_tokens() const { return n_tokens_; }  // positions appended (evicted ones included)
  const Model& model() const { return *model_; }
  const SessionOptions& options() const { return opts_; }
  // Bytes of the growing K/V caches (pages held, resident or spilled; evicted pages are gone), of those the
  // spilled ones, and of the constant self-decoder state.
  size_t cache_bytes() const;
  size_t cache_spilled_bytes() const;
  size_t cache_resident_bytes() const { return cache_bytes() - cache_spilled_bytes(); }
  size_t state_bytes() const;
  const std::vector<PagedKvCache>& caches() const { return caches_; }

  void set_trace(TraceFn fn) { trace_ = std::move(fn); }

  // Persistence (llm/session_log.h). self_state_image(): the constant-size self-decoder state as bytes
  // (retention matrices or window rings, the last hidden row and its validity), self_state_image_bytes() long.
  std::vector<uint8_t> self_state_image() const;
  size_t self_state_image_bytes() const;
  // A session at length n_tokens from a state image and its caches (as PagedKvCache::from_pages rebuilds
  // them). Throws yoco::Error when the image's size, the caches' count, geometry or lengths do not fit the
  // model and options. Marks are not restored.
  static Session restore(std::shared_ptr<const Model> model, const SessionOptions& opts, int64_t n_tokens,
                         const std::vector<uint8_t>& self_state, std::vector<PagedKvCache> caches);

  // Benchmarks only: extends every growing cache by n positions of random K/V (and fills the window rings)
  // without running the model, so that decode and prefill can be timed at a long context without paying a
  // quadratic Transformer prefill first. Costs downstream do not depend on the values.
  void append_random_context(int64_t n, uint64_t seed);

 private:
  struct SelfState;    // retention matrices or window rings (llm/session.cpp)
  struct Activations;  // preallocated batch buffers (llm/session.cpp)

  Session(std::shared_ptr<const Model> model, const SessionOptions& opts, bool empty);
  // Runs one batch of n <= max_batch rows already embedded in act_->x at positions n_tokens_ ..;
  // computes logits for the last `n_logits` rows into `logits_out` (nullptr: none, early exit).
  void run_batch(int64_t n, int64_t n_logits, float* logits_out);
  void embed(std::span<const int32_t> tokens);
  void self_layer(int i, int64_t n, int64_t pos0);
  void global_kv_append(int64_t n);
  void cross_layer(int i, float* x, int64_t n, int64_t pos0);
  void attn_layer(int i, int64_t n, int64_t pos0);
  void ffn(const LayerWeights& l, float* x, int64_t n);
  void head(const float* x, int64_t n, float* logits);
  void run_tokens(std::span<const int32_t> tokens, bool want_all, float* out);
  void trace(const std::string& name, int64_t pos0, const float* data, int64_t rows, int64_t cols) const {
    if (trace_) trace_(name, pos0, data, rows, cols);
  }

  std::shared_ptr<const Model> model_;
  SessionOptions opts_;
  int64_t n_tokens_ = 0;
  std::unique_ptr<SelfState> self_;
  std::vector<PagedKvCache> caches_;
  std::unique_ptr<Activations> act_;
  std::map<int64_t, std::unique_ptr<SelfState>> marks_;
  std::vector<float> logits_;
  TraceFn trace_;
};

}  // namespace yoco::llm
