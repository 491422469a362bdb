// Model configuration: config.json with the reference's field names plus the engine's additions
// (docs/MODEL-FORMAT.md). Plain data, const after loading; validate() rejects inconsistent shapes with a
// message naming the field.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "kernels/ops.h"

namespace yoco::llm {

enum class Arch : uint8_t { Yoco, Transformer, Cla };
const char* arch_name(Arch a);

struct ModelConfig {
  Arch arch = Arch::Yoco;
  int dim = 0;
  int n_layers = 0;
  int hidden_dim = 0;
  int n_self_heads = 0;
  int n_attn_heads = 0;
  int n_attn_kv_heads = 0;
  int vocab_size = 0;
  float rope_theta = 10000.0f;
  float norm_eps = 1e-5f;
  int sliding_window = 0;  // 0: gated retention (reference `null`); W > 0: sliding-window self-decoder
  kernels::RopeStyle rope_style = kernels::RopeStyle::Yoco;
  bool embed_scale = true;
  float gate_logit_normalizer = 16.0f;
  int cla_factor = 2;
  nlohmann::json tokenizer;  // null when absent
  nlohmann::json vision;     // null when absent
  nlohmann::json stream;     // null when absent
  nlohmann::json raw;        // the whole file, for fields other modules own

  // Derived shapes.
  int self_head_dim() const { return dim / n_self_heads; }
  int head_dim() const { return dim / n_attn_heads; }  // cross-decoder / Transformer head dim
  int kv_dim() const { return n_attn_kv_heads * head_dim(); }
  int n_self_layers() const { return arch == Arch::Yoco ? n_layers / 2 : 0; }
  int n_cross_layers() const { return arch == Arch::Yoco ? n_layers / 2 : n_layers; }
  bool retention() const { return arch == Arch::Yoco && sliding_window == 0; }
  // Number of K/V caches that grow with the sequence: 1 (YOCO), L (Transformer), ceil(L / s) (CLA).
  int n_kv_caches() const;

  static ModelConfig from_json(const nlohmann::json& j);  // throws yoco::Error naming the bad field
  static ModelConfig load(const std::string& path);       // reads and parses config.json
  nlohmann::json to_json() const;
  void validate() const;
};

}  // namespace yoco::llm
