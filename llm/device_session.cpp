// DeviceModel (weights on the GPU) and DeviceSession (the forward pass of llm/forward.cpp on kernels/cuda).
#include "llm/device_session.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>

#include "kernels/error.h"

namespace yoco::llm {

namespace cu = kernels::cuda;
using kernels::DType;

namespace {

void require_supported(const ModelConfig& c) {
  if (c.arch == Arch::Yoco && !c.retention())
    throw Error("the CUDA backend runs gated-retention YOCO and the Transformer; sliding-window YOCO is CPU only");
  if (c.arch == Arch::Cla) throw Error("the CUDA backend runs gated-retention YOCO and the Transformer; CLA is CPU only");
}

}  // namespace

// ---- DeviceModel -------------------------------------------------------------------------------------------

DeviceModel::DeviceModel(std::shared_ptr<const Model> model, DType weight_dtype)
    : model_(std::move(model)), dtype_(weight_dtype) {
  YOCO_REQUIRE(model_ != nullptr, "DeviceModel: no model");
  YOCO_REQUIRE(weight_dtype != DType::Q8, "DeviceModel: weights are f32, f16 or bf16 (int8 is a cache storage)");
  const ModelConfig& c = model_->config();
  require_supported(c);
  const ModelWeights& w = model_->weights();
  embed_ = upload(w.embed);
  output_ = upload(w.output);
  final_norm_ = upload_f32(w.final_norm, c.dim);
  auto layer = [&](const LayerWeights& l) {
    Layer d;
    d.mixer_norm = upload_f32(l.mixer_norm, c.dim);
    d.ffn_norm = upload_f32(l.ffn_norm, c.dim);
    d.mixer = upload(l.mixer);
    d.out = upload(l.out);
    d.ffn_in = upload(l.ffn_in);
    d.ffn_out = upload(l.ffn_out);
    return d;
  };
  for (const auto& l : w.self_layers) self_layers_.push_back(layer(l));
  for (const auto& l : w.layers) layers_.push_back(layer(l));
  if (c.arch == Arch::Yoco) {
    global_kv_norm_ = upload_f32(w.global_kv_norm, c.dim);
    global_kv_ = upload(w.global_kv);
  }
  self_rope_ = cu::DeviceRope::upload(model_->self_rope());
  rope_ = cu::DeviceRope::upload(model_->rope());
}

DeviceModel::Lin DeviceModel::upload(const Linear& l) {
  Lin d;
  if (!l) return d;
  d.out = l.out;
  d.in = l.in;
  const int64_t n = l.out * l.in;
  const size_t bytes = static_cast<size_t>(n) * kernels::dtype_size(dtype_);
  storage_.emplace_back(bytes);
  bytes_ += bytes;
  if (dtype_ == DType::F32) {
    YOCO_CUDA_CHECK(cudaMemcpy(storage_.back().data(), l.w, bytes, cudaMemcpyHostToDevice));
  } else {  // converted on the host (round to nearest even, as the CPU cache does), one tensor at a time
    std::vector<uint16_t> half(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
      half[i] = dtype_ == DType::BF16 ? kernels::f32_to_bf16(l.w[i]) : kernels::f32_to_f16(l.w[i]);
    YOCO_CUDA_CHECK(cudaMemcpy(storage_.back().data(), half.data(), bytes, cudaMemcpyHostToDevice));
  }
  d.w = storage_.back().data();
  return d;
}

const float* DeviceModel::upload_f32(const float* host, int64_t n) {
  if (!host) return nullptr;
  storage_.emplace_back(static_cast<size_t>(n) * sizeof(float));
  bytes_ += static_cast<size_t>(n) * sizeof(float);
  YOCO_CUDA_CHECK(cudaMemcpy(storage_.back().data(), host, static_cast<size_t>(n) * sizeof(float),
                             cudaMemcpyHostToDevice));
  return reinterpret_cast<const float*>(storage_.back().data());
}

// ---- DeviceSession: buffers -----------------------------------------------------------------------------

struct DeviceSession::Buffers {
  int64_t B = 0;           // rows per batch
  int64_t logit_rows = 0;  // rows of logits computed at once
  int64_t n_pages = 0;     // pages per cache
  size_t page_bytes = 0;
  std::vector<void*> cache_base;                 // per cache: first page
  std::vector<const void* const*> k_ptrs, v_ptrs;  // per cache: device arrays of page pointers
  float* retention = nullptr;                    // [Ls, H, d, d]
  float *x = nullptr, *xn = nullptr, *proj = nullptr, *att = nullptr, *decay = nullptr, *ffn = nullptr,
        *ffn_h = nullptr, *kv = nullptr, *logits = nullptr;
  void* stage = nullptr;  // GEMM inputs in the weight dtype [B, max in]
  int32_t* tokens = nullptr;
  int32_t* host_tokens = nullptr;  // pinned
  float* host_logits = nullptr;    // pinned [logit_rows, vocab]
  ~Buffers() {
    if (host_tokens) cudaFreeHost(host_tokens);
    if (host_logits) cudaFreeHost(host_logits);
  }
};

DeviceSession::DeviceSession(std::shared_ptr<const DeviceModel> model, cu::Context& ctx, const DeviceOptions& opts)
    : model_(std::move(model)), ctx_(ctx), opts_(opts), buf_(std::make_unique<Buffers>()) {
  YOCO_REQUIRE(model_ != nullptr, "DeviceSession: no model");
  YOCO_REQUIRE(opts.page_tokens > 0 && opts.max_batch > 0 && opts.max_tokens > 0,
               "DeviceSession: page_tokens, max_batch and max_tokens must be positive");
  const ModelConfig& c = model_->config();
  const int64_t dim = c.dim, kvd = c.kv_dim(), hid = c.hidden_dim, V = c.vocab_size;
  Buffers& b = *buf_;
  b.B = opts.max_batch;
  b.logit_rows = std::min<int64_t>(b.B, 256);
  const int n_caches = c.arch == Arch::Yoco ? 1 : c.n_layers;
  b.n_pages = (opts.max_tokens + opts.page_tokens - 1) / opts.page_tokens;
  b.page_bytes = static_cast<size_t>(2) * opts.page_tokens *
                 kernels::kv_row_bytes(opts.cache_dtype, c.n_attn_kv_heads, c.head_dim());
  const int64_t proj_cols = c.arch == Arch::Yoco ? std::max<int64_t>(dim, 4 * dim + c.n_self_heads)
                                                 : (c.n_attn_heads + 2 * c.n_attn_kv_heads) * c.head_dim();
  const int64_t max_in = std::max({dim, hid, static_cast<int64_t>(c.n_attn_heads) * c.head_dim()});
  const size_t f = sizeof(float);
  size_t total = n_caches * (b.n_pages * b.page_bytes + 2 * b.n_pages * sizeof(void*) + 512);
  total += static_cast<size_t>(b.B) * (4 * dim + proj_cols + std::max(1, c.n_self_heads) + 3 * hid + 2 * kvd) * f;
  total += static_cast<size_t>(b.logit_rows) * V * f + static_cast<size_t>(b.B) * max_in * 4 + b.B * 4;
  const size_t ret = c.arch == Arch::Yoco ? static_cast<size_t>(c.n_self_layers()) * c.n_self_heads *
                                                c.self_head_dim() * c.self_head_dim() * f
                                          : 0;
  total += ret + 64 * 256;  // alignment slack
  pool_ = std::make_unique<cu::DevicePool>(total);

  for (int i = 0; i < n_caches; ++i) {
    char* base = static_cast<char*>(pool_->claim(b.n_pages * b.page_bytes));
    std::vector<const void*> kp(b.n_pages), vp(b.n_pages);
    for (int64_t p = 0; p < b.n_pages; ++p) {
      kp[p] = base + p * b.page_bytes;
      vp[p] = base + p * b.page_bytes + b.page_bytes / 2;
    }
    auto* dk = pool_->claim_n<const void*>(b.n_pages);
    auto* dv = pool_->claim_n<const void*>(b.n_pages);
    YOCO_CUDA_CHECK(cudaMemcpy(dk, kp.data(), b.n_pages * sizeof(void*), cudaMemcpyHostToDevice));
    YOCO_CUDA_CHECK(cudaMemcpy(dv, vp.data(), b.n_pages * sizeof(void*), cudaMemcpyHostToDevice));
    b.cache_base.push_back(base);
    b.k_ptrs.push_back(dk);
    b.v_ptrs.push_back(dv);
  }
  if (ret) {
    b.retention = static_cast<float*>(pool_->claim(ret));
    YOCO_CUDA_CHECK(cudaMemset(b.retention, 0, ret));
  }
  b.x = pool_->claim_n<float>(b.B * dim);
  b.xn = pool_->claim_n<float>(b.B * dim);
  b.proj = pool_->claim_n<float>(b.B * proj_cols);
  b.att = pool_->claim_n<float>(b.B * dim);
  b.decay = pool_->claim_n<float>(b.B * std::max(1, c.n_self_heads));
  b.ffn = pool_->claim_n<float>(b.B * 2 * hid);
  b.ffn_h = pool_->claim_n<float>(b.B * hid);
  b.kv = pool_->claim_n<float>(b.B * 2 * kvd);
  b.logits = pool_->claim_n<float>(b.logit_rows * V);
  b.stage = pool_->claim(static_cast<size_t>(b.B) * max_in * kernels::dtype_size(model_->weight_dtype()));
  b.tokens = pool_->claim_n<int32_t>(b.B);
  YOCO_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&b.host_tokens), b.B * sizeof(int32_t)));
  YOCO_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&b.host_logits), b.logit_rows * V * f));
  host_logits_.resize(V);
}

