// Writes a model directory with random weights for a config: used by benchmarks (same-shape YOCO and
// Transformer in one run) and by tests that need models of shapes the repository does not ship.
// Initialisation keeps activations O(1): N(0, 1/in) for projections, N(0, 1) embeddings, unit norms.
#pragma once

#include <cstdint>
#include <string>

#include "llm/config.h"

namespace yoco::llm {

// Creates DIR (if needed) with config.json and model.safetensors (f32). Throws yoco::Error on I/O failure.
void write_random_model(const std::string& dir, const ModelConfig& cfg, uint64_t seed);

}  // namespace yoco::llm
