#include "llm/kv_cache.h"

#include <cstring>
#include <sys/mman.h>

#include "kernels/error.h"
#include "llm/kv_spill.h"

namespace yoco::llm {

namespace {
constexpr size_t kMmapPageBytes = 64 * 1024;  // pages this large get their own anonymous mapping
}

void PagedKvCache::PageFree::operator()(uint8_t* p) const {
  if (mapped > 0) ::munmap(p, mapped);
  else delete[] p;
}

PagedKvCache::PagedKvCache(int n_kv_heads, int head_dim, kernels::DType dtype, int page_tokens)
    : n_kv_heads_(n_kv_heads), head_dim_(head_dim), dtype_(dtype), page_tokens_(page_tokens) {
  YOCO_CHECK(n_kv_heads > 0 && head_dim > 0 && page_tokens > 0);
}

size_t PagedKvCache::bytes_per_token() const {
  return 2 * kernels::kv_row_bytes(dtype_, n_kv_heads_, head_dim_);
}

size_t PagedKvCache::page_bytes() const { return static_cast<size_t>(page_tokens_) * bytes_per_token(); }

std::shared_ptr<PagedKvCache::Page> PagedKvCache::new_page() const {
  auto p = std::make_shared<Page>();
  const size_t n = page_bytes();
  if (n >= kMmapPageBytes) {
    void* m = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) throw std::bad_alloc();
    p->heap = std::unique_ptr<uint8_t, PageFree>(static_cast<uint8_t*>(m), PageFree{n});
  } else {
    p->heap = std::unique_ptr<uint8_t, PageFree>(new uint8_t[n], PageFree{0});
  }
  return p;
}

PagedKvCache PagedKvCache::from_pages(int n_kv_heads, int head_dim, kernels::DType dtype, int page_tokens,
                                      const std::vector<const uint8_t*>& pages, int64_t n_tokens,
                                      int64_t n_evicted, int64_t gap_begin) {
  YOCO_REQUIRE(n_kv_heads > 0 && head_dim > 0 && page_tokens > 0, "cache: bad geometry");
  YOCO_REQUIRE(n_tokens >= 0 && n_evicted >= 0 && gap_begin >= 0, "cache: negative token counts");
  YOCO_REQUIRE(n_evicted % page_tokens == 0 && gap_begin % page_tokens == 0,
               "cache: the evicted gap is not on page boundaries");
  YOCO_REQUIRE(n_evicted == 0 || gap_begin <= n_tokens, "cache: the evicted gap lies past the held tokens");
  const int64_t n_pages = (n_tokens + page_tokens - 1) / page_tokens;
  YOCO_REQUIRE(static_cast<int64_t>(pages.size()) == n_pages,
               "cache: " + std::to_string(pages.size()) + " pages given for " + std::to_string(n_tokens) +
                   " tokens (" + std::to_string(n_pages) + " expected)");
  PagedKvCache c(n_kv_heads, head_dim, dtype, page_tokens);
  for (const uint8_t* src : pages) {
    YOCO_REQUIRE(src != nullptr, "cache: a page is missing");
    auto p = c.new_page();
    std::memcpy(p->heap.get(), src, c.page_bytes());
    c.pages_.push_back(std::move(p));
  }
  c.n_tokens_ = n_tokens;
  c.n_evicted_ = n_evicted;
  c.gap_begin_ = n_evicted > 0 ? gap_begin : 0;
  return c;
}

uint8_t* PagedKvCache::writable_page(int64_t i) {
  auto& p = pages_[i];
  if (p.use_count() > 1 || p->mapped) {  // shared with a fork, or spilled (read-only): copy before writing
    auto copy = new_page();
    std::memcpy(copy->heap.get(), p->data(), page_bytes());
    if (p->mapped) n_spilled_--;
    p = std::move(copy);
  }
  return p->heap.get();
}

