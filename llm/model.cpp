#include "llm/model.h"

#include <filesystem>

#include "kernels/error.h"
#include "llm/safetensors.h"
#include "llm/tokenizer.h"

namespace yoco::llm {

Model::~Model() = default;

std::shared_ptr<const Model> Model::load(const std::string& dir) {
  namespace fs = std::filesystem;
  YOCO_REQUIRE(fs::is_directory(dir), "model directory '" + dir + "' does not exist");
  std::shared_ptr<Model> m(new Model());
  m->dir_ = dir;
  m->config_ = ModelConfig::load((fs::path(dir) / "config.json").string());
  const std::string st = (fs::path(dir) / "model.safetensors").string();
  m->file_ = std::make_unique<SafeTensors>(st);
  try {
    m->weights_ = load_weights(m->config_, *m->file_);
  } catch (const Error& e) {
    throw Error(st + ": " + e.what());
  }
  const auto& c = m->config_;
  if (c.arch == Arch::Yoco) m->self_rope_ = kernels::RopeTable::make(c.rope_style, c.self_head_dim(), c.rope_theta);
  m->rope_ = kernels::RopeTable::make(c.rope_style, c.head_dim(), c.rope_theta);
  if (!c.tokenizer.is_null()) m->tokenizer_ = load_tokenizer(dir, c.tokenizer);
  return m;
}

}  // namespace yoco::llm
