// Gated retention on the device (YOCO-REFERENCE.md, self-decoder variant A), the same recurrence as
// kernels/cpu/retention.cpp:  S_t = exp(a_t) S_{t-1} + k_tᵀ v_t,  o_t = q_t S_t   (S: d × d per head).
//
// Recurrent (decode): grid (head, 32-column slab of S); a block keeps its d × 32 slab of the state in
// registers (thread (x, y) owns column x, rows y, y + 8, ...) for all T tokens and reduces q·S over rows in
// shared memory.
//
// Chunkwise (prefill), three kernels per segment of chunks:
//   1. chunk_intra   (chunk, head): G_j = Σ a (double, as on the CPU), O = ((Q Kᵀ) ⊙ exp(G_j − G_k)[k≤j]) V,
//                    ΔS = Kᵀ (V ⊙ exp(G_last − G_k)) and the chunk's decay exp(G_last).
//   2. chunk_scan    (state element, head): S_in(c) = S; S = decay(c)·S + ΔS(c), sequential over chunks,
//                    parallel over the d² elements; S_in(c) overwrites ΔS(c); the last S is the new state.
//   3. chunk_inter   (chunk, head): O += (Q ⊙ exp(G_j)) S_in(c).
// The exponents are those of the CPU code (every one <= 0), evaluated the same way (double for the chunk
// decays and the Q / V weights, f32 for the in-chunk matrix). SIMT throughout; see README.md for the plan.
#include <algorithm>
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops_cuda.h"

