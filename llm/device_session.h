// The forward pass on an NVIDIA GPU (built only with the CUDA backend, YOCO_HAVE_CUDA): the same blocks as
// llm/forward.cpp, in the same order, on the ops of kernels/cuda/ops_cuda.h.
//
// DeviceModel: the weights of a loaded Model copied to the device once, matrices in `weight_dtype` (BF16 for
// speed, F32 for parity), norms in f32. Immutable; shared by every DeviceSession on that device.
// DeviceSession: one sequence's state on the device: the gated-retention state of the self-decoder, the
// paged global K/V cache (Transformer: one per layer) in `cache_dtype`, and activation buffers for batches of
// up to `max_batch` tokens, all claimed from one pool at construction (no cudaMalloc afterwards). Ingest
// (`prefill`) never runs the cross-decoder, as on the CPU.
//
// Supported: YOCO with gated retention, and the GQA Transformer baseline (the shapes the paper's benchmarks
// use). Sliding-window YOCO and CLA are refused with an error naming the architecture.
//
// Status: compiled, not yet run on a device (tests/cuda/test_session.cpp compares it with the CPU Session and
// skips without a GPU; tools/cuda-check.sh runs it).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "kernels/cuda/device.h"
#include "kernels/cuda/ops_cuda.h"
#include "llm/model.h"

namespace yoco::llm {

struct DeviceOptions {
  kernels::DType weight_dtype = kernels::DType::BF16;  // matrices (F32, F16 or BF16); norms stay f32
  kernels::DType cache_dtype = kernels::DType::BF16;   // global K/V (F32, F16, BF16 or Q8)
  int page_tokens = 256;
  int max_batch = 2048;               // tokens per forward batch (activations are sized for this)
  int64_t max_tokens = int64_t{1} << 17;  // cache capacity in tokens, claimed up front
};

class DeviceModel {
 public:
  DeviceModel(std::shared_ptr<const Model> model, kernels::DType weight_dtype);
  DeviceModel(const DeviceModel&) = delete;
  DeviceModel& operator=(const DeviceModel&) = delete;

  struct Lin {
    const void* w = nullptr;  // [out, in] in weight_dtype
    int64_t out = 0, in = 0;
  };
  struct Layer {
    const float* mixer_norm = nullptr;
    const float* ffn_norm = nullptr;
    Lin mixer, out, ffn_in, ffn_out;
  };

  const Model& host() const { return *model_; }
  const ModelConfig& config() const { return model_->config(); }
  kernels::DType weight_dtype() const { return dtype_; }
  const Lin& embed() const { return embed_; }
  const Lin& output() const { return output_; }
  const float* final_norm() const { return final_norm_; }
  const float* global_kv_norm() const { return global_kv_norm_; }
  const Lin& global_kv() const { return global_kv_; }
  const std::vector<Layer>& self_layers() const { return self_layers_; }
  const std::vector<Layer>& layers() const { return layers_; }
  const kernels::cuda::DeviceRope& self_rope() const { return self_rope_; }
  const kernels::cuda::DeviceRope& rope() const { return rope_; }
  size_t bytes() const { return bytes_; }

 private:
  Lin upload(const Linear& l);
  const float* upload_f32(const float* host, int64_t n);

  std::shared_ptr<const Model> model_;
  kernels::DType dtype_;
  Lin embed_, output_, global_kv_;
  const float* final_norm_ = nullptr;
  const float* global_kv_norm_ = nullptr;
  std::vector<Layer> self_layers_, layers_;
  kernels::cuda::DeviceRope self_rope_, rope_;
  std::vector<kernels::cuda::DeviceBuffer<char>> storage_;
  size_t bytes_ = 0;
};

class DeviceSession {
 public:
  DeviceSession(std::shared_ptr<const DeviceModel> model, kernels::cuda::Context& ctx,
                const DeviceOptions& opts = {});
  ~DeviceSession();
  DeviceSession(const DeviceSession&) = delete;
  DeviceSession& operator=(const DeviceSession&) = delete;

  // Appends tokens without logits (YOCO: the cross-decoder is skipped). Throws yoco::Error on a token
  // outside the vocabulary or past max_tokens; the session is unchanged then.
  void prefill(std::span<const int32_t> tokens);
  // Appends rows of embeddings at the LM width ([n, dim], no embedding scale: Session::prefill_embeddings),
  // the seam vision tokens enter through; `rows` is host memory, or device memory with rows_on_device (the
  // output of vision::DeviceVisionEncoder stays on the GPU). Throws yoco::Error past max_tokens or for a null
  // pointer; the session is unchanged then.
  void prefill_embeddings(const float* rows, int64_t n, bool rows_on_device = false);
  // Appends tokens; returns the logits after the last one (host memory, valid until the next call).
  std::span<const float> forward(std::span<const int32_t> tokens);
  // Appends tokens and writes the logits at every one of their positions to host `out` ([n, vocab]).
  void forward_all(std::span<const int32_t> tokens, float* out);
  // Benchmarks: appends n positions of random K/V (and advances the retention state's position), so decode
  // at a long context can be timed without prefilling it (the costs do not depend on the values).
  void fill_random_context(int64_t n, uint64_t seed);

  int64_t n_tokens() const { return n_tokens_; }
  size_t cache_bytes() const;   // K/V bytes of the tokens held
  size_t device_bytes() const;  // everything this session claimed (state, cache capacity, activations)

 private:
  struct Buffers;
  void check_room(std::span<const int32_t> tokens) const;
  void check_capacity(int64_t n) const;
  void run(std::span<const int32_t> tokens, int64_t n_logits_last, float* out_all);
  void run_batch(const int32_t* host_tokens, int64_t n, int64_t n_logits, float* host_logits);
  void run_layers(int64_t n, int64_t n_logits, float* host_logits);  // on the rows in Buffers::x
  void linear(const float* x, const DeviceModel::Lin& l, float* y, int64_t ldy, int64_t n, float beta);
  void ffn(const DeviceModel::Layer& l, float* x, int64_t n);
  void self_layer(int i, int64_t n, int64_t pos0);
  void global_kv_append(int64_t n);
  void cross_layer(int i, float* x, int64_t n, int64_t pos0);
  void attn_layer(int i, int64_t n, int64_t pos0);
  kernels::cuda::DeviceKvSpan span(int cache, int64_t n_tokens) const;

  std::shared_ptr<const DeviceModel> model_;
  kernels::cuda::Context& ctx_;
  DeviceOptions opts_;
  std::unique_ptr<kernels::cuda::DevicePool> pool_;
  std::unique_ptr<Buffers> buf_;
  int64_t n_tokens_ = 0;
  std::vector<float> host_logits_;
};

}  // namespace yoco::llm
