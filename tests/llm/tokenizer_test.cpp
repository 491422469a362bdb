// Tokenizers: the byte-level kind on random bytes, and the tiktoken and Hugging Face BPE kinds against
// encodings computed by the independent Python reference (tools/tokenizer/reference_bpe.py, fixtures written
// by tools/tokenizer/make_fixtures.py), plus bad files and ids.
#include "llm/tokenizer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kernels/error.h"
#include "llm/tokenizer_split.h"

namespace yoco::llm {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const std::string kDir = std::string(YOCO_TEST_DATA) + "/tokenizer";

class TempDir {
 public:
  TempDir() {
    path_ =
        fs::temp_directory_path() / ("yoco_tok_" + std::to_string(::getpid()) + "_" + std::to_string(n_++));
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string str() const { return path_.string(); }
  void write(const std::string& name, const std::string& bytes) const {
    std::ofstream f(path_ / name, std::ios::binary);
    f << bytes;
  }

 private:
  static inline int n_ = 0;
  fs::path path_;
};

std::string read(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

json read_json(const std::string& path) {
  return json::parse(read(path));
}

std::string random_bytes(std::mt19937& rng, size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() % 256);
  return s;
}

// Text mixing the things pre-tokenizers care about, including invalid UTF-8.
std::string random_text(std::mt19937& rng, size_t pieces) {
  static const std::vector<std::string> parts = {"the",      " the",     "The",
                                                 "'s",       "'T",       "'re",
                                                 "'ll",      "n't",      " ",
                                                 "  ",       "\t",       "\n",
                                                 "\r\n",     "\n\n",     "1",
                                                 "12",       "12345",    "3.14",
                                                 "!",        "?!",       " (",
                                                 ")",        "é",        "ß",
                                                 "Ω",        "中文",     "日本",
                                                 "👍🏽", "‍",      "\xe2\x80",
                                                 "\xff",     "\xc0\x80", "\xed\xa0\x80",
                                                 "x",        "y",        "z",
                                                 "ab",       "<",        ">",
                                                 "<|",       "|>",       "\u00a0",
                                                 "\u3000",   "\x85"};
  std::string s;
  for (size_t i = 0; i < pieces; ++i) s += parts[rng() % parts.size()];
  return s;
}

// ---- byte-level -------------------------------------------------------------------------------------------

TEST(ByteTokenizer, LayoutAndSpecials) {
  auto t = load_tokenizer("/nonexistent",
                          json{{"type", "byte"}, {"specials", {"<frame>", "<image>", "<|question|>"}}});
  EXPECT_EQ(t->vocab_size(), 263);
  EXPECT_EQ(t->bos(), 0);
  EXPECT_EQ(t->pad(), 1);
  EXPECT_EQ(t->eos(), 2);
  EXPECT_EQ(t->unk(), 3);
  EXPECT_EQ(t->token_id("<frame>"), 260);
  EXPECT_EQ(t->token_id("<image>"), 261);
  EXPECT_EQ(t->token_id("<|question|>"), 262);
  EXPECT_EQ(t->token_id("<nope>"), -1);
  EXPECT_TRUE(t->is_special(261));
  EXPECT_FALSE(t->is_special(4 + 'a'));
  EXPECT_EQ(t->encode("ab"), (std::vector<int32_t>{4 + 'a', 4 + 'b'}));
  EXPECT_EQ(t->encode("<s><frame>x<frame></s>"), (std::vector<int32_t>{0, 260, 4 + 'x', 260, 2}));
  // A partial spelling is text; encode_ordinary never produces specials.
  EXPECT_EQ(t->encode("<fram").size(), 5u);
  EXPECT_EQ(t->encode_ordinary("<frame>").size(), 7u);
  EXPECT_EQ(t->decode(t->encode("<|question|> hi <image>")), "<|question|> hi <image>");
  EXPECT_EQ(t->decode_token(4 + 0xff), std::string(1, '\xff'));
  EXPECT_EQ(t->decode_token(262), "<|question|>");
  EXPECT_THROW(t->decode_token(263), Error);
  EXPECT_THROW(t->decode_token(-1), Error);
  const std::vector<int32_t> bad = {5, 9999};
  EXPECT_THROW(t->decode(bad), Error);
  EXPECT_THROW(make_byte_tokenizer({"<frame>", "<frame>"}), Error);
  EXPECT_THROW(make_byte_tokenizer({"<s>"}), Error);
  EXPECT_THROW(make_byte_tokenizer({""}), Error);
}

TEST(ByteTokenizer, RoundTripsRandomBytes) {
  auto t = make_byte_tokenizer({"<frame>"});
  std::mt19937 rng(42);
  for (int it = 0; it < 200; ++it) {
    const std::string s = random_bytes(rng, rng() % 300);
    const std::vector<int32_t> ids = t->encode_ordinary(s);
    ASSERT_EQ(ids.size(), s.size());
    for (size_t i = 0; i < s.size(); ++i) ASSERT_EQ(ids[i], 4 + static_cast<unsigned char>(s[i]));
    ASSERT_EQ(t->decode(ids), s);
    ASSERT_EQ(t->decode(t->encode(s)), s);  // specials (if any appear) decode to their spelling
  }
}

// ---- pre-tokenizers ---------------------------------------------------------------------------------------

// The hand-written matchers split exactly as the regular expressions do (Python `regex` module).
TEST(SplitText, MatchesTheRegexes) {
  const json expected = read_json(kDir + "/split_expected.json");
  const std::pair<const char*, tok::SplitPattern> patterns[] = {
      {"gpt2", tok::SplitPattern::Gpt2},
      {"cl100k", tok::SplitPattern::Cl100k},
      {"cl100k_single_digit", tok::SplitPattern::Cl100kSingleDigit}};
  for (const auto& [name, pattern] : patterns) {
    ASSERT_GT(expected[name].size(), 250u) << name;
    for (const auto& c : expected[name]) {
      const std::string text = c["text"].get<std::string>();
      std::vector<std::string_view> pieces;
      tok::split_text(text, pattern, pieces);
      EXPECT_EQ(std::vector<std::string>(pieces.begin(), pieces.end()),
                c["pieces"].get<std::vector<std::string>>())
          << name << " on " << json(text).dump();
    }
  }
}

// Invalid UTF-8 bytes are split off as non-letter, non-number, non-space characters; nothing is lost.
TEST(SplitText, InvalidUtf8CoversTheInput) {
  std::mt19937 rng(11);
  for (auto pattern : {tok::SplitPattern::Gpt2, tok::SplitPattern::Cl100k}) {
    for (int it = 0; it < 500; ++it) {
      const std::string s = it % 2 ? random_bytes(rng, rng() % 64) : random_text(rng, rng() % 30);
      std::vector<std::string_view> pieces;
      tok::split_text(s, pattern, pieces);
      std::string joined;
      for (auto p : pieces) {
        ASSERT_FALSE(p.empty());
        joined += p;
      }
      ASSERT_EQ(joined, s);
    }
  }
  std::vector<std::string_view> pieces;
  tok::split_text("ab\xff\xfe cd", tok::SplitPattern::Cl100k, pieces);
  EXPECT_EQ(std::vector<std::string>(pieces.begin(), pieces.end()),
            (std::vector<std::string>{"ab", "\xff\xfe", " cd"}));
}

// ---- BPE fixtures -----------------------------------------------------------------------------------------

struct Fixture {
  std::unique_ptr<Tokenizer> tok;
  json expected;
};

Fixture load_fixture(const std::string& expected_file) {
  Fixture f;
  f.expected = read_json(kDir + "/" + expected_file);
  f.tok = load_tokenizer(kDir, f.expected["config"]);
  return f;
}

void check_expected(const Fixture& f) {
  ASSERT_GT(f.expected["cases"].size(), 20u);
  for (const auto& c : f.expected["cases"]) {
    const std::string text = c["text"].get<std::string>();
    const std::vector<int32_t> want = c["ids"].get<std::vector<int32_t>>();
    const std::vector<int32_t> got = f.tok->encode(text);
    EXPECT_EQ(got, want) << "text: " << json(text).dump();
    EXPECT_EQ(f.tok->decode(got), text);
  }
}

void check_round_trip_and_threads(const Tokenizer& t) {
  std::mt19937 rng(3);
  for (int it = 0; it < 300; ++it) {
    const std::string s = it % 2 ? random_text(rng, rng() % 60) : random_bytes(rng, rng() % 200);
    ASSERT_EQ(t.decode(t.encode_ordinary(s)), s);
    ASSERT_EQ(t.decode(t.encode(s)), s);
  }
  // Concurrent encodes (sharing the piece cache) give the same answers as serial ones.
  std::vector<std::string> texts;
  for (int i = 0; i < 64; ++i) texts.push_back(random_text(rng, 40));
  std::vector<std::vector<int32_t>> serial;
  for (const auto& s : texts) serial.push_back(t.encode(s));
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (int r = 0; r < 20; ++r)
        for (size_t i = 0; i < texts.size(); ++i)
          if (t.encode(texts[(i + k * 7) % texts.size()]) != serial[(i + k * 7) % texts.size()])
            ++mismatches[k];
    });
  }
  for (auto& th : threads) th.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

