// Loading model directories: the reference's bare layout loads; every kind of broken file is a clear
// yoco::Error naming what is wrong, never a crash.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "kernels/error.h"
#include "llm/random_model.h"
#include "llm/safetensors.h"
#include "llm/session.h"
#include "llm/weights.h"

namespace yoco::llm {
namespace {

namespace fs = std::filesystem;
const std::string kData = YOCO_TEST_DATA;

class ModelLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("yoco-model-load-" + std::to_string(::getpid()) + "-" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }

  // Writes config.json and a model.safetensors built from `tensors` (name → shape, values all `fill`).
  void write_model(const nlohmann::json& config, const std::vector<std::pair<std::string, std::vector<int64_t>>>& tensors,
                   float fill = 0.01f, const std::string& poison = "") {
    std::ofstream(dir / "config.json") << config.dump();
    std::vector<std::vector<float>> data;
    data.reserve(tensors.size());
    std::vector<TensorToWrite> out;
    for (const auto& [name, shape] : tensors) {
      int64_t n = 1;
      for (auto s : shape) n *= s;
      data.emplace_back(n, fill);
      if (name == poison) data.back()[n / 2] = NAN;
      out.push_back({name, TensorDType::F32, shape, data.back().data(), data.back().size() * 4});
    }
    write_safetensors((dir / "model.safetensors").string(), out);
  }
  std::string load_error() {
    try {
      Model::load(dir.string());
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
  static nlohmann::json reference_config() {
    // Exactly the reference's params.json fields: no "arch", so YOCO.
    return {{"dim", 32}, {"n_layers", 2}, {"hidden_dim", 40}, {"n_self_heads", 2}, {"n_attn_heads", 4},
            {"n_attn_kv_heads", 2}, {"vocab_size", 50}, {"rope_theta", 10000.0}, {"norm_eps", 1e-5},
            {"sliding_window", nullptr}};
  }
  fs::path dir;
};

TEST_F(ModelLoadTest, ReferenceLayoutWithoutEngineFieldsLoadsAsYoco) {
  auto cfg = ModelConfig::from_json(reference_config());
  write_model(reference_config(), expected_tensors(cfg));
  auto m = Model::load(dir.string());
  EXPECT_EQ(m->config().arch, Arch::Yoco);
  EXPECT_TRUE(m->config().retention());
  EXPECT_EQ(m->tokenizer(), nullptr);
  Session s(m);
  const int32_t toks[] = {1, 2, 3};
  auto l = s.forward(toks);
  EXPECT_EQ(l.size(), 50u);
  for (float v : l) EXPECT_TRUE(std::isfinite(v));
}

TEST_F(ModelLoadTest, MissingTensorIsNamed) {
  auto cfg = ModelConfig::from_json(reference_config());
  auto t = expected_tensors(cfg);
  t.erase(t.begin() + 5);
  const std::string missing = expected_tensors(cfg)[5].first;
  write_model(reference_config(), t);
  EXPECT_NE(load_error().find("missing tensor '" + missing + "'"), std::string::npos) << load_error();
}

TEST_F(ModelLoadTest, WrongShapeIsNamed) {
  auto cfg = ModelConfig::from_json(reference_config());
  auto t = expected_tensors(cfg);
  t[7].second[0] += 1;
  write_model(reference_config(), t);
  const std::string e = load_error();
  EXPECT_NE(e.find(t[7].first), std::string::npos) << e;
  EXPECT_NE(e.find("shape"), std::string::npos) << e;
}

TEST_F(ModelLoadTest, ExtraTensorIsNamed) {
  auto cfg = ModelConfig::from_json(reference_config());
  auto t = expected_tensors(cfg);
  t.push_back({"self_decoder.layers.7.mixer.q_proj.weight", {32, 32}});
  write_model(reference_config(), t);
  EXPECT_NE(load_error().find("self_decoder.layers.7.mixer.q_proj.weight"), std::string::npos);
}

TEST_F(ModelLoadTest, NonFiniteValueIsNamed) {
  auto cfg = ModelConfig::from_json(reference_config());
  auto t = expected_tensors(cfg);
  write_model(reference_config(), t, 0.01f, "cross_decoder.k_proj.weight");
  const std::string e = load_error();
  EXPECT_NE(e.find("cross_decoder.k_proj.weight"), std::string::npos) << e;
  EXPECT_NE(e.find("non-finite"), std::string::npos) << e;
}

TEST_F(ModelLoadTest, BadConfigsAreNamed) {
  auto cfg = ModelConfig::from_json(reference_config());
  const auto t = expected_tensors(cfg);
  struct Case {
    std::string field;
    nlohmann::json value;
  };
  for (const Case& c : std::vector<Case>{{"dim", -4}, {"dim", "wide"}, {"n_layers", 3}, {"n_attn_kv_heads", 3},
                                         {"arch", "rnn"}, {"vocab_size", 0}, {"norm_eps", 5.0},
                                         {"rope_style", "alibi"}, {"dim", 1e12}}) {
    auto j = reference_config();
    j[c.field] = c.value;
    write_model(j, t);
    const std::string e = load_error();
    EXPECT_FALSE(e.empty()) << c.field;
    EXPECT_NE(e.find("config"), std::string::npos) << e;
  }
  std::ofstream(dir / "config.json") << "{\"dim\": 32,";  // truncated JSON
  EXPECT_NE(load_error().find("not valid JSON"), std::string::npos);
  fs::remove(dir / "config.json");
  EXPECT_NE(load_error().find("config.json"), std::string::npos);
}

TEST_F(ModelLoadTest, TruncatedAndCorruptWeightFilesAreErrors) {
  auto cfg = ModelConfig::from_json(reference_config());
  write_model(reference_config(), expected_tensors(cfg));
  const fs::path st = dir / "model.safetensors";
  std::string bytes;
  {
    std::ifstream in(st, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  for (size_t cut : {size_t{0}, size_t{5}, size_t{100}, bytes.size() / 2, bytes.size() - 1}) {
    std::ofstream(st, std::ios::binary | std::ios::trunc).write(bytes.data(), cut);
    EXPECT_FALSE(load_error().empty()) << "cut at " << cut;
  }
  // Flipped bytes in the header: loads or fails cleanly, never crashes.
  const size_t header = 8 + *reinterpret_cast<const uint64_t*>(bytes.data());
  for (size_t i = 0; i < std::min<size_t>(header, 400); i += 3) {
    std::string b = bytes;
    b[i] = static_cast<char>(b[i] ^ 0x5a);
    std::ofstream(st, std::ios::binary | std::ios::trunc).write(b.data(), b.size());
    (void)load_error();
  }
}

TEST_F(ModelLoadTest, RandomModelsOfEveryArchRoundTrip) {
  for (const char* arch : {"yoco", "transformer", "cla"}) {
    auto j = reference_config();
    j["arch"] = arch;
    if (std::string(arch) == "cla") j["n_layers"] = 3;  // a group of 2 and a group of 1
    auto cfg = ModelConfig::from_json(j);
    write_random_model(dir.string(), cfg, 5);
    auto m = Model::load(dir.string());
    EXPECT_EQ(m->config().arch, cfg.arch);
    Session s(m);
    const int32_t toks[] = {4, 9, 16, 25};
    for (float v : s.forward(toks)) ASSERT_TRUE(std::isfinite(v));
  }
}

TEST_F(ModelLoadTest, HalfPrecisionWeightsLoadAndMatchF32) {
  // The golden yoco_gret model re-saved with F16 / BF16 weights gives logits close to the f32 model's.
  SafeTensors src(kData + "/yoco_gret/model.safetensors");
  fs::copy_file(kData + "/yoco_gret/config.json", dir / "config.json");
  auto f32_model = Model::load(kData + "/yoco_gret");
  const int32_t toks[] = {3, 14, 15, 92, 65, 35, 89, 79, 32, 38};
  std::vector<float> want;
  {
    Session s(f32_model);
    auto l = s.forward(toks);
    want.assign(l.begin(), l.end());
  }
  for (auto [dtype, tol] : {std::pair{TensorDType::F16, 5e-3}, std::pair{TensorDType::BF16, 4e-2}}) {
    std::vector<std::vector<uint16_t>> data;
    data.reserve(src.size());
    std::vector<TensorToWrite> out;
    for (const auto& t : src.tensors()) {
      const auto v = to_f32(t);
      data.emplace_back(v.size());
      for (size_t i = 0; i < v.size(); ++i)
        data.back()[i] = dtype == TensorDType::F16 ? kernels::f32_to_f16(v[i]) : kernels::f32_to_bf16(v[i]);
      out.push_back({t.name, dtype, t.shape, data.back().data(), data.back().size() * 2});
    }
    write_safetensors((dir / "model.safetensors").string(), out);
    Session s(Model::load(dir.string()));
    auto l = s.forward(toks);
    double num = 0, den = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      num += (l[i] - want[i]) * (l[i] - want[i]);
      den += want[i] * want[i];
    }
    // Rounding the weights to 11 (f16) or 8 (bf16) significant bits: ~2^-11 / 2^-8 relative per weight.
    EXPECT_LT(std::sqrt(num / den), tol) << tensor_dtype_name(dtype);
  }
}

}  // namespace
}  // namespace yoco::llm
