// The CUDA backend's ops: the functions of kernels/ops.h on device pointers, enqueued on a Context's stream.
//
// Conventions are those of kernels/ops.h (row-major `[rows, cols]`, weights `[out, in]`, token rows of
// `[n_heads, head_dim]` at a row stride, absolute int64 positions). In addition:
// - Every pointer argument is device memory unless its comment says host. Calls are asynchronous with respect
//   to the host unless they return a host value (argmax, DeviceSampler::sample), which synchronise the
//   stream.
// - Temporaries come from ctx.scratch(); an op never calls cudaMalloc.
// - Each op computes what its CPU twin computes; tests/cuda checks every one against the CPU backend.
//   Where the order of floating-point operations differs (reductions, FMA contraction) results agree to f32
//   rounding, not bit for bit; RoPE angles, RMSNorm statistics, embedding and dtype conversions are exact.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "kernels/cuda/device.h"
#include "kernels/ops.h"

namespace yoco::kernels::cuda {

// ---- storage types ------------------------------------------------------------------------------------
void convert_to_f32(Context& ctx, DType src_type, const void* src, float* dst, int64_t n);
void convert_from_f32(Context& ctx, const float* src, DType dst_type, void* dst, int64_t n);

// ---- GEMM (cuBLAS, f32 accumulation) ------------------------------------------------------------------
// C[M,N] = A[M,K] · W[N,K]ᵀ + beta·C, all f32 (TF32 tensor cores only if ctx.options().allow_tf32).
void matmul_wt(Context& ctx, const float* A, int64_t lda, const float* W, float* C, int64_t ldc, int64_t M,
               int64_t N, int64_t K, float beta = 0.0f);
// Same with A and W stored in `type` (F16 or BF16; F32 is the overload above), C in f32, f32 accumulation.
void matmul_wt(Context& ctx, DType type, const void* A, int64_t lda, const void* W, float* C, int64_t ldc,
               int64_t M, int64_t N, int64_t K, float beta = 0.0f);
// Row-major C = alpha·op(A)·op(B) + beta·C in f32.
void sgemm(Context& ctx, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// ---- elementwise / normalisation ----------------------------------------------------------------------
// As kernels::rmsnorm (sum of squares in double); x and y may alias; w == nullptr means no weight.
void rmsnorm(Context& ctx, const float* x, int64_t x_stride, const float* w, float* y, int64_t y_stride,
             int64_t rows, int64_t dim, float eps);
// out[r, i] = silu(a[r, i]) * b[r, i] for `rows` rows of n at their strides (rows = 1: kernels::swiglu).
// out may alias a or b.
void swiglu(Context& ctx, const float* a, int64_t a_stride, const float* b, int64_t b_stride, float* out,
            int64_t out_stride, int64_t rows, int64_t n);
void add_inplace(Context& ctx, float* y, const float* x, int64_t n);
void scale_inplace(Context& ctx, float* x, float s, int64_t n);
// out[r, :] = scale · table[tokens[r], :] in f32; table [vocab, dim] in `table_type`; tokens (device int32)
// outside [0, vocab) give a zero row (validate ids on the host before upload).
void embed(Context& ctx, DType table_type, const void* table, int64_t vocab, int64_t dim,
           const int32_t* tokens, int64_t n, float scale, float* out, int64_t out_stride);

// ---- rotary position embedding ------------------------------------------------------------------------
// The CPU table's inverse frequencies copied to the device (owning). The angle is float(pos) · inv_freq in
// f32 and its cos / sin are evaluated in double and rounded once, exactly as the CPU does.
struct DeviceRope {
  RopeStyle style = RopeStyle::Yoco;
  int head_dim = 0;
  DeviceBuffer<float> inv_freq;
  static DeviceRope upload(const RopeTable& table);
};
void rope_apply(Context& ctx, const DeviceRope& rope, float* x, int64_t stride, int64_t rows, int n_heads,
                int64_t pos0);

// ---- softmax attention over a paged K/V sequence ------------------------------------------------------
// Key j (0-based) lives in page j / page_tokens at slot j % page_tokens; a page's K part and V part are each
// [page_tokens, n_kv_heads, head_dim] in `dtype` (llm/kv_cache.h stores them back to back in one page).
// k_pages / v_pages are device arrays of n_pages device pointers. Key j has absolute position pos0 + j.
struct DeviceKvSpan {
  const void* const* k_pages = nullptr;
  const void* const* v_pages = nullptr;
  int64_t n_pages = 0;
  int page_tokens = 0;
  int64_t n_tokens = 0;
  DType dtype = DType::F32;
  int n_kv_heads = 0;
  int head_dim = 0;  // <= 256
  int64_t pos0 = 0;
};
// As kernels::attention (causal, optional window, GQA, zeros for a query that sees nothing). Flash-style: key
// tiles stream through shared memory with an online softmax; no n_q × n_kv matrix exists. When there are too
// few (query rows × kv head) blocks to fill the device (decode), the keys are split over blocks
// (flash-decoding) and the partial (m, l, O) combined by log-sum-exp. max_splits: 0 = automatic, 1 = never
// split (tests force both paths).
void attention(Context& ctx, const float* q, int64_t q_stride, int64_t n_q, int64_t q_pos0,
               const DeviceKvSpan& kv, const AttentionParams& p, float* out, int64_t out_stride,
               int max_splits = 0);

// ---- gated retention ----------------------------------------------------------------------------------
// As kernels::retention_recurrent (decode); d <= 256. The state [H, d, d] is read and updated in place.
void retention_recurrent(Context& ctx, const float* q, const float* k, const float* v, int64_t stride,
                         const float* log_decay, int64_t T, int H, int d, float* state, float* o,
                         int64_t out_stride);
// As kernels::retention_chunkwise (prefill) with chunks of min(chunk, 64) tokens: per chunk (in parallel) the
// in-chunk output and state increment, then a scan over chunks carries the state, then each chunk adds its
// incoming state's contribution. Long inputs run in segments whose chunk states fit in scratch. d > 128 falls
// back to the recurrent kernel (same numbers).
void retention_chunkwise(Context& ctx, const float* q, const float* k, const float* v, int64_t stride,
                         const float* log_decay, int64_t T, int H, int d, float* state, float* o,
                         int64_t out_stride, int chunk = 64);

// ---- model glue (model_ops.cu) --------------------------------------------------------------------------
// a[r * n_heads + h] = log_sigmoid(gt[r * stride + h]) / normalizer: gated retention's log-decays.
void gate_log_decay(Context& ctx, const float* gt, int64_t stride, int64_t rows, int n_heads, float normalizer,
                    float* a);
// x[r * stride + c] *= s for r < rows, c < cols.
void scale_rows(Context& ctx, float* x, int64_t stride, int64_t rows, int64_t cols, float s);
// Appends `rows` K and V rows of n_kv × head_dim floats as tokens t0 .. t0 + rows - 1 of a paged cache whose
// pages lie back to back from `base`, each page_tokens stored rows of K then page_tokens of V in `dtype`, a
// row kv_row_bytes(dtype, n_kv, head_dim) bytes (the layout DeviceKvSpan reads and the CPU cache holds),
// converting with round-to-nearest-even (int8: the CPU's kv_rows_from_f32, byte for byte).
void kv_append_pages(Context& ctx, const float* k, int64_t k_stride, const float* v, int64_t v_stride,
                     int64_t rows, int n_kv, int head_dim, DType dtype, void* base, int page_tokens, int64_t t0);

// ---- vision (vision_ops.cu) ------------------------------------------------------------------------------
// images [F, 3, S, S] → patches [F·(S/p)², 3·p·p] (row f·N + gy·g + gx; columns in (c, py, px) order), as
// vision/encoder.cpp's im2col. Throws yoco::Error when p does not divide S.
void patchify(Context& ctx, const float* images, int64_t frames, int image_size, int patch_size, float* patches);
// dst = `copies` copies of src [rows, cols] back to back.
void broadcast_rows(Context& ctx, const float* src, int64_t rows, int64_t cols, int64_t copies, float* dst);
// x [F, grid², width] → out [F, out_grid², width]: adaptive average pooling (PyTorch adaptive_avg_pool2d).
void adaptive_avg_pool(Context& ctx, const float* x, int64_t frames, int grid, int out_grid, int64_t width,
                       float* out);
// x = 0.5·x·(1 + erf(x/√2)) (exact GELU), in place.
void gelu_inplace(Context& ctx, float* x, int64_t n);

// ---- sampling -----------------------------------------------------------------------------------------
// As kernels::argmax (NaNs skipped, lowest index among equal maxima, 0 when every value is NaN).
// Enqueues the result into *out (device int32).
void argmax(Context& ctx, const float* x, int64_t n, int32_t* out);
// Synchronous form: waits for the stream and returns the index.
int argmax(Context& ctx, const float* x, int64_t n);

// The CPU Sampler's exact draws for device logits: greedy without a penalty runs argmax on the device and
// reads back 4 bytes; anything else copies the logits to pinned host memory and runs kernels::Sampler (a
// 100K vocabulary is 400 KB, tens of microseconds over PCIe), so a seed gives the same tokens as on the CPU.
class DeviceSampler {
 public:
  DeviceSampler(Context& ctx, const SamplingParams& params, int64_t max_vocab);
  ~DeviceSampler();
  DeviceSampler(const DeviceSampler&) = delete;
  DeviceSampler& operator=(const DeviceSampler&) = delete;
  // logits: vocab device floats (not modified); history: host token ids. Synchronises the stream.
  int sample(const float* logits, int64_t vocab, std::span<const int32_t> history);

 private:
  Context& ctx_;
  Sampler sampler_;
  int64_t max_vocab_;
  float* host_ = nullptr;          // pinned, max_vocab floats
  int32_t* host_index_ = nullptr;  // pinned
  DeviceBuffer<int32_t> index_;    // argmax result
};

}  // namespace yoco::kernels::cuda
