// Private parts of Session shared by llm/session.cpp and llm/forward.cpp.
#pragma once

#include <vector>

#include "llm/config.h"
#include "llm/session.h"

namespace yoco::llm {

// The constant-size self-decoder state (SelfDecoderState in the design): per self layer either the
// gated-retention matrices [H, d, d] or the sliding-window ring of the last W keys and values [W, dim]
// (position p lives in slot p % W). Also the last position's hidden row (YOCO: M, the self-decoder output;
// Transformer/CLA: the last layer's output) so that logits can be produced after an early-exit prefill.
struct Session::SelfState {
  explicit SelfState(const ModelConfig& c) {
    const size_t Ls = c.n_self_layers();
    if (c.arch == Arch::Yoco && c.retention()) {
      const size_t d = c.self_head_dim();
      retention.assign(Ls * c.n_self_heads * d * d, 0.0f);
    } else if (c.arch == Arch::Yoco) {
      window = c.sliding_window;
      ring_k.assign(Ls * window * c.dim, 0.0f);
      ring_v.assign(Ls * window * c.dim, 0.0f);
    }
    last_hidden.assign(c.dim, 0.0f);
  }
  size_t bytes() const { return (retention.size() + ring_k.size() + ring_v.size()) * sizeof(float); }

  std::vector<float> retention;  // [Ls, H, d, d]
  int64_t window = 0;
  std::vector<float> ring_k, ring_v;  // [Ls, W, dim]
  std::vector<float> last_hidden;     // [dim]
  bool last_hidden_valid = false;
};

// Activation buffers for one batch of up to B rows, allocated once per session.
struct Session::Activations {
  Activations(const ModelConfig& c, int64_t B) {
    const int64_t dim = c.dim;
    int64_t proj_cols = dim;
    if (c.arch == Arch::Yoco) {
      proj_cols = std::max<int64_t>(proj_cols, c.retention() ? 4 * dim + c.n_self_heads : 3 * dim);
    } else {
      proj_cols = std::max<int64_t>(proj_cols, (c.n_attn_heads + 2 * c.n_attn_kv_heads) * c.head_dim());
    }
    x.resize(B * dim);
    xn.resize(B * dim);
    proj.resize(B * proj_cols);
    att.resize(B * dim);
    decay.resize(B * std::max(1, c.n_self_heads));
    ffn.resize(B * 2 * c.hidden_dim);
    ffn_h.resize(B * c.hidden_dim);
    kv.resize(B * 2 * c.kv_dim());
    ksw.resize(B * dim);
    vsw.resize(B * dim);
  }
  std::vector<float> x, xn, proj, att, decay, ffn, ffn_h, kv, ksw, vsw;
  std::vector<kernels::KvBlock> blocks;
};

}  // namespace yoco::llm