DeviceSession::~DeviceSession() = default;

size_t DeviceSession::cache_bytes() const {
  const ModelConfig& c = model_->config();
  return buf_->cache_base.size() * static_cast<size_t>(n_tokens_) * 2 *
         kernels::kv_row_bytes(opts_.cache_dtype, c.n_attn_kv_heads, c.head_dim());
}

size_t DeviceSession::device_bytes() const { return pool_->used(); }

// ---- DeviceSession: driving ------------------------------------------------------------------------------

void DeviceSession::check_room(std::span<const int32_t> tokens) const {
  const int64_t V = model_->config().vocab_size;
  for (size_t i = 0; i < tokens.size(); ++i)
    YOCO_REQUIRE(tokens[i] >= 0 && tokens[i] < V,
                 "token " + std::to_string(tokens[i]) + " at index " + std::to_string(i) + " is outside [0, " +
                     std::to_string(V) + ")");
  check_capacity(static_cast<int64_t>(tokens.size()));
}

void DeviceSession::check_capacity(int64_t n) const {
  YOCO_REQUIRE(n >= 0 && n_tokens_ + n <= buf_->n_pages * opts_.page_tokens,
               "the device cache holds " + std::to_string(buf_->n_pages * opts_.page_tokens) + " tokens (" +
                   std::to_string(n_tokens_) + " used); raise DeviceOptions::max_tokens");
}

