// PagedKvCache: the growing K/V store of one sequence — YOCO's one global K̂/V̂ cache, or one layer's cache in
// the Transformer / CLA baselines. Tokens live in fixed-size pages (page metadata apart from storage, as in a
// paged block manager): pages are allocated as the sequence grows, never moved, and shared between a session
// and its forks. A full page is immutable once shared; writing into a shared page first copies it
// (copy-on-write), so a fork reads the parent's prefix in place and appends to a private tail.
//
// Thread safety: a cache object is used by one thread at a time; different caches that share pages may be
// used from different threads (shared pages are never written; the reference counts are atomic).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/ops.h"

namespace yoco::llm {

class PagedKvCache {
 public:
  PagedKvCache() = default;
  PagedKvCache(int n_kv_heads, int head_dim, kernels::DType dtype, int page_tokens);

  // Appends n tokens. k and v: n rows of [n_kv_heads, head_dim] f32 at their row strides.
  void append(const float* k, int64_t k_stride, const float* v, int64_t v_stride, int64_t n);
  // Keeps the first n tokens (n <= n_tokens()).
  void truncate(int64_t n);
  // A cache that shares every page with this one (O(pages) pointer copies, no data copy).
  PagedKvCache fork() const;

  // A read view of the first n tokens (all when n < 0); `blocks` is scratch the span points into.
  kernels::KvSpan span(std::vector<kernels::KvBlock>& blocks, int64_t n = -1) const;

  int64_t n_tokens() const { return n_tokens_; }
  int n_kv_heads() const { return n_kv_heads_; }
  int head_dim() const { return head_dim_; }
  kernels::DType dtype() const { return dtype_; }
  int page_tokens() const { return page_tokens_; }
  // Bytes of K/V storage held by the pages this cache references (allocated pages × page bytes).
  size_t bytes() const { return pages_.size() * page_bytes(); }
  size_t page_bytes() const;
  // Bytes one token occupies: 2 · n_kv · head_dim · sizeof(dtype).
  size_t bytes_per_token() const;
  int64_t n_pages() const { return static_cast<int64_t>(pages_.size()); }

  // Raw page access (persistence and tests): K then V, each [page_tokens, n_kv, head_dim].
  const uint8_t* page_data(int64_t i) const { return pages_[i]->data.get(); }

 private:
  struct Page {
    std::unique_ptr<uint8_t[]> data;
  };
  uint8_t* writable_page(int64_t i);  // copy-on-write
  int n_kv_heads_ = 0;
  int head_dim_ = 0;
  kernels::DType dtype_ = kernels::DType::F32;
  int page_tokens_ = 256;
  int64_t n_tokens_ = 0;
  std::vector<std::shared_ptr<Page>> pages_;
};

}  // namespace yoco::llm
