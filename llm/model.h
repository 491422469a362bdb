// Model: the immutable part shared by every stream — config, weights, RoPE tables and (when the directory
// has one) the tokenizer. Const after construction; any number of Sessions may use it concurrently.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "kernels/ops.h"
#include "llm/config.h"
#include "llm/weights.h"

namespace yoco::llm {

class Tokenizer;
class SafeTensors;

class Model {
 public:
  // Loads DIR/config.json and DIR/model.safetensors (+ the tokenizer named in the config, if any).
  // Throws yoco::Error with a message naming the file and tensor on any problem.
  static std::shared_ptr<const Model> load(const std::string& dir);
  ~Model();

  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }
  const kernels::RopeTable& self_rope() const { return self_rope_; }
  const kernels::RopeTable& rope() const { return rope_; }  // cross-decoder / Transformer attention
  const Tokenizer* tokenizer() const { return tokenizer_.get(); }  // nullptr when the model has none
  const std::string& dir() const { return dir_; }
  // The safetensors file stays mapped for the model's lifetime (the vision encoder reads its tensors).
  const SafeTensors& tensors() const { return *file_; }
  // A fingerprint of this model ("yoco-model-v1:" + 16 hex digits): a 64-bit hash of config.json's bytes
  // and of every tensor's name, dtype, shape and data (all of it up to 256 MiB of weights, else 64 KiB
  // samples at the start, middle and end of each tensor). Saved stream states carry it, so that a state
  // is never resumed on another model. Computed on first use (thread-safe).
  const std::string& identity() const;

 private:
  Model() = default;
  std::string dir_;
  ModelConfig config_;
  ModelWeights weights_;
  kernels::RopeTable self_rope_;
  kernels::RopeTable rope_;
  std::unique_ptr<SafeTensors> file_;
  std::unique_ptr<Tokenizer> tokenizer_;
  mutable std::once_flag identity_once_;
  mutable std::string identity_;
};

}  // namespace yoco::llm
