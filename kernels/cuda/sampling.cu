// Argmax on the device (two passes: per-block candidates, then one block over the candidates) and the
// DeviceSampler that reproduces kernels::Sampler's draws.
#include <algorithm>
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops_cuda.h"

namespace yoco::kernels::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kMaxBlocks = 256;

// A candidate (value, index); index < 0 means none (every value seen was NaN). The order is total: a valid
// candidate beats none, a larger value wins, equal values go to the lower index, so the result does not
// depend on the reduction order.
struct Cand {
  float v;
  int64_t i;
};
__device__ __forceinline__ Cand better(Cand a, Cand b) {
  if (a.i < 0) return b;
  if (b.i < 0) return a;
  if (a.v > b.v || (a.v == b.v && a.i < b.i)) return a;
  return b;
}

__device__ Cand block_best(Cand c) {
  for (int o = detail::kWarp / 2; o > 0; o >>= 1) {
    Cand other{__shfl_xor_sync(0xffffffffu, c.v, o), __shfl_xor_sync(0xffffffffu, c.i, o)};
    c = better(c, other);
  }
  __shared__ Cand warp_best[kThreads / detail::kWarp];
  if (threadIdx.x % detail::kWarp == 0) warp_best[threadIdx.x / detail::kWarp] = c;
  __syncthreads();
  Cand best{0.0f, -1};
  if (threadIdx.x == 0)
    for (int w = 0; w < kThreads / detail::kWarp; ++w) best = better(best, warp_best[w]);
  return best;  // valid in thread 0
}

__global__ void argmax_partial(const float* x, int64_t n, float* pv, int64_t* pi) {
  Cand c{0.0f, -1};
  for (int64_t i = blockIdx.x * static_cast<int64_t>(kThreads) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * kThreads)
    if (!isnan(x[i])) c = better(c, Cand{x[i], i});
  c = block_best(c);
  if (threadIdx.x == 0) pv[blockIdx.x] = c.v, pi[blockIdx.x] = c.i;
}

__global__ void argmax_final(const float* pv, const int64_t* pi, int n_partial, int32_t* out) {
  Cand c{0.0f, -1};
  for (int i = threadIdx.x; i < n_partial; i += kThreads) c = better(c, Cand{pv[i], pi[i]});
  c = block_best(c);
  if (threadIdx.x == 0) *out = c.i < 0 ? 0 : static_cast<int32_t>(c.i);
}

}  // namespace

void argmax(Context& ctx, const float* x, int64_t n, int32_t* out) {
  ScratchScope scope(ctx.scratch());
  const int blocks = static_cast<int>(
      std::clamp<int64_t>(detail::ceil_div(std::max<int64_t>(n, 1), kThreads), 1, kMaxBlocks));
  float* pv = ctx.scratch().claim_n<float>(blocks);
  int64_t* pi = ctx.scratch().claim_n<int64_t>(blocks);
  argmax_partial<<<blocks, kThreads, 0, ctx.stream()>>>(x, n, pv, pi);
  YOCO_CUDA_CHECK_LAUNCH();
  argmax_final<<<1, kThreads, 0, ctx.stream()>>>(pv, pi, blocks, out);
  YOCO_CUDA_CHECK_LAUNCH();
}

int argmax(Context& ctx, const float* x, int64_t n) {
  ScratchScope scope(ctx.scratch());
  int32_t* d = ctx.scratch().claim_n<int32_t>(1);
  argmax(ctx, x, n, d);
  int32_t h = 0;
  YOCO_CUDA_CHECK(cudaMemcpyAsync(&h, d, sizeof(h), cudaMemcpyDeviceToHost, ctx.stream()));
  ctx.synchronize();
  return h;
}

DeviceSampler::DeviceSampler(Context& ctx, const SamplingParams& params, int64_t max_vocab)
    : ctx_(ctx), sampler_(params), max_vocab_(max_vocab), index_(1) {
  YOCO_REQUIRE(max_vocab > 0, "DeviceSampler: max_vocab must be positive");
  YOCO_CUDA_CHECK(
      cudaMallocHost(reinterpret_cast<void**>(&host_), static_cast<size_t>(max_vocab) * sizeof(float)));
  YOCO_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&host_index_), sizeof(int32_t)));
}

DeviceSampler::~DeviceSampler() {
  if (host_) cudaFreeHost(host_);
  if (host_index_) cudaFreeHost(host_index_);
}

int DeviceSampler::sample(const float* logits, int64_t vocab, std::span<const int32_t> history) {
  YOCO_REQUIRE(vocab > 0 && vocab <= max_vocab_, "DeviceSampler: vocab larger than max_vocab");
  const SamplingParams& sp = sampler_.params();
  const bool penalty = sp.repetition_penalty != 1.0f && sp.repetition_window > 0 && !history.empty();
  if ((sp.greedy || !(sp.temperature > 0.0f)) && !penalty) {
    argmax(ctx_, logits, vocab, index_.data());
    YOCO_CUDA_CHECK(
        cudaMemcpyAsync(host_index_, index_.data(), sizeof(int32_t), cudaMemcpyDeviceToHost, ctx_.stream()));
    ctx_.synchronize();
    return *host_index_;
  }
  YOCO_CUDA_CHECK(cudaMemcpyAsync(host_, logits, static_cast<size_t>(vocab) * sizeof(float),
                                  cudaMemcpyDeviceToHost, ctx_.stream()));
  ctx_.synchronize();
  return sampler_.sample(host_, vocab, history);
}

}  // namespace yoco::kernels::cuda