void DeviceSession::prefill_embeddings(const float* rows, int64_t n, bool rows_on_device) {
  YOCO_REQUIRE(rows != nullptr || n == 0, "prefill_embeddings: null rows");
  check_capacity(n);
  const int64_t dim = model_->config().dim;
  for (int64_t done = 0; done < n;) {
    const int64_t m = std::min(buf_->B, n - done);
    YOCO_CUDA_CHECK(cudaMemcpyAsync(buf_->x, rows + done * dim, static_cast<size_t>(m * dim) * sizeof(float),
                                    rows_on_device ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice,
                                    ctx_.stream()));
    run_layers(m, 0, nullptr);
    done += m;
  }
}

void DeviceSession::prefill(std::span<const int32_t> tokens) {
  check_room(tokens);
  run(tokens, 0, nullptr);
}

std::span<const float> DeviceSession::forward(std::span<const int32_t> tokens) {
  YOCO_REQUIRE(!tokens.empty(), "forward: no tokens");
  check_room(tokens);
  run(tokens, 1, nullptr);
  return host_logits_;
}

void DeviceSession::forward_all(std::span<const int32_t> tokens, float* out) {
  check_room(tokens);
  run(tokens, 0, out);
}

void DeviceSession::run(std::span<const int32_t> tokens, int64_t n_logits_last, float* out_all) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  const int64_t V = model_->config().vocab_size;
  for (int64_t done = 0; done < n;) {
    const int64_t m = std::min(buf_->B, n - done);
    const bool last = done + m == n;
    if (out_all) {
      run_batch(tokens.data() + done, m, m, out_all + done * V);
    } else {
      run_batch(tokens.data() + done, m, last ? n_logits_last : 0, last ? host_logits_.data() : nullptr);
    }
    done += m;
  }
}

