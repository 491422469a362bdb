// The CPU math layer: plain functions on plain buffers. It knows nothing of models or video.
//
// Conventions (written once, used everywhere):
// - Matrices are row-major `[rows, cols]`. A weight is stored `[out, in]` (the PyTorch / safetensors layout),
//   so a linear layer is `Y[M, out] = X[M, in] · Wᵀ`.
// - A token row of a multi-head tensor is `[n_heads, head_dim]`, contiguous; consecutive rows are `stride`
//   floats apart (stride >= n_heads * head_dim) so q/k/v can live side by side in one buffer.
// - Positions are absolute token positions (int64). Time never appears here.
// - All functions are thread-safe for distinct output buffers; they may use the kernel thread pool
//   (kernels/thread_pool.h) internally, so do not call them from inside a pool task.
// - Outputs never alias inputs unless a function says "in place".
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string_view>
#include <vector>

namespace yoco::kernels {

// ---- storage types ------------------------------------------------------------------------------------
// Q8 ("int8") is a K/V-cache storage only (llm::PagedKvCache, attention; not weights, not convert_*): each
// (token, kv head) row of hd values is stored as hd int8 values q and one f32 scale s, x ≈ q·s with
// s = max|x| / 127 and q = round-to-nearest-even(x / s), so |x − q·s| <= s/2 = max|x| / 254 (plus one f32
// rounding). A row with a NaN or an infinity keeps a NaN scale (every value of it reads NaN, as the NaN would
// spread in attention anyway); an all-zero row has scale 0. A token row of n_kv heads is laid out as its
// n_kv·hd int8 values, then its n_kv scales: kv_row_bytes(Q8, n_kv, hd) = n_kv·(hd + 4) bytes, about half of
// bf16 for hd >= 64.
enum class DType : uint8_t { F32, F16, BF16, Q8 };
size_t dtype_size(DType t);  // bytes per value (Q8: 1, its scales come on top: kv_row_bytes)
const char* dtype_name(DType t);  // "f32", "f16", "bf16", "int8"
// The DType whose dtype_name is `name`; nullopt for any other string.
std::optional<DType> dtype_from_name(std::string_view name);

// Bytes of one cached token row of n_kv heads × hd values stored as `t`.
size_t kv_row_bytes(DType t, int64_t n_kv, int64_t hd);
// `rows` token rows of [n_kv, hd] f32 (row r at src + r·src_stride) -> `rows` contiguous stored rows.
void kv_rows_from_f32(const float* src, int64_t src_stride, DType t, void* dst, int64_t rows, int64_t n_kv,
                      int64_t hd);
// `rows` contiguous stored rows -> f32 [rows, n_kv·hd], contiguous.
void kv_rows_to_f32(DType t, const void* src, int64_t rows, int64_t n_kv, int64_t hd, float* dst);

// Scalar conversions (round-to-nearest-even for the narrowing ones).
uint16_t f32_to_f16(float x);
float f16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float x);
float bf16_to_f32(uint16_t h);
// Bulk conversions to and from f32 (F32, F16, BF16; Q8 throws yoco::Error: it needs the row geometry).
void convert_to_f32(DType src_type, const void* src, float* dst, size_t n);
void convert_from_f32(const float* src, DType dst_type, void* dst, size_t n);

// ---- GEMM ---------------------------------------------------------------------------------------------
// C[M,N] = A[M,K] · W[N,K]ᵀ + beta·C   (W is a weight in [out, in] layout). lda/ldc are row strides.
void matmul_wt(const float* A, int64_t lda, const float* W, float* C, int64_t ldc, int64_t M, int64_t N,
               int64_t K, float beta = 0.0f);
// General single-precision GEMM (row-major): C = alpha·op(A)·op(B) + beta·C.
void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// ---- elementwise / normalisation ----------------------------------------------------------------------
// y[r] = x[r] * rsqrt(mean(x[r]^2) + eps) * w   (statistics in f32; w == nullptr means no weight).
// x and y may alias (in place). Row strides x_stride / y_stride.
void rmsnorm(const float* x, int64_t x_stride, const float* w, float* y, int64_t y_stride, int64_t rows,
             int64_t dim, float eps);
// out[i] = silu(a[i]) * b[i]. out may alias a or b.
void swiglu(const float* a, const float* b, float* out, int64_t n);
// y = x + y (residual add).
void add_inplace(float* y, const float* x, int64_t n);
void scale_inplace(float* x, float s, int64_t n);
// log(sigmoid(x)), numerically stable.
float log_sigmoid(float x);
// In-place softmax over n values; log_softmax writes y (may alias x).
void softmax_inplace(float* x, int64_t n);
void log_softmax(const float* x, float* y, int64_t n);

