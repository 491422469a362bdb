#include "llm/tokenizer_bpe.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "kernels/error.h"

namespace yoco::llm::tok {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  YOCO_REQUIRE(f.good(), "cannot open tokenizer file " + path + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << f.rdbuf();
  YOCO_REQUIRE(!f.bad(), "cannot read tokenizer file " + path);
  return std::move(ss).str();
}

void BpeTokenizer::encode_text(std::string_view text, std::vector<int32_t>& out) const {
  std::vector<std::string_view> pieces;
  split_text(text, split_, pieces);
  for (std::string_view piece : pieces) {
    const bool cacheable = piece.size() <= kCacheMaxPiece;
    if (cacheable) {
      std::lock_guard<std::mutex> lock(cache_mutex_);
      if (auto it = cache_.find(piece); it != cache_.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        continue;
      }
    }
    const size_t before = out.size();
    encode_piece(piece, out);
    if (cacheable) {
      std::lock_guard<std::mutex> lock(cache_mutex_);
      if (cache_.size() >= kCacheEntries) cache_.clear();  // bounded: start over rather than grow
      cache_.emplace(std::string(piece), std::vector<int32_t>(out.begin() + before, out.end()));
    }
  }
}

const std::vector<char32_t>& gpt2_byte_to_char() {
  static const std::vector<char32_t> table = [] {
    std::vector<char32_t> t(256, 0);
    std::vector<bool> direct(256, false);
    for (int b = '!'; b <= '~'; ++b) direct[b] = true;
    for (int b = 0xA1; b <= 0xAC; ++b) direct[b] = true;
    for (int b = 0xAE; b <= 0xFF; ++b) direct[b] = true;
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) t[b] = direct[b] ? static_cast<char32_t>(b) : next++;
    return t;
  }();
  return table;
}

}  // namespace yoco::llm::tok
