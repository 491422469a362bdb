// Fuzzing findings in llm/ whose inputs are too large to keep as files in tests/fuzz/regressions/
// (docs/FUZZING.md): each is generated here and must be a clear yoco::Error, never a crash.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "kernels/error.h"
#include "llm/config.h"
#include "llm/tokenizer.h"

namespace yoco::llm {
namespace {

namespace fs = std::filesystem;

std::string nested(size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

class FuzzFindings : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("yoco-fuzz-findings-" + std::to_string(::getpid()));
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(dir / name, std::ios::binary) << text;
    return (dir / name).string();
  }
  std::string error_of(const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
  fs::path dir;
};

// A config.json with a field nested a million levels deep parsed, then overflowed the stack when
// ModelConfig kept a copy of it (nlohmann::json copies recursively).
TEST_F(FuzzFindings, DeeplyNestedConfigIsAnError) {
  const std::string path = write("config.json", R"({"dim": 48, "n_layers": 4, "hidden_dim": 112, "n_self_heads": 2,
      "n_attn_heads": 4, "vocab_size": 113, "vision": )" + nested(1000000) + "}");
  const std::string e = error_of([&] { (void)ModelConfig::load(path); });
  EXPECT_NE(e.find("nested deeper than"), std::string::npos) << e;
  // What real configs nest still loads.
  const std::string ok = write("ok.json", R"({"dim": 48, "n_layers": 4, "hidden_dim": 112, "n_self_heads": 2,
      "n_attn_heads": 4, "vocab_size": 113, "vision": {"mean": [[0.5, 0.5, 0.5]]}})");
  EXPECT_EQ(ModelConfig::load(ok).dim, 48);
}

// rope_theta 2.2e101 (libFuzzer, `config`; the input is tests/fuzz/regressions/config/): a finite double, so it
// loaded, but as the float field it became inf, and to_json() wrote a config that did not load. Float fields past
// float's range are an error; the largest float still loads and round-trips.
TEST_F(FuzzFindings, FloatFieldsPastFloatRangeAreErrors) {
  const std::string base = R"({"dim": 48, "n_layers": 4, "hidden_dim": 112, "n_self_heads": 2, "n_attn_heads": 4,
      "n_attn_kv_heads": 2, "vocab_size": 113, )";
  for (const char* field : {R"("rope_theta": 2.2e101})", R"("gate_logit_normalizer": 1e39})",
                            R"("rope_theta": 3.5e38})"}) {
    const std::string e = error_of([&] { (void)ModelConfig::load(write("config.json", base + field)); });
    EXPECT_NE(e.find("within float range"), std::string::npos) << field << ": " << e;
  }
  const ModelConfig c = ModelConfig::load(write("max.json", base + R"("rope_theta": 3.4e38})"));
  EXPECT_GT(c.rope_theta, 3.3e38f);
  EXPECT_EQ(ModelConfig::from_json(c.to_json()).rope_theta, c.rope_theta);
}

// A tokenizer.json nested as deep overflowed the stack when an error message dumped the field.
TEST_F(FuzzFindings, DeeplyNestedTokenizerJsonIsAnError) {
  const std::string path = write("tokenizer.json", R"({"pre_tokenizer": {"type": "ByteLevel"}, "normalizer": )" +
                                                       nested(1000000) + "}");
  const std::string e = error_of([&] { (void)load_hf_tokenizer(path, nlohmann::json{{"type", "hf"}}); });
  EXPECT_NE(e.find("nested deeper than"), std::string::npos) << e;
}

// A "tokenizer" entry that is no object used to be dumped whole into the error message (recursively).
TEST_F(FuzzFindings, NonObjectTokenizerConfigNamesItsType) {
  const nlohmann::json deep = nlohmann::json::parse(nested(1000000));  // parsing does not recurse
  const std::string e = error_of([&] { (void)load_tokenizer(dir.string(), deep); });
  EXPECT_NE(e.find("must be an object, got array"), std::string::npos) << e;
  // nlohmann::json destroys iteratively, so `deep` going out of scope is safe.
}

// A 20-byte tiktoken file (or a one-entry vocab) with an id near 2^24 made the loader allocate ~512 MiB
// for its id table; ids are now bounded by the file's own size.
TEST_F(FuzzFindings, SparseTokenIdsInTinyFilesAreErrors) {
  const std::string tt = write("far.tiktoken", "IQ== 16777000\n");
  std::string e = error_of([&] { (void)load_tiktoken_tokenizer(tt, nlohmann::json{{"type", "tiktoken"}}); });
  EXPECT_NE(e.find("far past"), std::string::npos) << e;
  const std::string hf = write("far.json", R"({"model": {"type": "BPE", "vocab": {"a": 16777000}, "merges": []},
      "pre_tokenizer": {"type": "ByteLevel"}})");
  e = error_of([&] { (void)load_hf_tokenizer(hf, nlohmann::json{{"type", "hf"}}); });
  EXPECT_NE(e.find("far past"), std::string::npos) << e;
}

}  // namespace
}  // namespace yoco::llm