// ---- rotary position embedding ------------------------------------------------------------------------
// Yoco: inverse frequencies theta^(-linspace(0,1,d/2)), pairs interleaved (x[2i], x[2i+1]).
// Neox: inverse frequencies theta^(-2i/d), pairs split in halves (x[i], x[i+d/2]).
// The angle is computed as float(pos) * inv_freq[i] in f32, as the reference does.
enum class RopeStyle : uint8_t { Yoco, Neox };
struct RopeTable {
  RopeStyle style = RopeStyle::Yoco;
  int head_dim = 0;
  std::vector<float> inv_freq;  // head_dim / 2 entries
  static RopeTable make(RopeStyle style, int head_dim, float theta);
};
// In place on `rows` token rows of `n_heads` heads; row r has absolute position pos0 + r.
void rope_apply(const RopeTable& rope, float* x, int64_t stride, int64_t rows, int n_heads, int64_t pos0);

// ---- softmax attention over a (possibly paged) K/V sequence -------------------------------------------
// One block of consecutive cached tokens: k and v are n_tokens stored rows of [n_kv_heads, head_dim] in the
// span's dtype, kv_row_bytes(dtype, n_kv_heads, head_dim) bytes apart.
struct KvBlock {
  const void* k = nullptr;
  const void* v = nullptr;
  int64_t n_tokens = 0;
};
// A K/V sequence: the concatenation of its blocks. Key j (0-based over the concatenation) has position
// pos0 + j. Positions here only drive the causal mask (and the window); RoPE is already applied to the keys
// by the caller. A cache that dropped tokens (llm::PagedKvCache eviction) passes its own index space: held
// tokens numbered contiguously and queries shifted by the number dropped before them.
struct KvSpan {
  const KvBlock* blocks = nullptr;
  int64_t n_blocks = 0;
  int64_t n_tokens = 0;  // sum of the blocks' n_tokens
  DType dtype = DType::F32;
  int n_kv_heads = 0;
  int head_dim = 0;
  int64_t pos0 = 0;
};
struct AttentionParams {
  int n_heads = 0;       // query heads; query head h reads kv head h / (n_heads / n_kv_heads) (GQA)
  float scale = 1.0f;    // usually 1/sqrt(head_dim)
  int64_t window = 0;    // 0: full causal; W > 0: query at p sees keys at q with p - W < q <= p
};
// Causal softmax attention. q: n_q rows of [n_heads, head_dim] at q_stride, positions (in the span's
// position space, see KvSpan) q_pos0 .. q_pos0 + n_q - 1; keys later than a query's position are masked.
// out: n_q rows at out_stride.
// A query that sees no key gets zeros. Works for prefill (n_q large) and decode (n_q = 1, split over the
// cache and threads); no n_q × n_kv matrix is materialised.
void attention(const float* q, int64_t q_stride, int64_t n_q, int64_t q_pos0, const KvSpan& kv,
               const AttentionParams& p, float* out, int64_t out_stride);
// The plain O(n_q · n_kv) reference implementation the fast one is tested against.
void attention_reference(const float* q, int64_t q_stride, int64_t n_q, int64_t q_pos0, const KvSpan& kv,
                         const AttentionParams& p, float* out, int64_t out_stride);

// ---- gated retention ----------------------------------------------------------------------------------
// H heads of size d. q, k, v: T rows of [H, d] at `stride` (k already scaled by 1/sqrt(d) by the caller).
// log_decay: T rows of [H] (a_t = logsigmoid(gt)/normalizer, <= 0), contiguous [T, H].
// state: [H, d, d] (key dim × value dim), read and updated in place: S_t = exp(a_t) S_{t-1} + k_tᵀ v_t.
// o: T rows of [H, d] at out_stride, o_t = q_t S_t. All three forms compute the same numbers.
void retention_recurrent(const float* q, const float* k, const float* v, int64_t stride, const float* log_decay,
                         int64_t T, int H, int d, float* state, float* o, int64_t out_stride);
// Chunkwise form (prefill): chunks of `chunk` tokens, carrying the state across chunks.
void retention_chunkwise(const float* q, const float* k, const float* v, int64_t stride, const float* log_decay,
                         int64_t T, int H, int d, float* state, float* o, int64_t out_stride, int chunk = 64);
// Parallel form O = ((Q Kᵀ) ⊙ D) V plus the incoming state's contribution; O(T²), for tests.
void retention_parallel(const float* q, const float* k, const float* v, int64_t stride, const float* log_decay,
                        int64_t T, int H, int d, float* state, float* o, int64_t out_stride);

// ---- sampling -----------------------------------------------------------------------------------------
struct SamplingParams {
  bool greedy = true;
  float temperature = 1.0f;
  int top_k = 0;           // 0: off
  float top_p = 1.0f;      // 1: off
  float repetition_penalty = 1.0f;  // 1: off; CTRL-style (divide positive logits, multiply negative)
  int64_t repetition_window = 64;   // how many recent tokens the penalty looks at
  uint64_t seed = 0;
};
// Draws token ids from logits. Holds its own RNG (deterministic for a seed) and scratch buffers.
class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);
  // logits: vocab values (modified in place by penalties/temperature); history: tokens so far.
  int sample(float* logits, int64_t vocab, std::span<const int32_t> history);
  const SamplingParams& params() const { return params_; }

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> scratch_;
};
int argmax(const float* x, int64_t n);

}  // namespace yoco::kernels
