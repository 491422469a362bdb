// The forward pass, one plain function per block type, reading like YOCO-REFERENCE.md:
//   embed → self-decoder layers (gated retention or sliding window) → global K̂/V̂ append
//         → [only for rows whose logits are needed] cross-decoder layers → final norm → output projection.
// The Transformer and CLA baselines use attn_layer(), the same code with their own K/V per layer / group.
// All buffers are preallocated in Session::Activations; nothing here allocates in steady state.
#include <cmath>
#include <cstring>

#include "kernels/error.h"
#include "llm/session.h"
#include "llm/session_internal.h"

namespace yoco::llm {

using kernels::matmul_wt;
using kernels::rmsnorm;

void Session::embed(std::span<const int32_t> tokens) {
  const ModelConfig& c = model_->config();
  const float scale = c.embed_scale ? std::sqrt(static_cast<float>(c.dim)) : 1.0f;
  const float* E = model_->weights().embed.w;
  float* x = act_->x.data();
  for (size_t r = 0; r < tokens.size(); ++r) {
    const float* e = E + static_cast<int64_t>(tokens[r]) * c.dim;
    for (int j = 0; j < c.dim; ++j) x[r * c.dim + j] = scale * e[j];
  }
}

// Pre-norm SwiGLU block: x += fc2( silu(fc1(n)) * gate(n) ), n = RMSNorm(x).
void Session::ffn(const LayerWeights& l, float* x, int64_t n) {
  const ModelConfig& c = model_->config();
  const int64_t dim = c.dim, hid = c.hidden_dim;
  float* xn = act_->xn.data();
  float* h2 = act_->ffn.data();
  float* h = act_->ffn_h.data();
  rmsnorm(x, dim, l.ffn_norm, xn, dim, n, dim, c.norm_eps);
  matmul_wt(xn, dim, l.ffn_in.w, h2, 2 * hid, n, 2 * hid, dim);
  for (int64_t r = 0; r < n; ++r) kernels::swiglu(h2 + r * 2 * hid, h2 + r * 2 * hid + hid, h + r * hid, hid);
  matmul_wt(h, hid, l.ffn_out.w, x, dim, n, dim, hid, /*beta=*/1.0f);
}

// YOCO self-decoder layer i on n rows of act_->x at positions pos0.. (variant A or B).
void Session::self_layer(int i, int64_t n, int64_t pos0) {
  const ModelConfig& c = model_->config();
  const LayerWeights& l = model_->weights().self_layers[i];
  const int64_t dim = c.dim;
  const int H = c.n_self_heads, d = c.self_head_dim();
  float* x = act_->x.data();
  float* xn = act_->xn.data();
  float* p = act_->proj.data();
  float* o = act_->att.data();
  const int64_t P = l.mixer.out;  // fused projection width
  rmsnorm(x, dim, l.mixer_norm, xn, dim, n, dim, c.norm_eps);
  matmul_wt(xn, dim, l.mixer.w, p, P, n, P, dim);
  float* q = p;
  float* k = p + dim;
  float* v = p + 2 * dim;
  kernels::rope_apply(model_->self_rope(), q, P, n, H, pos0);
  kernels::rope_apply(model_->self_rope(), k, P, n, H, pos0);

  if (c.retention()) {
    // k ← k / sqrt(d); a_t = logsigmoid(gt) / normalizer; S_t = γ_t S_{t-1} + k_tᵀ v_t; o_t = q_t S_t.
    const float ks = 1.0f / std::sqrt(static_cast<float>(d));
    for (int64_t r = 0; r < n; ++r) kernels::scale_inplace(k + r * P, ks, dim);
    float* a = act_->decay.data();
    const float* gt = p + 4 * dim;
    for (int64_t r = 0; r < n; ++r)
      for (int h = 0; h < H; ++h) a[r * H + h] = kernels::log_sigmoid(gt[r * P + h]) / c.gate_logit_normalizer;
    float* S = self_->retention.data() + static_cast<size_t>(i) * H * d * d;
    if (n == 1)
      kernels::retention_recurrent(q, k, v, P, a, n, H, d, S, o, dim);
    else
      kernels::retention_chunkwise(q, k, v, P, a, n, H, d, S, o, dim, opts_.retention_chunk);
    // Per-head RMSNorm without weight (the paper's GroupNorm), then the output gate silu(g) ⊙ o.
    rmsnorm(o, d, nullptr, o, d, n * H, d, c.norm_eps);
    const float* g = p + 3 * dim;
    for (int64_t r = 0; r < n; ++r) kernels::swiglu(g + r * P, o + r * dim, o + r * dim, dim);
  } else {
    // Sliding window: keys from the ring (the previous min(pos0, W-1) positions) then this batch's own.
    const int64_t W = self_->window;
    float* ks = act_->ksw.data();
    float* vs = act_->vsw.data();
    for (int64_t r = 0; r < n; ++r) {
      std::memcpy(ks + r * dim, k + r * P, dim * sizeof(float));
      std::memcpy(vs + r * dim, v + r * P, dim * sizeof(float));
    }
    float* rk = self_->ring_k.data() + static_cast<size_t>(i) * W * dim;
    float* rv = self_->ring_v.data() + static_cast<size_t>(i) * W * dim;
    const int64_t m = std::min<int64_t>(pos0, W - 1);
    auto& blocks = act_->blocks;
    blocks.clear();
    if (m > 0) {
      const int64_t first = (pos0 - m) % W;
      const int64_t run1 = std::min<int64_t>(m, W - first);
      blocks.push_back({rk + first * dim, rv + first * dim, run1});
      if (run1 < m) blocks.push_back({rk, rv, m - run1});
    }
    blocks.push_back({ks, vs, n});
    kernels::KvSpan span;
    span.blocks = blocks.data();
    span.n_blocks = static_cast<int64_t>(blocks.size());
    span.n_tokens = m + n;
    span.dtype = kernels::DType::F32;
    span.n_kv_heads = H;
    span.head_dim = d;
    span.pos0 = pos0 - m;
    kernels::AttentionParams ap;
    ap.n_heads = H;
    ap.scale = 1.0f / std::sqrt(static_cast<float>(d));
    ap.window = W;
    kernels::attention(q, P, n, pos0, span, ap, o, dim);
    for (int64_t r = std::max<int64_t>(0, n - W); r < n; ++r) {
      const int64_t slot = (pos0 + r) % W;
      std::memcpy(rk + slot * dim, ks + r * dim, dim * sizeof(float));
      std::memcpy(rv + slot * dim, vs + r * dim, dim * sizeof(float));
    }
  }
  matmul_wt(o, dim, l.out.w, x, dim, n, dim, dim, /*beta=*/1.0f);
  ffn(l, x, n);
}

// K̂ = RoPE(RMSNorm_kv(M) Wk), V̂ = RMSNorm_kv(M) Wv for n rows of M (act_->x), appended to the global cache.
void Session::global_kv_append(int64_t n) {
  const ModelConfig& c = model_->config();
  const ModelWeights& w = model_->weights();
  const int64_t dim = c.dim, kvd = c.kv_dim();
  float* xn = act_->xn.data();
  float* kv = act_->kv.data();
  rmsnorm(act_->x.data(), dim, w.global_kv_norm, xn, dim, n, dim, c.norm_eps);
  matmul_wt(xn, dim, w.global_kv.w, kv, 2 * kvd, n, 2 * kvd, dim);
  kernels::rope_apply(model_->rope(), kv, 2 * kvd, n, c.n_attn_kv_heads, n_tokens_);
  caches_[0].append(kv, 2 * kvd, kv + kvd, 2 * kvd, n);
  if (trace_) {
    std::vector<float> kk(n * kvd), vv(n * kvd);
    for (int64_t r = 0; r < n; ++r) {
      std::memcpy(kk.data() + r * kvd, kv + r * 2 * kvd, kvd * sizeof(float));
      std::memcpy(vv.data() + r * kvd, kv + r * 2 * kvd + kvd, kvd * sizeof(float));
    }
    trace("kv.k", n_tokens_, kk.data(), n, kvd);
    trace("kv.v", n_tokens_, vv.data(), n, kvd);
  }
}

// YOCO cross-decoder layer i on n rows x at positions pos0..; reads the global cache up to pos0 + n.
void Session::cross_layer(int i, float* x, int64_t n, int64_t pos0) {
  const ModelConfig& c = model_->config();
  const LayerWeights& l = model_->weights().layers[i];
  const int64_t dim = c.dim;
  float* xn = act_->xn.data();
  float* q = act_->proj.data();
  float* o = act_->att.data();
  rmsnorm(x, dim, l.mixer_norm, xn, dim, n, dim, c.norm_eps);
  matmul_wt(xn, dim, l.mixer.w, q, dim, n, dim, dim);
  kernels::rope_apply(model_->rope(), q, dim, n, c.n_attn_heads, pos0);
  kernels::AttentionParams ap;
  ap.n_heads = c.n_attn_heads;
  ap.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim()));
  // Evicted positions: RoPE above used the absolute position; the mask works in the cache's held-token
  // index space (llm/kv_cache.h).
  const int64_t gap = caches_[0].n_evicted();
  const kernels::KvSpan span = caches_[0].span(act_->blocks, pos0 + n - gap);
  kernels::attention(q, dim, n, pos0 - gap, span, ap, o, dim);
  matmul_wt(o, dim, l.out.w, x, dim, n, dim, dim, /*beta=*/1.0f);
  ffn(l, x, n);
}