void DeviceSession::linear(const float* x, const DeviceModel::Lin& l, float* y, int64_t ldy, int64_t n,
                           float beta) {
  const DType t = model_->weight_dtype();
  if (t == DType::F32) {
    cu::matmul_wt(ctx_, x, l.in, static_cast<const float*>(l.w), y, ldy, n, l.out, l.in, beta);
    return;
  }
  cu::convert_from_f32(ctx_, x, t, buf_->stage, n * l.in);
  cu::matmul_wt(ctx_, t, buf_->stage, l.in, l.w, y, ldy, n, l.out, l.in, beta);
}

void DeviceSession::ffn(const DeviceModel::Layer& l, float* x, int64_t n) {
  const ModelConfig& c = model_->config();
  const int64_t dim = c.dim, hid = c.hidden_dim;
  Buffers& b = *buf_;
  cu::rmsnorm(ctx_, x, dim, l.ffn_norm, b.xn, dim, n, dim, c.norm_eps);
  linear(b.xn, l.ffn_in, b.ffn, 2 * hid, n, 0.0f);
  cu::swiglu(ctx_, b.ffn, 2 * hid, b.ffn + hid, 2 * hid, b.ffn_h, hid, n, hid);
  linear(b.ffn_h, l.ffn_out, x, dim, n, 1.0f);
}

void DeviceSession::self_layer(int i, int64_t n, int64_t pos0) {
  const ModelConfig& c = model_->config();
  const DeviceModel::Layer& l = model_->self_layers()[i];
  const int64_t dim = c.dim;
  const int H = c.n_self_heads, d = c.self_head_dim();
  Buffers& b = *buf_;
  const int64_t P = l.mixer.out;  // [q|k|v|g|gt]
  cu::rmsnorm(ctx_, b.x, dim, l.mixer_norm, b.xn, dim, n, dim, c.norm_eps);
  linear(b.xn, l.mixer, b.proj, P, n, 0.0f);
  float* q = b.proj;
  float* k = b.proj + dim;
  float* v = b.proj + 2 * dim;
  cu::rope_apply(ctx_, model_->self_rope(), q, P, n, H, pos0);
  cu::rope_apply(ctx_, model_->self_rope(), k, P, n, H, pos0);
  cu::scale_rows(ctx_, k, P, n, dim, 1.0f / std::sqrt(static_cast<float>(d)));
  cu::gate_log_decay(ctx_, b.proj + 4 * dim, P, n, H, c.gate_logit_normalizer, b.decay);
  float* S = b.retention + static_cast<size_t>(i) * H * d * d;
  if (n == 1)
    cu::retention_recurrent(ctx_, q, k, v, P, b.decay, n, H, d, S, b.att, dim);
  else
    cu::retention_chunkwise(ctx_, q, k, v, P, b.decay, n, H, d, S, b.att, dim);
  cu::rmsnorm(ctx_, b.att, d, nullptr, b.att, d, n * H, d, c.norm_eps);  // per-head, no weight
  cu::swiglu(ctx_, b.proj + 3 * dim, P, b.att, dim, b.att, dim, n, dim);  // silu(g) * o
  linear(b.att, l.out, b.x, dim, n, 1.0f);
  ffn(l, b.x, n);
}

