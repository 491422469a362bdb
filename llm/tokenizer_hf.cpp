// Hugging Face tokenizer.json with a byte-level BPE model: model.type "BPE" (vocab, merges), the ByteLevel
// pre-tokenizer (GPT-2 regex) or Sequence[Split(known regex), ByteLevel(use_regex=false)], the ByteLevel
// decoder, and added_tokens as specials. Anything else (normalizers, other pre-tokenizers, dropout, subword
// prefixes, add_prefix_space) is rejected with an error naming the field, rather than encoded differently.
#include <algorithm>
#include <memory>

#include "kernels/error.h"
#include "llm/json_bounded.h"
#include "llm/tokenizer_bpe.h"
#include "llm/tokenizer_unicode.h"

namespace yoco::llm {

namespace {

using tok::BpeMerge;
using tok::BpePart;
using json = nlohmann::json;

constexpr int64_t kMaxId = 1 << 24;
// tokenizer.json nests a handful of levels (pre_tokenizer Sequence > Split > pattern); error messages dump
// fields, which recurses, so far deeper files are refused when parsed.
constexpr int kMaxDepth = 64;

void append_utf8(std::string& s, char32_t c) {
  if (c < 0x80) {
    s += static_cast<char>(c);
  } else if (c < 0x800) {
    s += static_cast<char>(0xC0 | (c >> 6));
    s += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    s += static_cast<char>(0xE0 | (c >> 12));
    s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (c >> 18));
    s += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (c & 0x3F));
  }
}

bool is_null_or(const json& j, const char* key, const json& allowed) {
  return !j.contains(key) || j[key].is_null() || j[key] == allowed;
}

class HfTokenizer final : public tok::BpeTokenizer {
 public:
  HfTokenizer(const std::string& path, const json& doc, const json& config)
      : BpeTokenizer(parse_split(path, doc)) {
    YOCO_REQUIRE(is_null_or(doc, "normalizer", json()),
                 path + ": normalizer " + doc["normalizer"].dump(0) + " is not supported (only null)");
    if (doc.contains("decoder") && !doc["decoder"].is_null()) {
      const json& d = doc["decoder"];
      YOCO_REQUIRE(d.is_object() && d.value("type", "") == "ByteLevel",
                   path + ": decoder must be ByteLevel, got " + d.dump());
    }
    YOCO_REQUIRE(doc.contains("model") && doc["model"].is_object(), path + ": no 'model' object");
    const json& m = doc["model"];
    YOCO_REQUIRE(is_null_or(m, "type", "BPE"), path + ": model.type must be BPE, got " + m["type"].dump());
    YOCO_REQUIRE(is_null_or(m, "dropout", 0.0) && is_null_or(m, "continuing_subword_prefix", "") &&
                     is_null_or(m, "end_of_word_suffix", "") && is_null_or(m, "byte_fallback", false),
                 path +
                     ": model.dropout, continuing_subword_prefix, end_of_word_suffix and byte_fallback are "
                     "not supported");
    if (m.contains("ignore_merges")) {
      YOCO_REQUIRE(m["ignore_merges"].is_boolean(), path + ": model.ignore_merges must be a boolean");
      ignore_merges_ = m["ignore_merges"].get<bool>();
    }
    load_vocab(path, m);
    load_merges(path, m);
    load_added(path, doc);
    resolve_roles(config, path, nullptr, nullptr, nullptr, nullptr);
  }

  std::string decode_token(int32_t id) const override {
    if (const std::string* s = special_text(id)) return *s;
    if (id >= 0 && id < static_cast<int32_t>(bytes_.size()) && present_[id]) return bytes_[id];
    throw Error("token id " + std::to_string(id) + " names no token (vocabulary of " +
                std::to_string(vocab_size()) + ")");
  }

  int32_t vocab_size() const override { return vocab_; }

 protected:
  void encode_piece(std::string_view piece, std::vector<int32_t>& out) const override {
    if (ignore_merges_) {
      std::string key;
      for (unsigned char b : piece) key += byte_chars_[b];
      if (auto it = vocab_map_.find(key); it != vocab_map_.end()) {
        out.push_back(it->second);
        return;
      }
    }
    std::vector<BpePart> parts(piece.size());
    for (size_t i = 0; i < piece.size(); ++i) {
      parts[i] = {static_cast<uint32_t>(i), byte_id_[static_cast<unsigned char>(piece[i])],
                  static_cast<int32_t>(i) - 1, i + 1 < piece.size() ? static_cast<int32_t>(i + 1) : -1, 0};
    }
    tok::bpe_merge(
        parts, piece.size(),
        [&](const BpePart& l, const BpePart& r, size_t) {
          const auto it = merges_.find(pair_key(l.id, r.id));
          return it == merges_.end() ? BpeMerge{} : it->second;
        },
        out);
  }

