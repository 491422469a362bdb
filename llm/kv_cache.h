// PagedKvCache: the growing K/V store of one sequence — YOCO's one global K̂/V̂ cache, or one layer's cache in
// the Transformer / CLA baselines. Tokens live in fixed-size pages (page metadata apart from storage, as in a
// paged block manager): pages are allocated as the sequence grows, never moved, and shared between a session
// and its forks. A full page is immutable once shared; writing into a shared page first copies it
// (copy-on-write), so a fork reads the parent's prefix in place and appends to a private tail.
//
// Past a memory budget (DESIGN.md, "Errors, threads, memory") a cache can
//   - evict: drop whole full pages right after the first `sink` pages (the attention sink). The cache then
//     holds the tokens of positions [0, gap_begin) and [gap_begin + n_evicted, end_position()); its own
//     index space (span(), n_tokens()) counts held tokens only, so token j of the span is
//     position j below gap_begin and j + n_evicted from there on. Keys carry their RoPE positions already,
//     so the caller only shifts the causal mask: a query at absolute position p reads the span with
//     q_pos0 = p - n_evicted (every held key before p is then visible, none after it; full causal attention
//     only: a sliding window would count held tokens, not positions). Later evictions must
//     keep the same sink, so the dropped positions stay one contiguous gap.
//   - spill: write full pages to a KvSpillFile and replace their memory by a read-only mapping of the file;
//     span() reads them in place, the bytes are identical, only resident_bytes() drops.
// Both act on this cache object only: a fork taken earlier keeps its own page list (and so the pages it
// shares stay alive until it is gone).
//
// Thread safety: a cache object is used by one thread at a time; different caches that share pages may be
// used from different threads (shared pages are never written; the reference counts are atomic).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/ops.h"

namespace yoco::llm {

class KvSpillFile;

class PagedKvCache {
 public:
  PagedKvCache() = default;
  PagedKvCache(int n_kv_heads, int head_dim, kernels::DType dtype, int page_tokens);

  // Appends n tokens. k and v: n rows of [n_kv_heads, head_dim] f32 at their row strides.
  void append(const float* k, int64_t k_stride, const float* v, int64_t v_stride, int64_t n);
  // Keeps positions [0, n): n <= end_position() and not inside the evicted gap (gap_begin(), gap_end());
  // n <= gap_begin() closes the gap (every token left lies before it). Throws yoco::Error otherwise.
  void truncate(int64_t n);
  // A cache that shares every page with this one (O(pages) pointer copies, no data copy).
  PagedKvCache fork() const;

  // Drops pages [first, first + count): whole full pages (not a partial last page), the `first` pages
  // before them kept as the sink (0 allowed), the same `first` as any earlier eviction. Throws yoco::Error
  // otherwise (leaving the cache as it was). Returns the tokens dropped.
  int64_t evict_pages(int64_t first, int64_t count);
  // Spills up to `max_pages` resident full pages, oldest first, to `file`; returns the bytes spilled.
  // Throws yoco::Error on I/O failure; pages spilled before the failure stay spilled (and correct).
  size_t spill_pages(KvSpillFile& file, int64_t max_pages);

  // A read view of the first n held tokens (all when n < 0); `blocks` is scratch the span points into.
  // span.pos0 is 0: the span's index space is the held tokens (see the eviction note above).
  kernels::KvSpan span(std::vector<kernels::KvBlock>& blocks, int64_t n = -1) const;

  int64_t n_tokens() const { return n_tokens_; }  // tokens held
  int64_t n_evicted() const { return n_evicted_; }  // tokens dropped by evict_pages
  int64_t gap_begin() const { return gap_begin_; }  // first evicted position (0 when none)
  int64_t gap_end() const { return gap_begin_ + n_evicted_; }  // first position after the gap
  int64_t end_position() const { return n_tokens_ + n_evicted_; }  // positions appended in all
  int n_kv_heads() const { return n_kv_heads_; }
  int head_dim() const { return head_dim_; }
  kernels::DType dtype() const { return dtype_; }
  int page_tokens() const { return page_tokens_; }
  // Bytes of K/V storage held by the pages this cache references (pages × page bytes), resident or spilled.
  size_t bytes() const { return pages_.size() * page_bytes(); }
  size_t resident_bytes() const { return bytes() - spilled_bytes(); }
  size_t spilled_bytes() const { return static_cast<size_t>(n_spilled_) * page_bytes(); }
  size_t page_bytes() const;
  // Bytes one token occupies: 2 · kernels::kv_row_bytes(dtype, n_kv, head_dim) (2 · n_kv · head_dim ·
  // sizeof(dtype), or 2 · n_kv · (head_dim + 4) for int8).
  size_t bytes_per_token() const;
  int64_t n_pages() const { return static_cast<int64_t>(pages_.size()); }
  int64_t n_full_pages() const { return n_tokens_ / page_tokens_; }
  bool page_spilled(int64_t i) const { return pages_[i]->mapped != nullptr; }

  // Raw page access (persistence and tests): K then V, each page_tokens stored rows (kernels::kv_row_bytes).
  const uint8_t* page_data(int64_t i) const { return pages_[i]->data(); }
  // The absolute page number of held page i (pages since the first position; evicted pages count).
  int64_t page_number(int64_t i) const {
    const int64_t sink = gap_begin_ / page_tokens_;
    return i < sink ? i : i + n_evicted_ / page_tokens_;
  }

  // Rebuilds a cache from its held pages (persistence, llm/session_log.h): `pages` are the page_bytes()
  // images of the held pages in order (the last one may be partial), copied into fresh resident pages.
  // Throws yoco::Error when the counts are inconsistent (wrong page count, a gap not on page boundaries).
  static PagedKvCache from_pages(int n_kv_heads, int head_dim, kernels::DType dtype, int page_tokens,
                                 const std::vector<const uint8_t*>& pages, int64_t n_tokens, int64_t n_evicted,
                                 int64_t gap_begin);

 private:
  // Storage of one page: anonymous memory (resident) or a read-only file mapping (spilled). Pages of 64 KiB
  // and more are mmap'ed directly, so that dropping or spilling one gives its memory back to the OS at once
  // (a malloc arena would keep it).
  struct PageFree {
    size_t mapped;  // > 0: munmap this many bytes; 0: delete[]
    void operator()(uint8_t* p) const;
  };
  struct Page {
    std::unique_ptr<uint8_t, PageFree> heap{nullptr, PageFree{0}};
    std::shared_ptr<const uint8_t> mapped;
    const uint8_t* data() const { return mapped ? mapped.get() : heap.get(); }
  };
  std::shared_ptr<Page> new_page() const;
  uint8_t* writable_page(int64_t i);  // copy-on-write (also of a spilled page)
  int n_kv_heads_ = 0;
  int head_dim_ = 0;
  kernels::DType dtype_ = kernels::DType::F32;
  int page_tokens_ = 256;
  int64_t n_tokens_ = 0;
  int64_t n_evicted_ = 0;
  int64_t gap_begin_ = 0;
  int64_t n_spilled_ = 0;  // pages of pages_ that are spilled
  std::vector<std::shared_ptr<Page>> pages_;
};

}  // namespace yoco::llm
