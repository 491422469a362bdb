// Fuzz target: config.json (llm/config.h), read as ModelConfig::load reads it. Any bytes must give a valid
// ModelConfig or a yoco::Error, never a crash. A config that loads satisfies validate()'s invariants (so the
// derived shapes are safe to divide by and allocate with) and survives to_json() -> from_json() unchanged.
// Input: the whole file. Corpus: corpus/config/. Build and run: tools/fuzz.sh (docs/FUZZING.md).
#include <cstddef>
#include <cstdint>

#include "kernels/error.h"
#include "llm/config.h"
#include "tests/fuzz/fuzz_util.h"

using yoco::fuzz::fail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = yoco::fuzz::scratch_path();
  if (!yoco::fuzz::write_scratch(path, data, size)) return 0;
  yoco::llm::ModelConfig c;
  try {
    c = yoco::llm::ModelConfig::load(path);
  } catch (const yoco::Error&) {
    return 0;
  }
  if (c.dim < 1 || c.n_layers < 1 || c.hidden_dim < 1 || c.vocab_size < 1 || c.n_attn_heads < 1 ||
      c.n_attn_kv_heads < 1 || c.dim % c.n_attn_heads != 0 || c.head_dim() % 2 != 0 ||
      c.n_attn_heads % c.n_attn_kv_heads != 0)
    fail("a loaded config breaks the shape invariants");
  if (c.arch == yoco::llm::Arch::Yoco && (c.n_self_heads < 1 || c.dim % c.n_self_heads != 0 ||
                                          c.self_head_dim() % 2 != 0 || c.n_layers % 2 != 0))
    fail("a loaded YOCO config breaks the self-decoder invariants");
  if (c.n_kv_caches() < 1 || c.n_kv_caches() > c.n_layers || c.kv_dim() < 1) fail("derived cache shapes");
  yoco::llm::ModelConfig again;
  try {
    again = yoco::llm::ModelConfig::from_json(c.to_json());
  } catch (const yoco::Error&) {
    fail("to_json() of a loaded config does not load");
  }
  if (again.arch != c.arch || again.dim != c.dim || again.n_layers != c.n_layers ||
      again.hidden_dim != c.hidden_dim || again.n_self_heads != c.n_self_heads ||
      again.n_attn_heads != c.n_attn_heads || again.n_attn_kv_heads != c.n_attn_kv_heads ||
      again.vocab_size != c.vocab_size || again.rope_theta != c.rope_theta || again.norm_eps != c.norm_eps ||
      again.sliding_window != c.sliding_window || again.rope_style != c.rope_style ||
      again.embed_scale != c.embed_scale || again.gate_logit_normalizer != c.gate_logit_normalizer ||
      again.cla_factor != c.cla_factor)
    fail("to_json() -> from_json() changes the config");
  return 0;
}
