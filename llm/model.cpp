#include "llm/model.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

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

namespace {
struct Fnv64 {
  uint64_t h = 14695981039346656037ull;
  void add(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  }
  void add(const std::string& s) {
    const uint64_t n = s.size();
    add(&n, sizeof n);
    add(s.data(), s.size());
  }
};
}  // namespace

const std::string& Model::identity() const {
  std::call_once(identity_once_, [this] {
    Fnv64 h;
    {
      std::ifstream in(std::filesystem::path(dir_) / "config.json", std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      h.add(ss.str());
    }
    size_t total = 0;
    for (const TensorInfo& t : file_->tensors()) total += t.nbytes;
    constexpr size_t kFullLimit = size_t{256} << 20, kSample = size_t{64} << 10;
    for (const TensorInfo& t : file_->tensors()) {
      h.add(t.name);
      const int dt = static_cast<int>(t.dtype);
      h.add(&dt, sizeof dt);
      for (int64_t d : t.shape) h.add(&d, sizeof d);
      if (total <= kFullLimit || t.nbytes <= 3 * kSample) {
        h.add(t.data, t.nbytes);
      } else {
        h.add(t.data, kSample);
        h.add(t.data + t.nbytes / 2 - kSample / 2, kSample);
        h.add(t.data + t.nbytes - kSample, kSample);
      }
    }
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h.h));
    identity_ = std::string("yoco-model-v1:") + buf;
  });
  return identity_;
}

}  // namespace yoco::llm
