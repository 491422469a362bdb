// The model's weights as the forward pass reads them: f32, row-major, projections that read the same input
// fused into one matrix (so one GEMM computes q|k|v|g|gt, or fc1|gate). Built from a safetensors file by
// load_weights(), which validates names, shapes and values against the config (docs/MODEL-FORMAT.md).
// Immutable after loading; shared by every session.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "llm/config.h"

namespace yoco::llm {

class SafeTensors;

// A linear map y = x Wᵀ with W [out, in], pointing into ModelWeights' storage.
struct Linear {
  const float* w = nullptr;
  int64_t out = 0;
  int64_t in = 0;
  explicit operator bool() const { return w != nullptr; }
};

// One decoder layer. Which fields are set depends on the layer kind:
// - YOCO self-decoder, retention: mixer = [q|k|v|g|gt] (4·dim + H rows), out
// - YOCO self-decoder, sliding window: mixer = [q|k|v] (3·dim rows), out
// - YOCO cross-decoder: mixer = q (dim rows), out
// - Transformer: mixer = [q|k|v] ((H + 2·KV)·hd rows), out
// - CLA group leader: mixer = q, kv = [k|v] from kv_norm(x); other CLA layers: mixer = q
struct LayerWeights {
  const float* mixer_norm = nullptr;
  const float* ffn_norm = nullptr;
  const float* kv_norm = nullptr;  // CLA leaders only
  Linear mixer;
  Linear kv;
  Linear out;
  Linear ffn_in;   // [fc1 | gate] (2·hidden rows): SiLU goes on the first half
  Linear ffn_out;  // fc2
};

struct ModelWeights {
  Linear embed;  // [vocab, dim]
  const float* final_norm = nullptr;
  Linear output;  // [vocab, dim]
  std::vector<LayerWeights> self_layers;  // YOCO only
  const float* global_kv_norm = nullptr;  // YOCO only
  Linear global_kv;                       // YOCO only: [k|v] (2·kv_dim rows)
  std::vector<LayerWeights> layers;       // YOCO cross-decoder, or all Transformer / CLA layers
  std::vector<std::vector<float>> storage;  // owns every buffer the pointers above point into
  size_t n_params = 0;
};

// Reads and validates all LM tensors (names outside the LM, e.g. "vision.*", are left to their owners;
// any other unexpected name is an error). Throws yoco::Error naming the tensor on any problem.
ModelWeights load_weights(const ModelConfig& cfg, const SafeTensors& file);
// The names and shapes the config expects, in a stable order (for writers and validators).
std::vector<std::pair<std::string, std::vector<int64_t>>> expected_tensors(const ModelConfig& cfg);

}  // namespace yoco::llm
