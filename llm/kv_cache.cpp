#include "llm/kv_cache.h"

#include <cstring>

#include "kernels/error.h"

namespace yoco::llm {

PagedKvCache::PagedKvCache(int n_kv_heads, int head_dim, kernels::DType dtype, int page_tokens)
    : n_kv_heads_(n_kv_heads), head_dim_(head_dim), dtype_(dtype), page_tokens_(page_tokens) {
  YOCO_CHECK(n_kv_heads > 0 && head_dim > 0 && page_tokens > 0);
}

size_t PagedKvCache::bytes_per_token() const {
  return 2 * static_cast<size_t>(n_kv_heads_) * head_dim_ * kernels::dtype_size(dtype_);
}

size_t PagedKvCache::page_bytes() const { return static_cast<size_t>(page_tokens_) * bytes_per_token(); }

uint8_t* PagedKvCache::writable_page(int64_t i) {
  auto& p = pages_[i];
  if (p.use_count() > 1) {  // shared with a fork: copy before writing
    auto copy = std::make_shared<Page>();
    copy->data.reset(new uint8_t[page_bytes()]);
    std::memcpy(copy->data.get(), p->data.get(), page_bytes());
    p = std::move(copy);
  }
  return p->data.get();
}

void PagedKvCache::append(const float* k, int64_t k_stride, const float* v, int64_t v_stride, int64_t n) {
  const int64_t row = static_cast<int64_t>(n_kv_heads_) * head_dim_;
  const size_t esz = kernels::dtype_size(dtype_);
  const size_t half = static_cast<size_t>(page_tokens_) * row * esz;  // K part of a page
  int64_t done = 0;
  while (done < n) {
    const int64_t page = n_tokens_ / page_tokens_;
    const int64_t slot = n_tokens_ % page_tokens_;
    if (page == n_pages()) {
      auto p = std::make_shared<Page>();
      p->data.reset(new uint8_t[page_bytes()]);
      pages_.push_back(std::move(p));
    }
    uint8_t* base = writable_page(page);
    const int64_t take = std::min<int64_t>(n - done, page_tokens_ - slot);
    for (int64_t t = 0; t < take; ++t) {
      uint8_t* kd = base + (slot + t) * row * esz;
      uint8_t* vd = base + half + (slot + t) * row * esz;
      const float* ks = k + (done + t) * k_stride;
      const float* vs = v + (done + t) * v_stride;
      if (dtype_ == kernels::DType::F32) {
        std::memcpy(kd, ks, row * sizeof(float));
        std::memcpy(vd, vs, row * sizeof(float));
      } else {
        kernels::convert_from_f32(ks, dtype_, kd, row);
        kernels::convert_from_f32(vs, dtype_, vd, row);
      }
    }
    done += take;
    n_tokens_ += take;
  }
}

void PagedKvCache::truncate(int64_t n) {
  YOCO_REQUIRE(n >= 0 && n <= n_tokens_, "kv cache: cannot truncate " + std::to_string(n_tokens_) +
                                              " tokens to " + std::to_string(n));
  n_tokens_ = n;
  pages_.resize((n + page_tokens_ - 1) / page_tokens_);
}

PagedKvCache PagedKvCache::fork() const { return *this; }

kernels::KvSpan PagedKvCache::span(std::vector<kernels::KvBlock>& blocks, int64_t n) const {
  if (n < 0 || n > n_tokens_) n = n_tokens_;
  blocks.clear();
  const int64_t row = static_cast<int64_t>(n_kv_heads_) * head_dim_;
  const size_t esz = kernels::dtype_size(dtype_);
  const size_t half = static_cast<size_t>(page_tokens_) * row * esz;
  for (int64_t start = 0, i = 0; start < n; start += page_tokens_, ++i) {
    const uint8_t* base = pages_[i]->data.get();
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