TEST(TiktokenTokenizer, MatchesReferenceEncodings) {
  Fixture f = load_fixture("tiktoken_expected.json");
  EXPECT_EQ(f.tok->vocab_size(), f.expected["vocab_size"].get<int32_t>());
  EXPECT_EQ(f.tok->bos(), 0);
  EXPECT_EQ(f.tok->pad(), 1);
  EXPECT_EQ(f.tok->unk(), 3);
  EXPECT_EQ(f.tok->eos(), f.tok->token_id("<|endoftext|>"));  // overridden by the config's "eos"
  EXPECT_EQ(f.tok->token_id("</s>"), 2);
  check_expected(f);
}

TEST(TiktokenTokenizer, RoundTripsAndIsThreadSafe) {
  Fixture f = load_fixture("tiktoken_expected.json");
  check_round_trip_and_threads(*f.tok);
  // Ids that name nothing: past the vocabulary, and the gap between the ranks and the specials.
  EXPECT_THROW(f.tok->decode_token(f.tok->vocab_size()), Error);
  EXPECT_THROW(f.tok->decode_token(-5), Error);
  const int32_t eot = f.tok->token_id("<|endoftext|>");
  EXPECT_THROW(f.tok->decode_token(eot - 1), Error);
  EXPECT_EQ(f.tok->decode_token(eot), "<|endoftext|>");
}