// Transformer / CLA layer i on n rows of act_->x: its own (or its group's) K/V appended, then causal GQA.
void Session::attn_layer(int i, int64_t n, int64_t pos0) {
  const ModelConfig& c = model_->config();
  const LayerWeights& l = model_->weights().layers[i];
  const int64_t dim = c.dim, hd = c.head_dim(), kvd = c.kv_dim();
  const int H = c.n_attn_heads, KV = c.n_attn_kv_heads;
  float* x = act_->x.data();
  float* xn = act_->xn.data();
  float* p = act_->proj.data();
  float* o = act_->att.data();
  const int64_t P = l.mixer.out;
  rmsnorm(x, dim, l.mixer_norm, xn, dim, n, dim, c.norm_eps);
  matmul_wt(xn, dim, l.mixer.w, p, P, n, P, dim);
  kernels::rope_apply(model_->rope(), p, P, n, H, pos0);
  int cache = i;
  if (c.arch == Arch::Transformer) {
    float* k = p + H * hd;
    kernels::rope_apply(model_->rope(), k, P, n, KV, pos0);
    caches_[i].append(k, P, k + kvd, P, n);
  } else {
    cache = i / c.cla_factor;
    if (l.kv) {  // group leader: the shared K/V from kv_norm(x)
      float* kv = act_->kv.data();
      rmsnorm(x, dim, l.kv_norm, act_->ksw.data(), dim, n, dim, c.norm_eps);
      matmul_wt(act_->ksw.data(), dim, l.kv.w, kv, 2 * kvd, n, 2 * kvd, dim);
      kernels::rope_apply(model_->rope(), kv, 2 * kvd, n, KV, pos0);
      caches_[cache].append(kv, 2 * kvd, kv + kvd, 2 * kvd, n);
    }
  }
  kernels::AttentionParams ap;
  ap.n_heads = H;
  ap.scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int64_t gap = caches_[cache].n_evicted();  // as in cross_layer
  const kernels::KvSpan span = caches_[cache].span(act_->blocks, pos0 + n - gap);
  kernels::attention(p, P, n, pos0 - gap, span, ap, o, dim);
  matmul_wt(o, H * hd, l.out.w, x, dim, n, dim, H * hd, /*beta=*/1.0f);
  ffn(l, x, n);
}