 private:
  static uint64_t pair_key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }

  static tok::SplitPattern parse_split(const std::string& path, const json& doc) {
    YOCO_REQUIRE(doc.is_object(), path + ": not a JSON object");
    YOCO_REQUIRE(doc.contains("pre_tokenizer") && doc["pre_tokenizer"].is_object(),
                 path + ": a ByteLevel pre_tokenizer is required");
    const json& p = doc["pre_tokenizer"];
    auto check_byte_level = [&](const json& b, bool use_regex) {
      YOCO_REQUIRE(b.is_object() && b.value("type", "") == "ByteLevel",
                   path + ": unsupported pre_tokenizer " + p.dump());
      YOCO_REQUIRE(is_null_or(b, "add_prefix_space", false),
                   path + ": pre_tokenizer ByteLevel add_prefix_space=true is not supported");
      YOCO_REQUIRE(b.value("use_regex", true) == use_regex,
                   path + ": unsupported pre_tokenizer " + p.dump() + " (ByteLevel use_regex must be " +
                       (use_regex ? "true" : "false after a Split") + ")");
    };
    if (p.value("type", "") == "ByteLevel") {
      check_byte_level(p, true);
      return tok::SplitPattern::Gpt2;
    }
    YOCO_REQUIRE(p.value("type", "") == "Sequence" && p.contains("pretokenizers") &&
                     p["pretokenizers"].is_array() && p["pretokenizers"].size() == 2,
                 path + ": unsupported pre_tokenizer " + p.dump().substr(0, 300));
    const json& split = p["pretokenizers"][0];
    check_byte_level(p["pretokenizers"][1], false);
    YOCO_REQUIRE(split.is_object() && split.value("type", "") == "Split" && split.contains("pattern") &&
                     split["pattern"].is_object() && split["pattern"].contains("Regex") &&
                     split["pattern"]["Regex"].is_string() && split.value("behavior", "") == "Isolated" &&
                     !split.value("invert", false),
                 path + ": unsupported pre_tokenizer Split " + split.dump().substr(0, 300));
    const std::string regex = split["pattern"]["Regex"].get<std::string>();
    for (auto s : {tok::SplitPattern::Gpt2, tok::SplitPattern::Cl100k, tok::SplitPattern::Cl100kSingleDigit})
      if (regex == tok::split_pattern_regex(s)) return s;
    throw Error(path + ": unsupported pre_tokenizer Split regex " + regex +
                " (supported: the GPT-2, cl100k/Llama-3 and Qwen2 patterns)");
  }

  void load_vocab(const std::string& path, const json& m) {
    YOCO_REQUIRE(m.contains("vocab") && m["vocab"].is_object(), path + ": model.vocab must be an object");
    const auto& byte_to_char = tok::gpt2_byte_to_char();
    std::unordered_map<char32_t, int> char_to_byte;
    for (int b = 0; b < 256; ++b) {
      char_to_byte[byte_to_char[b]] = b;
      append_utf8(byte_chars_[b], byte_to_char[b]);
    }
    // Ids index a table: bound them by the vocabulary's own size (real ones are 0..N-1), so that a tiny file
    // cannot make the loader allocate for an id of 2^24.
    const int64_t max_id = std::min<int64_t>(kMaxId, 2 * static_cast<int64_t>(m["vocab"].size()) + 1024);
    for (auto it = m["vocab"].begin(); it != m["vocab"].end(); ++it) {
      const json& v = it.value();
      YOCO_REQUIRE(!v.is_number_integer() || v.get<int64_t>() < max_id,
                   path + ": model.vocab['" + it.key() + "'] = " + v.dump() + " is far past the " +
                       std::to_string(m["vocab"].size()) + " entries (ids number the vocabulary densely)");
      YOCO_REQUIRE(
          v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() < kMaxId,
          path + ": model.vocab['" + it.key() + "'] must be an id in [0, " + std::to_string(kMaxId) + ")");
      const auto id = v.get<int32_t>();
      if (id >= static_cast<int32_t>(bytes_.size())) {
        bytes_.resize(id + 1);
        present_.resize(id + 1, false);
      }
      YOCO_REQUIRE(!present_[id], path + ": model.vocab uses id " + std::to_string(id) + " twice");
      present_[id] = true;
      vocab_map_.emplace(it.key(), id);
      // The token's bytes: each character maps back through the byte-level alphabet; a character outside it
      // (not produced by ByteLevel) stands for its own UTF-8 bytes.
      const std::string& text = it.key();
      std::string& out = bytes_[id];
      for (size_t i = 0; i < text.size();) {
        size_t len = 1;
        const char32_t c = tok::decode_utf8(text, i, &len);
        const auto b = char_to_byte.find(c);
        if (b != char_to_byte.end())
          out += static_cast<char>(b->second);
        else
          out.append(text, i, len);
        i += len;
      }
    }
    for (int b = 0; b < 256; ++b) {
      const auto it = vocab_map_.find(byte_chars_[b]);
      YOCO_REQUIRE(it != vocab_map_.end(), path + ": model.vocab has no token for byte " + std::to_string(b) +
                                               " ('" + byte_chars_[b] + "'); byte-level BPE needs all 256");
      byte_id_[b] = it->second;
    }
    vocab_ = static_cast<int32_t>(bytes_.size());
  }

  void load_merges(const std::string& path, const json& m) {
    YOCO_REQUIRE(m.contains("merges") && m["merges"].is_array(), path + ": model.merges must be an array");
    const json& merges = m["merges"];
    for (size_t i = 0; i < merges.size(); ++i) {
      const json& e = merges[i];
      const std::string where = path + ": model.merges[" + std::to_string(i) + "]";
      std::string a, b;
      if (e.is_string()) {  // "a b"
        const std::string s = e.get<std::string>();
        const size_t sp = s.find(' ');
        YOCO_REQUIRE(sp != std::string::npos && sp > 0 && sp + 1 < s.size() &&
                         s.find(' ', sp + 1) == std::string::npos,
                     where + " '" + s + "' is not two tokens separated by one space");
        a = s.substr(0, sp);
        b = s.substr(sp + 1);
      } else {  // ["a", "b"]
        YOCO_REQUIRE(e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string(),
                     where + " must be \"a b\" or [\"a\", \"b\"]");
        a = e[0].get<std::string>();
        b = e[1].get<std::string>();
      }
      const auto ia = vocab_map_.find(a), ib = vocab_map_.find(b), im = vocab_map_.find(a + b);
      YOCO_REQUIRE(ia != vocab_map_.end(), where + " names unknown token '" + a + "'");
      YOCO_REQUIRE(ib != vocab_map_.end(), where + " names unknown token '" + b + "'");
      YOCO_REQUIRE(im != vocab_map_.end(),
                   where + ": the merged token '" + a + b + "' is not in the vocabulary");
      // A repeated pair keeps its first (lowest) rank, as Hugging Face does.
      merges_.emplace(pair_key(ia->second, ib->second), BpeMerge{static_cast<int32_t>(i), im->second});
    }
  }

  void load_added(const std::string& path, const json& doc) {
    if (!doc.contains("added_tokens") || doc["added_tokens"].is_null()) return;
    YOCO_REQUIRE(doc["added_tokens"].is_array(), path + ": added_tokens must be an array");
    size_t i = 0;
    for (const json& t : doc["added_tokens"]) {
      const std::string where = path + ": added_tokens[" + std::to_string(i++) + "]";
      YOCO_REQUIRE(
          t.is_object() && t.contains("id") && t["id"].is_number_integer() && t.contains("content") &&
              t["content"].is_string() && t["id"].get<int64_t>() >= 0 && t["id"].get<int64_t>() < kMaxId,
          where + " needs an integer id in [0, " + std::to_string(kMaxId) + ") and a string content");
      const auto id = t["id"].get<int32_t>();
      const std::string& content = t["content"].get_ref<const std::string&>();
      // An added token may repeat a vocab entry (GPT-2's <|endoftext|>) but not take the id of another: decode
      // would then turn that vocab token into the added one's text (found by fuzzing, docs/FUZZING.md).
      YOCO_REQUIRE(id >= static_cast<int32_t>(bytes_.size()) || !present_[id] || bytes_[id] == content,
                   where + " '" + content + "' takes id " + std::to_string(id) + " of the vocab token '" +
                       bytes_[id] + "'");
      add_special(content, id, where);
      vocab_ = std::max(vocab_, id + 1);
    }
  }

  bool ignore_merges_ = false;
  int32_t vocab_ = 0;
  tok::StringMap<int32_t> vocab_map_;  // byte-level spelling -> id
  std::vector<std::string> bytes_;     // id -> token bytes
  std::vector<bool> present_;
  std::unordered_map<uint64_t, BpeMerge> merges_;  // (left id, right id) -> rank and merged id
  std::string byte_chars_[256];                    // byte -> its byte-level character (UTF-8)
  int32_t byte_id_[256] = {};
};

}  // namespace

std::unique_ptr<Tokenizer> load_hf_tokenizer(const std::string& file, const nlohmann::json& config) {
  const std::string text = tok::read_file(file);
  json doc;
  try {
    doc = parse_json_bounded(text, kMaxDepth);
  } catch (const Error& e) {
    throw Error(file + ": " + e.what());
  }
  try {
    return std::make_unique<HfTokenizer>(file, doc, config);
  } catch (const json::exception& e) {  // a field of an unexpected JSON type
    throw Error(file + ": malformed tokenizer.json: " + e.what());
  }
}

}  // namespace yoco::llm