TEST(TiktokenTokenizer, LongWordsAreNotQuadratic) {
  Fixture f = load_fixture("tiktoken_expected.json");
  std::mt19937 rng(5);
  std::string word;
  for (int i = 0; i < 200000; ++i) word += static_cast<char>('a' + rng() % 3);  // one 200 kB pre-token
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<int32_t> ids = f.tok->encode(word);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(f.tok->decode(ids), word);
  EXPECT_LT(s, 5.0) << "encoding one 200 kB word took " << s << " s";  // quadratic merging takes minutes
}

TEST(TiktokenTokenizer, OffsetZero) {
  json cfg = {{"type", "tiktoken"}, {"file", "tiny.tiktoken"}, {"offset", 0}};
  auto t = load_tokenizer(kDir, cfg);
  Fixture f = load_fixture("tiktoken_expected.json");
  EXPECT_EQ(t->bos(), -1);
  EXPECT_EQ(t->token_id("<s>"), -1);
  const std::string text = "It's 12345 apples, they're here.";
  std::vector<int32_t> shifted = f.tok->encode(text);
  for (auto& id : shifted) id -= 4;
  EXPECT_EQ(t->encode(text), shifted);
}

TEST(HfTokenizer, MatchesReferenceEncodings) {
  Fixture f = load_fixture("hf_expected.json");
  EXPECT_EQ(f.tok->vocab_size(), f.expected["vocab_size"].get<int32_t>());
  EXPECT_EQ(f.tok->bos(), -1);
  EXPECT_EQ(f.tok->eos(), f.tok->token_id("<|endoftext|>"));
  EXPECT_GE(f.tok->token_id("<frame>"), 0);
  check_expected(f);
}