void Session::head(const float* x, int64_t n, float* logits) {
  const ModelConfig& c = model_->config();
  const ModelWeights& w = model_->weights();
  float* xn = act_->xn.data();
  rmsnorm(x, c.dim, w.final_norm, xn, c.dim, n, c.dim, c.norm_eps);
  matmul_wt(xn, c.dim, w.output.w, logits, c.vocab_size, n, c.vocab_size, c.dim);
}

void Session::run_batch(int64_t n, int64_t n_logits, float* logits_out) {
  const ModelConfig& c = model_->config();
  const int64_t pos0 = n_tokens_, dim = c.dim;
  float* x = act_->x.data();
  if (c.arch == Arch::Yoco) {
    for (int i = 0; i < c.n_self_layers(); ++i) {
      self_layer(i, n, pos0);
      trace("self." + std::to_string(i), pos0, x, n, dim);
    }
    global_kv_append(n);
    std::memcpy(self_->last_hidden.data(), x + (n - 1) * dim, dim * sizeof(float));
    self_->last_hidden_valid = true;
    n_tokens_ += n;
    if (n_logits > 0) {  // early exit otherwise: the cross-decoder never runs during ingest
      const int64_t r0 = n - n_logits;
      for (int i = 0; i < c.n_cross_layers(); ++i) {
        cross_layer(i, x + r0 * dim, n_logits, pos0 + r0);
        if (r0 == 0) trace("cross." + std::to_string(i), pos0, x, n, dim);
      }
      head(x + r0 * dim, n_logits, logits_out);
    }
    return;
  }
  for (int i = 0; i < c.n_layers; ++i) {
    attn_layer(i, n, pos0);
    trace("layers." + std::to_string(i), pos0, x, n, dim);
  }
  std::memcpy(self_->last_hidden.data(), x + (n - 1) * dim, dim * sizeof(float));
  self_->last_hidden_valid = true;
  n_tokens_ += n;
  if (n_logits > 0) head(x + (n - n_logits) * dim, n_logits, logits_out);
}

}  // namespace yoco::llm