namespace yoco::kernels::cuda {
namespace {

constexpr int kRecCols = 32;
constexpr int kRecRowGroups = 8;
constexpr int kRecMaxD = 256;
constexpr int kRecRegs = kRecMaxD / kRecRowGroups;

__global__ void __launch_bounds__(kRecCols* kRecRowGroups)
    retention_recurrent_kernel(const float* q, const float* k, const float* v, int64_t stride,
                               const float* log_decay, int64_t T, int H, int d, float* state, float* o,
                               int64_t out_stride) {
  const int h = blockIdx.x;
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int j = blockIdx.y * kRecCols + tx;
  float* S = state + static_cast<int64_t>(h) * d * d;
  float s[kRecRegs];
#pragma unroll
  for (int ii = 0; ii < kRecRegs; ++ii) {
    const int i = ty + ii * kRecRowGroups;
    s[ii] = (i < d && j < d) ? S[static_cast<int64_t>(i) * d + j] : 0.0f;
  }
  __shared__ float red[kRecRowGroups][kRecCols + 1];
  for (int64_t t = 0; t < T; ++t) {
    const int64_t base = t * stride + static_cast<int64_t>(h) * d;
    const float gamma = expf(log_decay[t * H + h]);
    const float vj = j < d ? v[base + j] : 0.0f;
    float acc = 0.0f;
#pragma unroll
    for (int ii = 0; ii < kRecRegs; ++ii) {
      const int i = ty + ii * kRecRowGroups;
      if (i < d) {
        s[ii] = gamma * s[ii] + k[base + i] * vj;
        acc += q[base + i] * s[ii];
      }
    }
    red[ty][tx] = acc;
    __syncthreads();
    if (ty == 0 && j < d) {
      float sum = 0.0f;
      for (int y = 0; y < kRecRowGroups; ++y) sum += red[y][tx];
      o[t * out_stride + static_cast<int64_t>(h) * d + j] = sum;
    }
    __syncthreads();
  }
#pragma unroll
  for (int ii = 0; ii < kRecRegs; ++ii) {
    const int i = ty + ii * kRecRowGroups;
    if (i < d && j < d) S[static_cast<int64_t>(i) * d + j] = s[ii];
  }
}

constexpr int kMaxChunk = 64;
constexpr int kChunkMaxD = 128;
constexpr int kChunkThreads = 256;

struct ChunkArgs {
  const float* q;
  const float* k;
  const float* v;
  int64_t stride;
  const float* log_decay;
  int64_t T;
  int H;
  int d;
  int C;            // chunk length
  int64_t c_begin;  // first chunk of this segment
  float* o;
  int64_t out_stride;
  float* dS;     // [segment chunk, H, d, d]: ΔS, then S_in after the scan
  float* decay;  // [segment chunk, H]
  float* state;  // [H, d, d]
};

// Inclusive cumulative log-decay of chunk tokens [t0, t0 + L) of head h, in double (thread 0).
__device__ void chunk_cumsum(const ChunkArgs& a, int64_t t0, int L, int h, double* G) {
  if (threadIdx.x == 0) {
    double g = 0.0;
    for (int j = 0; j < L; ++j) G[j] = (g += static_cast<double>(a.log_decay[(t0 + j) * a.H + h]));
  }
}

size_t intra_smem(int C, int d) {
  return static_cast<size_t>(C) * sizeof(double) + static_cast<size_t>(C) * sizeof(float) +
         static_cast<size_t>(C) * (C + 1) * sizeof(float) +
         2 * static_cast<size_t>(C) * (d + 1) * sizeof(float);
}

__global__ void __launch_bounds__(kChunkThreads) chunk_intra_kernel(ChunkArgs a) {
  extern __shared__ double smem_d[];
  const int C = a.C, d = a.d, ld = d + 1;
  double* G = smem_d;
  float* W = reinterpret_cast<float*>(G + C);  // exp(G_last − G_k)
  float* A = W + C;                            // [C, C + 1]
  float* X = A + C * (C + 1);                  // [C, ld]: Q, then V
  float* Kc = X + C * ld;                      // [C, ld]
  const int c = blockIdx.x, h = blockIdx.y;
  const int64_t t0 = (a.c_begin + c) * C;
  const int L = static_cast<int>(min(static_cast<int64_t>(C), a.T - t0));
  const int64_t col0 = static_cast<int64_t>(h) * d;

  chunk_cumsum(a, t0, L, h, G);
  for (int idx = threadIdx.x; idx < L * d; idx += kChunkThreads) {
    const int j = idx / d, e = idx % d;
    X[j * ld + e] = a.q[(t0 + j) * a.stride + col0 + e];
    Kc[j * ld + e] = a.k[(t0 + j) * a.stride + col0 + e];
  }
  __syncthreads();
  if (threadIdx.x < L) W[threadIdx.x] = static_cast<float>(exp(G[L - 1] - G[threadIdx.x]));
  for (int idx = threadIdx.x; idx < L * L; idx += kChunkThreads) {
    const int j = idx / L, kk = idx % L;
    float val = 0.0f;
    if (kk <= j) {
      float acc = 0.0f;
      for (int e = 0; e < d; ++e) acc = fmaf(X[j * ld + e], Kc[kk * ld + e], acc);
      val = acc * expf(static_cast<float>(G[j] - G[kk]));
    }
    A[j * (C + 1) + kk] = val;
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < L * d; idx += kChunkThreads) {
    const int j = idx / d, e = idx % d;
    X[j * ld + e] = a.v[(t0 + j) * a.stride + col0 + e];
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < L * d; idx += kChunkThreads) {
    const int j = idx / d, e = idx % d;
    float acc = 0.0f;
    for (int kk = 0; kk <= j; ++kk) acc = fmaf(A[j * (C + 1) + kk], X[kk * ld + e], acc);
    a.o[(t0 + j) * a.out_stride + col0 + e] = acc;
  }
  float* dS = a.dS + (static_cast<int64_t>(c) * a.H + h) * d * d;
  for (int idx = threadIdx.x; idx < d * d; idx += kChunkThreads) {
    const int i = idx / d, e = idx % d;
    float acc = 0.0f;
    for (int kk = 0; kk < L; ++kk) acc = fmaf(Kc[kk * ld + i], X[kk * ld + e] * W[kk], acc);
    dS[idx] = acc;
  }
  if (threadIdx.x == 0) a.decay[static_cast<int64_t>(c) * a.H + h] = static_cast<float>(exp(G[L - 1]));
}

__global__ void __launch_bounds__(kChunkThreads) chunk_scan_kernel(ChunkArgs a, int n_chunks) {
  const int h = blockIdx.y;
  const int64_t dd = static_cast<int64_t>(a.d) * a.d;
  const int64_t e = static_cast<int64_t>(blockIdx.x) * kChunkThreads + threadIdx.x;
  if (e >= dd) return;
  float* S = a.state + h * dd + e;
  float s = *S;
  for (int c = 0; c < n_chunks; ++c) {
    float* p = a.dS + (static_cast<int64_t>(c) * a.H + h) * dd + e;
    const float ds = *p;
    *p = s;
    s = a.decay[static_cast<int64_t>(c) * a.H + h] * s + ds;
  }
  *S = s;
}

size_t inter_smem(int C, int d) {
  return static_cast<size_t>(C) * sizeof(double) + static_cast<size_t>(C) * d * sizeof(float);
}

__global__ void __launch_bounds__(kChunkThreads) chunk_inter_kernel(ChunkArgs a) {
  extern __shared__ double smem_d[];
  const int C = a.C, d = a.d;
  double* G = smem_d;
  float* Qd = reinterpret_cast<float*>(G + C);  // [C, d]: q_j · exp(G_j)
  const int c = blockIdx.x, h = blockIdx.y;
  const int64_t t0 = (a.c_begin + c) * C;
  const int L = static_cast<int>(min(static_cast<int64_t>(C), a.T - t0));
  const int64_t col0 = static_cast<int64_t>(h) * d;
  chunk_cumsum(a, t0, L, h, G);
  __syncthreads();
  for (int idx = threadIdx.x; idx < L * d; idx += kChunkThreads) {
    const int j = idx / d, e = idx % d;
    Qd[idx] = a.q[(t0 + j) * a.stride + col0 + e] * static_cast<float>(exp(G[j]));
  }
  __syncthreads();
  const float* S = a.dS + (static_cast<int64_t>(c) * a.H + h) * d * d;  // S_in of this chunk
  for (int idx = threadIdx.x; idx < L * d; idx += kChunkThreads) {
    const int j = idx / d, e = idx % d;
    float acc = 0.0f;
    for (int i = 0; i < d; ++i) acc = fmaf(Qd[j * d + i], S[static_cast<int64_t>(i) * d + e], acc);
    a.o[(t0 + j) * a.out_stride + col0 + e] += acc;
  }
}

}  // namespace

void retention_recurrent(Context& ctx, const float* q, const float* k, const float* v, int64_t stride,
                         const float* log_decay, int64_t T, int H, int d, float* state, float* o,
                         int64_t out_stride) {
  if (T <= 0 || H <= 0) return;
  YOCO_REQUIRE(d > 0 && d <= kRecMaxD, "CUDA retention: head size must be in 1..256");
  const dim3 grid(static_cast<unsigned>(H), static_cast<unsigned>(detail::ceil_div(d, kRecCols)));
  retention_recurrent_kernel<<<grid, dim3(kRecCols, kRecRowGroups), 0, ctx.stream()>>>(
      q, k, v, stride, log_decay, T, H, d, state, o, out_stride);
  YOCO_CUDA_CHECK_LAUNCH();
}

void retention_chunkwise(Context& ctx, const float* q, const float* k, const float* v, int64_t stride,
                         const float* log_decay, int64_t T, int H, int d, float* state, float* o,
                         int64_t out_stride, int chunk) {
  if (T <= 0 || H <= 0) return;
  YOCO_REQUIRE(d > 0, "CUDA retention: head size must be positive");
  const int C = std::clamp(chunk, 1, kMaxChunk);
  const size_t smem_a = intra_smem(C, d), smem_c = inter_smem(C, d);
  const int64_t dd = static_cast<int64_t>(d) * d;
  const int64_t per_chunk = static_cast<int64_t>(H) * (dd + 1) * static_cast<int64_t>(sizeof(float)) + 512;
  ScratchScope scope(ctx.scratch());
  const int64_t fit = static_cast<int64_t>(ctx.scratch().available()) / per_chunk;
  if (d > kChunkMaxD || std::max(smem_a, smem_c) > ctx.info().max_shared_per_block || fit < 1)
    return retention_recurrent(ctx, q, k, v, stride, log_decay, T, H, d, state, o, out_stride);

  const int64_t n_chunks = detail::ceil_div(T, C);
  const int64_t seg = std::min(n_chunks, fit);
  ChunkArgs a{q, k, v, stride, log_decay, T, H, d, C, 0, o, out_stride, nullptr, nullptr, state};
  a.dS = ctx.scratch().claim_n<float>(static_cast<size_t>(seg * H * dd));
  a.decay = ctx.scratch().claim_n<float>(static_cast<size_t>(seg * H));
  if (smem_a > 48 * 1024)
    YOCO_CUDA_CHECK(cudaFuncSetAttribute(chunk_intra_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         static_cast<int>(smem_a)));
  if (smem_c > 48 * 1024)
    YOCO_CUDA_CHECK(cudaFuncSetAttribute(chunk_inter_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         static_cast<int>(smem_c)));
  for (int64_t c0 = 0; c0 < n_chunks; c0 += seg) {
    const int64_t nc = std::min(seg, n_chunks - c0);
    a.c_begin = c0;
    const dim3 grid(static_cast<unsigned>(nc), static_cast<unsigned>(H));
    chunk_intra_kernel<<<grid, kChunkThreads, smem_a, ctx.stream()>>>(a);
    YOCO_CUDA_CHECK_LAUNCH();
    chunk_scan_kernel<<<dim3(static_cast<unsigned>(detail::ceil_div(dd, kChunkThreads)),
                             static_cast<unsigned>(H)),
                        kChunkThreads, 0, ctx.stream()>>>(a, static_cast<int>(nc));
    YOCO_CUDA_CHECK_LAUNCH();
    chunk_inter_kernel<<<grid, kChunkThreads, smem_c, ctx.stream()>>>(a);
    YOCO_CUDA_CHECK_LAUNCH();
  }
}

}  // namespace yoco::kernels::cuda