TEST(HfTokenizer, RoundTripsAndIsThreadSafe) {
  Fixture f = load_fixture("hf_expected.json");
  check_round_trip_and_threads(*f.tok);
  EXPECT_THROW(f.tok->decode_token(f.tok->vocab_size()), Error);
}

// The same vocabulary and merges under the cl100k Split + ByteLevel(use_regex=false) layout (Llama 3 style)
// and with ignore_merges: loads, and round-trips.
TEST(HfTokenizer, SplitSequenceLayout) {
  json doc = read_json(kDir + "/tiny_hf/tokenizer.json");
  doc["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"},
         {"pattern",
          {{"Regex",
            R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"}}},
         {"behavior", "Isolated"},
         {"invert", false}},
        {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}}}};
  doc["model"]["ignore_merges"] = true;
  TempDir dir;
  dir.write("tokenizer.json", doc.dump());
  auto t = load_tokenizer(dir.str(), json{{"type", "hf"}, {"file", "tokenizer.json"}});
  check_round_trip_and_threads(*t);
  // "12345" splits as 123|45 under cl100k, but stays one pre-token under GPT-2.
  Fixture gpt2 = load_fixture("hf_expected.json");
  EXPECT_EQ(t->decode(t->encode("12345")), "12345");
  EXPECT_EQ(t->encode("a"), gpt2.tok->encode("a"));
}

// ---- bad files and configs --------------------------------------------------------------------------------

