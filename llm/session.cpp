// Session state management: construction, fork, mark/rollback, batching and the public entry points.
// The per-block forward functions live in llm/forward.cpp.
#include "llm/session.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "kernels/error.h"
#include "llm/session_internal.h"

namespace yoco::llm {

Session::Session(std::shared_ptr<const Model> model, const SessionOptions& opts) : Session(model, opts, false) {}

Session::Session(std::shared_ptr<const Model> model, const SessionOptions& opts, bool empty)
    : model_(std::move(model)), opts_(opts) {
  YOCO_REQUIRE(model_ != nullptr, "session: no model");
  YOCO_REQUIRE(opts_.page_tokens > 0 && opts_.page_tokens <= (1 << 20), "session: page_tokens out of range");
  YOCO_REQUIRE(opts_.max_batch > 0 && opts_.max_batch <= (1 << 16), "session: max_batch out of range");
  YOCO_REQUIRE(opts_.retention_chunk > 0 && opts_.retention_chunk <= 4096, "session: retention_chunk out of range");
  const ModelConfig& c = model_->config();
  act_ = std::make_unique<Activations>(c, opts_.max_batch);
  if (empty) return;
  self_ = std::make_unique<SelfState>(c);
  for (int i = 0; i < c.n_kv_caches(); ++i)
    caches_.emplace_back(c.n_attn_kv_heads, c.head_dim(), opts_.cache_dtype, opts_.page_tokens);
}

Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() = default;

size_t Session::cache_bytes() const {
  size_t b = 0;
  for (const auto& c : caches_) b += c.bytes();
  return b;
}

size_t Session::cache_spilled_bytes() const {
  size_t b = 0;
  for (const auto& c : caches_) b += c.spilled_bytes();
  return b;
}

size_t Session::state_bytes() const { return self_->bytes(); }

int64_t Session::evicted_tokens() const { return caches_.empty() ? 0 : caches_[0].n_evicted(); }

int64_t Session::evictable_pages(int sink_pages) const {
  if (caches_.empty() || sink_pages < 0) return 0;
  const PagedKvCache& c = caches_[0];  // every cache has the same page layout
  if (c.n_evicted() > 0 && c.gap_begin() != int64_t{sink_pages} * c.page_tokens()) return 0;
  return std::max<int64_t>(0, c.n_full_pages() - sink_pages);
}

int64_t Session::evict_pages(int sink_pages, int64_t n_pages) {
  YOCO_REQUIRE(sink_pages >= 0 && n_pages >= 0, "evict: negative page count");
  if (caches_.empty() || n_pages == 0) return 0;
  // Check once for all caches (they hold the same positions in the same pages), so that a refusal leaves
  // every cache as it was.
  const PagedKvCache& c0 = caches_[0];
  YOCO_REQUIRE(c0.n_evicted() == 0 || c0.gap_begin() == int64_t{sink_pages} * c0.page_tokens(),
               "evict: the sink must stay " + std::to_string(c0.gap_begin() / c0.page_tokens()) + " pages");
  YOCO_REQUIRE(sink_pages + n_pages <= c0.n_full_pages(),
               "evict: " + std::to_string(n_pages) + " pages after a sink of " + std::to_string(sink_pages) +
                   " are not there (" + std::to_string(c0.n_full_pages()) + " full pages)");
  int64_t dropped = 0;
  for (auto& c : caches_) dropped = c.evict_pages(sink_pages, n_pages);
  return dropped;
}

int64_t Session::evict_before(int sink_pages, int64_t position) {
  if (caches_.empty() || sink_pages < 0) return 0;
  const PagedKvCache& c = caches_[0];
  const int64_t pt = c.page_tokens();
  // Held pages after the sink are consecutive positions from absolute page sink + evicted pages on.
  const int64_t first = sink_pages + c.n_evicted() / pt;
  const int64_t n = std::min(evictable_pages(sink_pages), std::max<int64_t>(0, position) / pt - first);
  return n > 0 ? evict_pages(sink_pages, n) : 0;
}

size_t Session::spill_pages(KvSpillFile& file, size_t max_resident_bytes) {
  size_t spilled = 0;
  // Oldest pages first, the same page of every cache at a time, so that every layer keeps the same recent
  // pages resident.
  while (cache_resident_bytes() > max_resident_bytes) {
    size_t step = 0;
    for (auto& c : caches_) step += c.spill_pages(file, 1);
    if (step == 0) break;  // only partial pages are resident
    spilled += step;
  }
  return spilled;
}

Session Session::fork() const {
  Session s(model_, opts_, /*empty=*/true);
  s.self_ = std::make_unique<SelfState>(*self_);
  for (const auto& c : caches_) s.caches_.push_back(c.fork());
  s.n_tokens_ = n_tokens_;
  return s;
}

size_t Session::self_state_image_bytes() const {
  return (self_->retention.size() + self_->ring_k.size() + self_->ring_v.size() + self_->last_hidden.size()) *
             sizeof(float) +
         1;
}

std::vector<uint8_t> Session::self_state_image() const {
  std::vector<uint8_t> out(self_state_image_bytes());
  uint8_t* p = out.data();
  for (const std::vector<float>* v : {&self_->retention, &self_->ring_k, &self_->ring_v, &self_->last_hidden}) {
    if (!v->empty()) std::memcpy(p, v->data(), v->size() * sizeof(float));
    p += v->size() * sizeof(float);
  }
  *p = self_->last_hidden_valid ? 1 : 0;
  return out;
}

Session Session::restore(std::shared_ptr<const Model> model, const SessionOptions& opts, int64_t n_tokens,
                         const std::vector<uint8_t>& self_state, std::vector<PagedKvCache> caches) {
  Session s(std::move(model), opts);
  YOCO_REQUIRE(self_state.size() == s.self_state_image_bytes(),
               "session state: " + std::to_string(self_state.size()) + " bytes of self-decoder state, " +
                   std::to_string(s.self_state_image_bytes()) + " expected by this model");
  YOCO_REQUIRE(caches.size() == s.caches_.size(), "session state: " + std::to_string(caches.size()) +
                                                     " caches, " + std::to_string(s.caches_.size()) + " expected");
  YOCO_REQUIRE(n_tokens >= 0, "session state: negative length");
  for (size_t i = 0; i < caches.size(); ++i) {
    const PagedKvCache& want = s.caches_[i];
    const PagedKvCache& got = caches[i];
    YOCO_REQUIRE(got.n_kv_heads() == want.n_kv_heads() && got.head_dim() == want.head_dim() &&
                     got.dtype() == want.dtype() && got.page_tokens() == want.page_tokens(),
                 "session state: cache " + std::to_string(i) + " has another geometry than this model's");
    YOCO_REQUIRE(got.end_position() == n_tokens, "session state: cache " + std::to_string(i) + " holds " +
                                                     std::to_string(got.end_position()) + " positions, not " +
                                                     std::to_string(n_tokens));
  }
  const uint8_t* p = self_state.data();
  for (std::vector<float>* v : {&s.self_->retention, &s.self_->ring_k, &s.self_->ring_v, &s.self_->last_hidden}) {
    if (!v->empty()) std::memcpy(v->data(), p, v->size() * sizeof(float));
    p += v->size() * sizeof(float);
  }
  YOCO_REQUIRE(*p <= 1, "session state: bad validity flag");
  s.self_->last_hidden_valid = *p == 1;
  s.caches_ = std::move(caches);
  s.n_tokens_ = n_tokens;
  return s;
}

void Session::mark() { marks_[n_tokens_] = std::make_unique<SelfState>(*self_); }

void Session::unmark(int64_t n) { marks_.erase(n); }

void Session::rollback(int64_t n) {
  YOCO_REQUIRE(n >= 0 && n <= n_tokens_, "rollback: length " + std::to_string(n) + " is not in 0.." +
                                             std::to_string(n_tokens_));
  if (n == n_tokens_) return;
  if (!caches_.empty() && caches_[0].n_evicted() > 0) {
    const PagedKvCache& c0 = caches_[0];
    YOCO_REQUIRE(n <= c0.gap_begin() || n >= c0.gap_end(),
                 "rollback: positions " + std::to_string(c0.gap_begin()) + ".." + std::to_string(c0.gap_end()) +
                     " were evicted; cannot return to length " + std::to_string(n));
  }
  const ModelConfig& c = model_->config();
  auto it = marks_.find(n);
  if (c.arch == Arch::Yoco) {
    YOCO_REQUIRE(it != marks_.end() || n == 0,
                 "rollback: no mark at length " + std::to_string(n) +
                     " (a YOCO self-decoder state can only return to a length recorded by mark())");
  }
  if (it != marks_.end()) {
    *self_ = *it->second;
  } else if (n == 0) {
    *self_ = SelfState(c);
  } else {
    self_->last_hidden_valid = false;  // Transformer/CLA: caches rewind exactly, the last hidden row does not
  }
  for (auto& cache : caches_) cache.truncate(n);
  n_tokens_ = n;
  marks_.erase(marks_.upper_bound(n), marks_.end());
}

void Session::run_tokens(std::span<const int32_t> tokens, bool want_all, float* out) {
  const int64_t V = model_->config().vocab_size;
  // Validate everything before touching the state: bad input loses nothing.
  for (size_t i = 0; i < tokens.size(); ++i)
    YOCO_REQUIRE(tokens[i] >= 0 && tokens[i] < V, "token id " + std::to_string(tokens[i]) + " at index " +
                                                      std::to_string(i) + " is outside the vocabulary [0, " +
                                                      std::to_string(V) + ")");
  const int64_t B = opts_.max_batch;
  const int64_t total = static_cast<int64_t>(tokens.size());
  for (int64_t done = 0; done < total;) {
    const int64_t n = std::min(B, total - done);
    embed(tokens.subspan(done, n));
    const bool last = done + n == total;
    if (want_all) {
      run_batch(n, n, out + done * V);
    } else if (last && out) {
      run_batch(n, 1, out);
    } else {
      run_batch(n, 0, nullptr);
    }
    done += n;
  }
}

void Session::prefill(std::span<const int32_t> tokens) { run_tokens(tokens, false, nullptr); }

void Session::prefill_embeddings(const float* e, int64_t n) {
  const int64_t dim = model_->config().dim;
  YOCO_REQUIRE(n >= 0, "prefill_embeddings: negative row count");
  for (int64_t i = 0; i < n * dim; ++i)
    YOCO_REQUIRE(std::isfinite(e[i]), "prefill_embeddings: non-finite value in row " + std::to_string(i / dim));
  for (int64_t done = 0; done < n;) {
    const int64_t b = std::min<int64_t>(opts_.max_batch, n - done);
    std::memcpy(act_->x.data(), e + done * dim, b * dim * sizeof(float));
    run_batch(b, 0, nullptr);
    done += b;
  }
}

std::span<const float> Session::forward(std::span<const int32_t> tokens) {
  YOCO_REQUIRE(!tokens.empty(), "forward: no tokens");
  logits_.resize(model_->config().vocab_size);
  run_tokens(tokens, false, logits_.data());
  return logits_;
}

void Session::forward_all(std::span<const int32_t> tokens, float* out) { run_tokens(tokens, true, out); }

std::span<const float> Session::last_logits() {
  YOCO_REQUIRE(n_tokens_ > 0, "last_logits: the session is empty");
  YOCO_REQUIRE(self_->last_hidden_valid, "last_logits: the last position's state is unknown after a rollback");
  logits_.resize(model_->config().vocab_size);
  float* x = act_->x.data();
  std::memcpy(x, self_->last_hidden.data(), self_->last_hidden.size() * sizeof(float));
  if (model_->config().arch == Arch::Yoco) {
    for (int i = 0; i < model_->config().n_cross_layers(); ++i) cross_layer(i, x, 1, n_tokens_ - 1);
  }
  head(x, 1, logits_.data());
  return logits_;
}

}  // namespace yoco::llm

namespace yoco::llm {

void Session::append_random_context(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const ModelConfig& c = model_->config();
  const int64_t kvd = c.kv_dim(), B = 4096;
  std::vector<float> kv(B * 2 * kvd);
  for (auto& cache : caches_) {
    for (int64_t done = 0; done < n;) {
      const int64_t b = std::min(B, n - done);
      for (int64_t i = 0; i < b * 2 * kvd; ++i) kv[i] = normal(rng);
      cache.append(kv.data(), 2 * kvd, kv.data() + kvd, 2 * kvd, b);
      done += b;
    }
  }
  for (auto& x : self_->ring_k) x = normal(rng);
  for (auto& x : self_->ring_v) x = normal(rng);
  for (auto& x : self_->last_hidden) x = normal(rng);
  self_->last_hidden_valid = true;
  n_tokens_ += n;
}

}  // namespace yoco::llm