void PagedKvCache::append(const float* k, int64_t k_stride, const float* v, int64_t v_stride, int64_t n) {
  const size_t rb = kernels::kv_row_bytes(dtype_, n_kv_heads_, head_dim_);
  const size_t half = static_cast<size_t>(page_tokens_) * rb;  // K part of a page
  int64_t done = 0;
  while (done < n) {
    const int64_t page = n_tokens_ / page_tokens_;
    const int64_t slot = n_tokens_ % page_tokens_;
    if (page == n_pages()) pages_.push_back(new_page());
    uint8_t* base = writable_page(page);
    const int64_t take = std::min<int64_t>(n - done, page_tokens_ - slot);
    kernels::kv_rows_from_f32(k + done * k_stride, k_stride, dtype_, base + slot * rb, take, n_kv_heads_,
                              head_dim_);
    kernels::kv_rows_from_f32(v + done * v_stride, v_stride, dtype_, base + half + slot * rb, take, n_kv_heads_,
                              head_dim_);
    done += take;
    n_tokens_ += take;
  }
}

void PagedKvCache::truncate(int64_t n) {
  YOCO_REQUIRE(n >= 0 && n <= end_position(), "kv cache: cannot truncate " + std::to_string(end_position()) +
                                                   " positions to " + std::to_string(n));
  YOCO_REQUIRE(n_evicted_ == 0 || n <= gap_begin_ || n >= gap_end(),
               "kv cache: positions " + std::to_string(gap_begin_) + ".." + std::to_string(gap_end()) +
                   " were evicted; cannot return to " + std::to_string(n));
  const int64_t held = n >= gap_end() ? n - n_evicted_ : n;
  n_tokens_ = held;
  const size_t keep = static_cast<size_t>((held + page_tokens_ - 1) / page_tokens_);
  for (size_t i = keep; i < pages_.size(); ++i)
    if (pages_[i]->mapped) n_spilled_--;
  pages_.resize(keep);
  if (n <= gap_begin_) {  // everything left lies before the gap
    n_evicted_ = 0;
    gap_begin_ = 0;
  }
}

PagedKvCache PagedKvCache::fork() const { return *this; }

int64_t PagedKvCache::evict_pages(int64_t first, int64_t count) {
  YOCO_REQUIRE(first >= 0 && count >= 0 && first + count <= n_full_pages(),
               "kv cache: cannot evict pages " + std::to_string(first) + ".." + std::to_string(first + count) +
                   " of " + std::to_string(n_full_pages()) + " full pages");
  YOCO_REQUIRE(n_evicted_ == 0 || first * page_tokens_ == gap_begin_,
               "kv cache: evictions must keep the same sink (" + std::to_string(gap_begin_ / page_tokens_) +
                   " pages), not " + std::to_string(first));
  if (count == 0) return 0;
  for (int64_t i = first; i < first + count; ++i)
    if (pages_[i]->mapped) n_spilled_--;
  pages_.erase(pages_.begin() + first, pages_.begin() + first + count);
  const int64_t dropped = count * page_tokens_;
  gap_begin_ = first * page_tokens_;
  n_evicted_ += dropped;
  n_tokens_ -= dropped;
  return dropped;
}

size_t PagedKvCache::spill_pages(KvSpillFile& file, int64_t max_pages) {
  size_t spilled = 0;
  const int64_t full = n_full_pages();
  for (int64_t i = 0; i < full && max_pages > 0; ++i) {
    auto& p = pages_[i];
    if (p->mapped) continue;
    auto s = std::make_shared<Page>();
    s->mapped = file.write(p->data(), page_bytes());  // throws before anything changes
    p = std::move(s);  // a fork sharing the old page keeps it; this cache now reads the file
    n_spilled_++;
    spilled += page_bytes();
    max_pages--;
  }
  return spilled;
}

kernels::KvSpan PagedKvCache::span(std::vector<kernels::KvBlock>& blocks, int64_t n) const {
  if (n < 0 || n > n_tokens_) n = n_tokens_;
  blocks.clear();
  const size_t half = static_cast<size_t>(page_tokens_) * kernels::kv_row_bytes(dtype_, n_kv_heads_, head_dim_);
  for (int64_t start = 0, i = 0; start < n; start += page_tokens_, ++i) {
    const uint8_t* base = pages_[i]->data();
    blocks.push_back({base, base + half, std::min<int64_t>(page_tokens_, n - start)});
  }
  kernels::KvSpan s;
  s.blocks = blocks.data();
  s.n_blocks = static_cast<int64_t>(blocks.size());
  s.n_tokens = n;
  s.dtype = dtype_;
  s.n_kv_heads = n_kv_heads_;
  s.head_dim = head_dim_;
  s.pos0 = 0;
  return s;
}

}  // namespace yoco::llm