void expect_load_error(const std::string& dir, const json& cfg, const std::string& needle) {
  try {
    load_tokenizer(dir, cfg);
    ADD_FAILURE() << "no error, expected one containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(TokenizerFiles, BadConfigs) {
  expect_load_error(kDir, json::array(), "must be an object");
  expect_load_error(kDir, json{{"type", "sentencepiece"}}, "unknown tokenizer type");
  expect_load_error(kDir, json{{"file", "x"}}, "'type'");
  expect_load_error(kDir, json{{"type", "tiktoken"}}, "'file'");
  expect_load_error(kDir, json{{"type", "tiktoken"}, {"file", "missing.tiktoken"}}, "missing.tiktoken");
  expect_load_error(kDir, json{{"type", "hf"}, {"file", "missing.json"}}, "missing.json");
  expect_load_error(kDir, json{{"type", "byte"}, {"specials", "<frame>"}}, "specials");
  expect_load_error(kDir, json{{"type", "byte"}, {"specials", {1}}}, "specials");
  expect_load_error(kDir, json{{"type", "tiktoken"}, {"file", "tiny.tiktoken"}, {"offset", 3}}, "offset");
  expect_load_error(kDir, json{{"type", "tiktoken"}, {"file", "tiny.tiktoken"}, {"specials", {{"<x>", 5}}}},
                    "already uses");
  expect_load_error(kDir, json{{"type", "tiktoken"}, {"file", "tiny.tiktoken"}, {"specials", {{"<x>", "5"}}}},
                    "<x>");
  expect_load_error(kDir, json{{"type", "tiktoken"}, {"file", "tiny.tiktoken"}, {"eos", "<nope>"}}, "<nope>");
  expect_load_error(kDir, json{{"type", "tiktoken"}, {"file", "tiny.tiktoken"}, {"eos", 5}}, "eos");
}

TEST(TokenizerFiles, BadTiktokenFiles) {
  const std::string good = read(kDir + "/tiny.tiktoken");
  TempDir dir;
  const json cfg = {{"type", "tiktoken"}, {"file", "t.tiktoken"}};
  auto with = [&](const std::string& bytes, const std::string& needle) {
    dir.write("t.tiktoken", bytes);
    expect_load_error(dir.str(), cfg, needle);
  };
  with(good + "!!!! 999\n", "t.tiktoken:557: bad base64");
  with(good + "YWJj\n", "t.tiktoken:557: expected 'base64 rank'");
  with(good + "YWJj 1 2\n", ":557:");
  with(good + "YWJj x\n", "bad rank");
  with(good + "YWJj -3\n", "bad rank");
  with(good + "YWJj 99999999999\n", "bad rank");
  with(good + "YWJj 0\n", "rank 0 appears twice");
  with(good + "IA== 999\n", "token appears twice");
  with(good + "YWJ 999\n", "bad base64");
  with(good + "YW=j 999\n", "bad base64");
  with(good + "YQ=== 999\n", "bad base64");
  with(good.substr(good.find('\n') + 1), "single byte");  // the first line (a single byte) removed
  with("", "single byte");
  // CRLF line ends and blank lines are fine.
  std::string crlf;
  for (char c : good) crlf += c == '\n' ? std::string("\r\n\n") : std::string(1, c);
  dir.write("t.tiktoken", crlf);
  EXPECT_NO_THROW(load_tokenizer(dir.str(), cfg));
}

TEST(TokenizerFiles, BadHfFiles) {
  const json good = read_json(kDir + "/tiny_hf/tokenizer.json");
  TempDir dir;
  const json cfg = {{"type", "hf"}, {"file", "tokenizer.json"}};
  auto with = [&](const json& doc, const std::string& needle) {
    dir.write("tokenizer.json", doc.dump());
    expect_load_error(dir.str(), cfg, needle);
  };
  dir.write("tokenizer.json", "{\"model\": ");
  expect_load_error(dir.str(), cfg, "not valid JSON");
  json d = good;
  d["model"]["merges"].push_back("zzzq \xc4\xa0");
  with(d, "model.merges[300] names unknown token 'zzzq'");
  d = good;
  d["model"]["merges"].push_back("e \xc4\xa0");  // both known, "eĠ" is not a token
  with(d, "is not in the vocabulary");
  d = good;
  d["model"]["merges"][3] = "nospace";
  with(d, "model.merges[3]");
  d = good;
  d["model"]["merges"][3] = 7;
  with(d, "model.merges[3]");
  d = good;
  d["model"]["vocab"].erase("a");
  with(d, "no token for byte 97");
  d = good;
  d["model"]["vocab"]["a"] = -1;
  with(d, "model.vocab['a']");
  d = good;
  d["model"]["vocab"]["a"] = d["model"]["vocab"]["b"];
  with(d, "twice");
  d = good;
  d["model"]["type"] = "WordPiece";
  with(d, "BPE");
  d = good;
  d["model"]["dropout"] = 0.1;
  with(d, "dropout");
  d = good;
  d["normalizer"] = {{"type", "NFC"}};
  with(d, "normalizer");
  d = good;
  d["pre_tokenizer"] = {{"type", "Whitespace"}};
  with(d, "pre_tokenizer");
  d = good;
  d["pre_tokenizer"]["add_prefix_space"] = true;
  with(d, "add_prefix_space");
  d = good;
  d["pre_tokenizer"] = {{"type", "Sequence"},
                        {"pretokenizers",
                         {{{"type", "Split"}, {"pattern", {{"Regex", "\\w+"}}}, {"behavior", "Isolated"}},
                          {{"type", "ByteLevel"}, {"use_regex", false}}}}};
  with(d, "unsupported pre_tokenizer Split regex");
  d = good;
  d["decoder"] = {{"type", "WordPiece"}};
  with(d, "decoder");
  d = good;
  d["added_tokens"][0]["id"] = "x";
  with(d, "added_tokens[0]");
  d = good;
  d["added_tokens"][1]["content"] = d["added_tokens"][0]["content"];
  with(d, "defined twice");
  d = good;
  d["model"] = 5;
  with(d, "model");
  d = good;
  d["pre_tokenizer"] = "ByteLevel";
  with(d, "pre_tokenizer");
  with(json::array(), "tokenizer.json");
}

}  // namespace
}  // namespace yoco::llm