cu::DeviceKvSpan DeviceSession::span(int cache, int64_t n_tokens) const {
  const ModelConfig& c = model_->config();
  cu::DeviceKvSpan s;
  s.k_pages = buf_->k_ptrs[cache];
  s.v_pages = buf_->v_ptrs[cache];
  s.page_tokens = opts_.page_tokens;
  s.n_tokens = n_tokens;
  s.n_pages = (n_tokens + opts_.page_tokens - 1) / opts_.page_tokens;
  s.dtype = opts_.cache_dtype;
  s.n_kv_heads = c.n_attn_kv_heads;
  s.head_dim = c.head_dim();
  s.pos0 = 0;
  return s;
}

void DeviceSession::global_kv_append(int64_t n) {
  const ModelConfig& c = model_->config();
  const int64_t dim = c.dim, kvd = c.kv_dim();
  Buffers& b = *buf_;
  cu::rmsnorm(ctx_, b.x, dim, model_->global_kv_norm(), b.xn, dim, n, dim, c.norm_eps);
  linear(b.xn, model_->global_kv(), b.kv, 2 * kvd, n, 0.0f);
  cu::rope_apply(ctx_, model_->rope(), b.kv, 2 * kvd, n, c.n_attn_kv_heads, n_tokens_);
  cu::kv_append_pages(ctx_, b.kv, 2 * kvd, b.kv + kvd, 2 * kvd, n, c.n_attn_kv_heads, c.head_dim(),
                      opts_.cache_dtype, b.cache_base[0], opts_.page_tokens, n_tokens_);
}

void DeviceSession::cross_layer(int i, float* x, int64_t n, int64_t pos0) {
  const ModelConfig& c = model_->config();
  const DeviceModel::Layer& l = model_->layers()[i];
  const int64_t dim = c.dim;
  Buffers& b = *buf_;
  cu::rmsnorm(ctx_, x, dim, l.mixer_norm, b.xn, dim, n, dim, c.norm_eps);
  linear(b.xn, l.mixer, b.proj, dim, n, 0.0f);
  cu::rope_apply(ctx_, model_->rope(), b.proj, dim, n, c.n_attn_heads, pos0);
  kernels::AttentionParams ap;
  ap.n_heads = c.n_attn_heads;
  ap.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim()));
  cu::attention(ctx_, b.proj, dim, n, pos0, span(0, pos0 + n), ap, b.att, dim);
  linear(b.att, l.out, x, dim, n, 1.0f);
  ffn(l, x, n);
}

void DeviceSession::attn_layer(int i, int64_t n, int64_t pos0) {
  const ModelConfig& c = model_->config();
  const DeviceModel::Layer& l = model_->layers()[i];
  const int64_t dim = c.dim, hd = c.head_dim(), kvd = c.kv_dim();
  const int H = c.n_attn_heads, KV = c.n_attn_kv_heads;
  Buffers& b = *buf_;
  const int64_t P = l.mixer.out;  // [q|k|v]
  cu::rmsnorm(ctx_, b.x, dim, l.mixer_norm, b.xn, dim, n, dim, c.norm_eps);
  linear(b.xn, l.mixer, b.proj, P, n, 0.0f);
  cu::rope_apply(ctx_, model_->rope(), b.proj, P, n, H, pos0);
  float* k = b.proj + H * hd;
  cu::rope_apply(ctx_, model_->rope(), k, P, n, KV, pos0);
  cu::kv_append_pages(ctx_, k, P, k + kvd, P, n, KV, static_cast<int>(hd), opts_.cache_dtype, b.cache_base[i],
                      opts_.page_tokens, pos0);
  kernels::AttentionParams ap;
  ap.n_heads = H;
  ap.scale = 1.0f / std::sqrt(static_cast<float>(hd));
  cu::attention(ctx_, b.proj, P, n, pos0, span(i, pos0 + n), ap, b.att, H * hd);
  linear(b.att, l.out, b.x, dim, n, 1.0f);
  ffn(l, b.x, n);
}

