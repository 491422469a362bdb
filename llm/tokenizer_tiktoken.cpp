// tiktoken rank files (cl100k_base.tiktoken and kin): one line per token, `base64(token bytes) rank`; the
// token's id is offset + rank. Pre-tokenisation is cl100k_base's regex (tokenizer_split.h); merging is
// tiktoken's: the adjacent pair whose concatenated bytes have the lowest rank merges first.
#include <algorithm>
#include <charconv>
#include <limits>
#include <memory>

#include "kernels/error.h"
#include "llm/tokenizer_bpe.h"

namespace yoco::llm {

namespace {

using tok::BpeMerge;
using tok::BpePart;

constexpr int64_t kMaxRank = 1 << 24;

int base64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Strict standard base64 with padding; false on any deviation.
bool base64_decode(std::string_view in, std::string* out) {
  if (in.empty() || in.size() % 4 != 0) return false;
  out->clear();
  for (size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const unsigned char c = static_cast<unsigned char>(in[i + k]);
      if (c == '=' && last && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return false;  // data after padding
      v[k] = base64_value(c);
      if (v[k] < 0) return false;
    }
    const uint32_t w = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out->push_back(static_cast<char>(w >> 16));
    if (pad < 2) out->push_back(static_cast<char>((w >> 8) & 0xff));
    if (pad < 1) out->push_back(static_cast<char>(w & 0xff));
  }
  return true;
}

class TiktokenTokenizer final : public tok::BpeTokenizer {
 public:
  TiktokenTokenizer(const std::string& path, const nlohmann::json& config)
      : BpeTokenizer(tok::SplitPattern::Cl100k) {
    int64_t offset = 4;
    if (config.contains("offset")) {
      YOCO_REQUIRE(config["offset"].is_number_integer() &&
                       (config["offset"].get<int64_t>() == 0 || config["offset"].get<int64_t>() == 4),
                   path + ": tokenizer 'offset' must be 0 or 4");
      offset = config["offset"].get<int64_t>();
    }
    offset_ = static_cast<int32_t>(offset);
    if (offset_ == 4) {
      add_special("<s>", 0, path);
      add_special("<pad>", 1, path);
      add_special("</s>", 2, path);
      add_special("<unk>", 3, path);
    }
    load_ranks(path);
    int32_t vocab = offset_ + static_cast<int32_t>(tokens_.size());
    if (config.contains("specials")) {
      const auto& s = config["specials"];
      YOCO_REQUIRE(s.is_object(), path + ": tokenizer 'specials' must map spellings to tiktoken ids");
      for (auto it = s.begin(); it != s.end(); ++it) {
        YOCO_REQUIRE(
            it.value().is_number_integer() && it.value().get<int64_t>() >= 0 &&
                it.value().get<int64_t>() < kMaxRank,
            path + ": special '" + it.key() + "' needs an id in [0, " + std::to_string(kMaxRank) + ")");
        const auto raw = it.value().get<int32_t>();
        YOCO_REQUIRE(raw >= static_cast<int32_t>(tokens_.size()) || !present_[raw],
                     path + ": special '" + it.key() + "' takes id " + std::to_string(raw) +
                         ", which the rank file already uses");
        add_special(it.key(), offset_ + raw, path);
        vocab = std::max(vocab, offset_ + raw + 1);
      }
    }
    vocab_ = vocab;
    resolve_roles(config, path, "<s>", "</s>", "<pad>", "<unk>");
  }

  std::string decode_token(int32_t id) const override {
    const int64_t r = static_cast<int64_t>(id) - offset_;
    if (r >= 0 && r < static_cast<int64_t>(tokens_.size()) && present_[r]) return tokens_[r];
    if (const std::string* s = special_text(id)) return *s;
    throw Error("token id " + std::to_string(id) + " names no token (tiktoken vocabulary of " +
                std::to_string(vocab_) + ")");
  }

  int32_t vocab_size() const override { return vocab_; }

