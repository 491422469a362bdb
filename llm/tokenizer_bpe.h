// Internal to the tokenizers: the byte-pair-encoding core shared by the tiktoken and Hugging Face kinds.
// A BpeTokenizer splits text with a regex pre-tokenizer (tokenizer_split.h), then merges each piece's bytes
// with a priority queue over a linked list of parts (O(n log n) per piece, not O(n²)), caching the ids of
// recent pieces. Subclasses say what a byte starts as and which adjacent pairs merge.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "llm/tokenizer.h"
#include "llm/tokenizer_split.h"

namespace yoco::llm::tok {

// Hash for unordered containers keyed by std::string that accept std::string_view lookups.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

// The whole file as bytes; throws yoco::Error naming it when it cannot be read.
std::string read_file(const std::string& path);

struct BpePart {
  uint32_t start;      // byte offset in the piece
  int32_t id;          // current token id of bytes [start, next part's start)
  int32_t prev, next;  // neighbours in the list, -1 at the ends
  uint32_t version;    // bumped when the part grows, to recognise stale queue entries
};

struct BpeMerge {
  int32_t rank = -1;  // -1: the pair does not merge
  int32_t id = -1;    // the merged token
};

// Merges `parts` (one per byte, linked in order) of a piece of `len` bytes: repeatedly the adjacent pair of
// lowest rank, the leftmost among equals (what tiktoken's and Hugging Face's loops do), until no pair merges.
// pair(left, right, end_of_right) gives the merge of two adjacent parts. Appends the final ids to `out`.
template <typename PairFn>
void bpe_merge(std::vector<BpePart>& parts, size_t len, PairFn pair, std::vector<int32_t>& out) {
  struct Entry {
    int32_t rank;
    uint32_t start;
    int32_t left, right;
    uint32_t left_version, right_version;
    int32_t merged;
    bool operator>(const Entry& o) const { return rank != o.rank ? rank > o.rank : start > o.start; }
  };
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> queue;
  auto end_of = [&](int32_t k) -> size_t { return parts[k].next < 0 ? len : parts[parts[k].next].start; };
  auto push = [&](int32_t l) {
    if (l < 0 || parts[l].next < 0) return;
    const int32_t r = parts[l].next;
    const BpeMerge m = pair(parts[l], parts[r], end_of(r));
    if (m.rank >= 0) queue.push({m.rank, parts[l].start, l, r, parts[l].version, parts[r].version, m.id});
  };
  for (int32_t k = 0; k + 1 < static_cast<int32_t>(parts.size()); ++k) push(k);
  std::vector<bool> alive(parts.size(), true);
  while (!queue.empty()) {
    const Entry e = queue.top();
    queue.pop();
    if (!alive[e.left] || !alive[e.right] || parts[e.left].next != e.right ||
        parts[e.left].version != e.left_version || parts[e.right].version != e.right_version)
      continue;  // stale: one side has merged since this entry was queued
    BpePart& l = parts[e.left];
    l.id = e.merged;
    l.next = parts[e.right].next;
    ++l.version;
    alive[e.right] = false;
    if (l.next >= 0) parts[l.next].prev = e.left;
    push(l.prev);
    push(e.left);
  }
  for (int32_t k = parts.empty() ? -1 : 0; k >= 0; k = parts[k].next) out.push_back(parts[k].id);
}

class BpeTokenizer : public Tokenizer {
 protected:
  explicit BpeTokenizer(SplitPattern split) : split_(split) {}
  void encode_text(std::string_view text, std::vector<int32_t>& out) const final;
  // Encodes one pre-token (not empty) into `out`.
  virtual void encode_piece(std::string_view piece, std::vector<int32_t>& out) const = 0;

 private:
  static constexpr size_t kCacheEntries = 1 << 16;
  static constexpr size_t kCacheMaxPiece = 256;
  SplitPattern split_;
  mutable std::mutex cache_mutex_;
  mutable StringMap<std::vector<int32_t>> cache_;
};

// The GPT-2 byte <-> printable character map of byte-level BPE: bytes that are printable Latin-1 map to
// themselves, the others to U+0100 onwards in byte order.
const std::vector<char32_t>& gpt2_byte_to_char();

}  // namespace yoco::llm::tok