void DeviceSession::run_batch(const int32_t* host_tokens, int64_t n, int64_t n_logits, float* host_logits) {
  const ModelConfig& c = model_->config();
  const int64_t dim = c.dim, V = c.vocab_size;
  Buffers& b = *buf_;
  std::memcpy(b.host_tokens, host_tokens, n * sizeof(int32_t));
  YOCO_CUDA_CHECK(cudaMemcpyAsync(b.tokens, b.host_tokens, n * sizeof(int32_t), cudaMemcpyHostToDevice,
                                  ctx_.stream()));
  const float scale = c.embed_scale ? std::sqrt(static_cast<float>(dim)) : 1.0f;
  cu::embed(ctx_, model_->weight_dtype(), model_->embed().w, V, dim, b.tokens, n, scale, b.x, dim);
  run_layers(n, n_logits, host_logits);
}

void DeviceSession::run_layers(int64_t n, int64_t n_logits, float* host_logits) {
  const ModelConfig& c = model_->config();
  const int64_t dim = c.dim, V = c.vocab_size, pos0 = n_tokens_;
  Buffers& b = *buf_;
  if (c.arch == Arch::Yoco) {
    for (int i = 0; i < c.n_self_layers(); ++i) self_layer(i, n, pos0);
    global_kv_append(n);
    if (n_logits > 0)
      for (int i = 0; i < c.n_cross_layers(); ++i) cross_layer(i, b.x + (n - n_logits) * dim, n_logits, pos0 + n - n_logits);
  } else {
    for (int i = 0; i < c.n_layers; ++i) attn_layer(i, n, pos0);
  }
  n_tokens_ += n;
  // The head, in slices of logit_rows, each copied out through pinned memory.
  for (int64_t r = n - n_logits; r < n; r += b.logit_rows) {
    const int64_t m = std::min(b.logit_rows, n - r);
    cu::rmsnorm(ctx_, b.x + r * dim, dim, model_->final_norm(), b.xn, dim, m, dim, c.norm_eps);
    linear(b.xn, model_->output(), b.logits, V, m, 0.0f);
    YOCO_CUDA_CHECK(cudaMemcpyAsync(b.host_logits, b.logits, m * V * sizeof(float), cudaMemcpyDeviceToHost,
                                    ctx_.stream()));
    ctx_.synchronize();
    std::memcpy(host_logits + (r - (n - n_logits)) * V, b.host_logits, m * V * sizeof(float));
  }
  if (n_logits == 0) ctx_.synchronize();  // host_tokens is reused by the next batch
}

void DeviceSession::fill_random_context(int64_t n, uint64_t seed) {
  const ModelConfig& c = model_->config();
  const int64_t kvd = c.kv_dim();
  YOCO_REQUIRE(n >= 0 && n_tokens_ + n <= buf_->n_pages * opts_.page_tokens,
               "fill_random_context: past the device cache's capacity");
  Buffers& b = *buf_;
  // One batch of random rows, reused: costs do not depend on the values.
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> host(static_cast<size_t>(b.B) * 2 * kvd);
  for (auto& x : host) x = normal(rng);
  YOCO_CUDA_CHECK(cudaMemcpy(b.kv, host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice));
  for (size_t cache = 0; cache < b.cache_base.size(); ++cache)
    for (int64_t done = 0; done < n;) {
      const int64_t m = std::min(b.B, n - done);
      cu::kv_append_pages(ctx_, b.kv, 2 * kvd, b.kv + kvd, 2 * kvd, m, c.n_attn_kv_heads, c.head_dim(),
                          opts_.cache_dtype, b.cache_base[cache], opts_.page_tokens, n_tokens_ + done);
      done += m;
    }
  ctx_.synchronize();
  n_tokens_ += n;
}

}  // namespace yoco::llm
