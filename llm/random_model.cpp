#include "llm/random_model.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "kernels/error.h"
#include "llm/safetensors.h"
#include "llm/weights.h"

namespace yoco::llm {

void write_random_model(const std::string& dir, const ModelConfig& cfg, uint64_t seed) {
  namespace fs = std::filesystem;
  cfg.validate();
  std::error_code ec;
  fs::create_directories(dir, ec);
  YOCO_REQUIRE(!ec, "cannot create model directory '" + dir + "': " + ec.message());
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const auto expected = expected_tensors(cfg);
  std::vector<std::vector<float>> data;
  data.reserve(expected.size());
  std::vector<TensorToWrite> out;
  for (const auto& [name, shape] : expected) {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    std::vector<float> v(n);
    const bool is_norm = shape.size() == 1;
    const bool is_embed = name == "embed_tokens.weight" || name == "tok_embeddings.weight";
    const float std = is_embed ? (cfg.embed_scale ? 1.0f / std::sqrt(static_cast<float>(cfg.dim)) : 1.0f)
                               : 1.0f / std::sqrt(static_cast<float>(shape.back()));
    for (auto& x : v) x = is_norm ? 1.0f : std * normal(rng);
    data.push_back(std::move(v));
    out.push_back({name, TensorDType::F32, shape, data.back().data(), data.back().size() * sizeof(float)});
  }
  write_safetensors((fs::path(dir) / "model.safetensors").string(), out, {{"generator", "yoco random_model"}});
  std::ofstream cf(fs::path(dir) / "config.json");
  cf << cfg.to_json().dump(2) << "\n";
  YOCO_REQUIRE(cf.good(), "cannot write " + (fs::path(dir) / "config.json").string());
}

}  // namespace yoco::llm