 protected:
  void encode_piece(std::string_view piece, std::vector<int32_t>& out) const override {
    if (auto it = ranks_.find(piece); it != ranks_.end()) {
      out.push_back(offset_ + it->second);
      return;
    }
    std::vector<BpePart> parts(piece.size());
    for (size_t i = 0; i < piece.size(); ++i) {
      parts[i] = {static_cast<uint32_t>(i), byte_rank_[static_cast<unsigned char>(piece[i])],
                  static_cast<int32_t>(i) - 1, i + 1 < piece.size() ? static_cast<int32_t>(i + 1) : -1, 0};
    }
    const size_t first = out.size();
    tok::bpe_merge(
        parts, piece.size(),
        [&](const BpePart& l, const BpePart&, size_t end) {
          const auto it = ranks_.find(piece.substr(l.start, end - l.start));
          return it == ranks_.end() ? BpeMerge{} : BpeMerge{it->second, it->second};
        },
        out);
    for (size_t i = first; i < out.size(); ++i) out[i] += offset_;
  }

 private:
  void load_ranks(const std::string& path) {
    const std::string text = tok::read_file(path);
    // Ranks index a table: bound them by the file's own size (real files number their lines 0..N-1), so
    // that a 20-byte file cannot make the loader allocate for a rank of 2^24.
    const int64_t max_rank = std::min<int64_t>(
        kMaxRank, 2 * static_cast<int64_t>(std::count(text.begin(), text.end(), '\n') + 1) + 1024);
    std::string bytes;
    size_t line_no = 0;
    for (size_t pos = 0; pos < text.size();) {
      size_t eol = text.find('\n', pos);
      if (eol == std::string::npos) eol = text.size();
      std::string_view line(text.data() + pos, eol - pos);
      pos = eol + 1;
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.empty()) continue;
      const std::string where = path + ":" + std::to_string(line_no) + ": ";
      const size_t sp = line.find(' ');
      YOCO_REQUIRE(sp != std::string_view::npos && line.find(' ', sp + 1) == std::string_view::npos,
                   where + "expected 'base64 rank'");
      YOCO_REQUIRE(base64_decode(line.substr(0, sp), &bytes), where + "bad base64 token");
      const std::string_view rank_text = line.substr(sp + 1);
      int64_t rank = -1;
      const auto [end, ec] = std::from_chars(rank_text.data(), rank_text.data() + rank_text.size(), rank);
      YOCO_REQUIRE(
          ec == std::errc() && end == rank_text.data() + rank_text.size() && rank >= 0 && rank < kMaxRank,
          where + "bad rank '" + std::string(rank_text.substr(0, 32)) + "'");
      YOCO_REQUIRE(rank < max_rank, where + "rank " + std::to_string(rank) + " is far past the file's " +
                                        std::to_string(line_no) + "+ lines (ranks number the tokens densely)");
      const auto r = static_cast<int32_t>(rank);
      if (r >= static_cast<int32_t>(tokens_.size())) {
        tokens_.resize(r + 1);
        present_.resize(r + 1, false);
      }
      YOCO_REQUIRE(!present_[r], where + "rank " + std::to_string(r) + " appears twice");
      YOCO_REQUIRE(ranks_.emplace(bytes, r).second, where + "token appears twice");
      tokens_[r] = bytes;
      present_[r] = true;
    }
    for (int b = 0; b < 256; ++b) {
      const auto it = ranks_.find(std::string(1, static_cast<char>(b)));
      YOCO_REQUIRE(it != ranks_.end(),
                   path + ": no token for the single byte " + std::to_string(b) + " (every byte needs one)");
      byte_rank_[b] = it->second;
    }
  }

  int32_t offset_ = 4;
  int32_t vocab_ = 0;
  tok::StringMap<int32_t> ranks_;
  std::vector<std::string> tokens_;  // by rank
  std::vector<bool> present_;        // by rank
  int32_t byte_rank_[256] = {};
};

}  // namespace

std::unique_ptr<Tokenizer> load_tiktoken_tokenizer(const std::string& file, const nlohmann::json& config) {
  try {
    return std::make_unique<TiktokenTokenizer>(file, config);
  } catch (const nlohmann::json::exception& e) {  // a config field of an unexpected JSON type
    throw Error(file + ": bad tokenizer config: " + e.what());
  }
}

}  // namespace yoco::llm
