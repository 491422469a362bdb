#include "vision/device_encoder.h"

#include <cuda_runtime.h>

#include <cmath>
#include <cstring>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/ops_cuda.h"
#include "kernels/error.h"

namespace yoco::vision {

namespace kc = kernels::cuda;

float* DeviceVisionEncoder::claim(int64_t n) {
  storage_.emplace_back(static_cast<size_t>(n) * sizeof(float));
  bytes_ += static_cast<size_t>(n) * sizeof(float);
  return reinterpret_cast<float*>(storage_.back().data());
}

const float* DeviceVisionEncoder::upload(const float* host, int64_t n) {
  float* d = claim(n);
  YOCO_CUDA_CHECK(cudaMemcpy(d, host, static_cast<size_t>(n) * sizeof(float), cudaMemcpyHostToDevice));
  return d;
}

DeviceVisionEncoder::DeviceVisionEncoder(const VisionEncoder& host, kc::Context& ctx, int max_frames)
    : cfg_(host.config()), ctx_(ctx), max_frames_(max_frames) {
  YOCO_REQUIRE(max_frames >= 1 && max_frames <= 4096, "device vision encoder: max_frames must be in 1..4096");
  YOCO_REQUIRE(cfg_.head_dim() <= 256, "device vision encoder: head size above 256 is not supported");
  const int64_t N = cfg_.n_patches(), W = cfg_.width, P = cfg_.patch_dim(), M = cfg_.mlp_dim;
  const int64_t T = cfg_.tokens_per_frame, PD = cfg_.proj_dim, D = cfg_.lm_dim, S = cfg_.image_size;
  const VisionEncoder::Weights w = host.weights();
  patch_embed_ = upload(w.patch_embed, W * P);
  if (cfg_.motion) {
    motion_embed_ = upload(w.motion_embed, W * P);
    prev_.assign(static_cast<size_t>(3 * S * S), 0.0f);
  }
  pos_embed_ = upload(w.pos_embed, N * W);
  norm_ = upload(w.norm, W);
  fc1_ = upload(w.proj_fc1, PD * W);
  fc2_ = upload(w.proj_fc2, D * PD);
  for (const auto& b : w.blocks) {
    const float* qkv = upload(b.qkv, 3 * W * W);
    blocks_.push_back({upload(b.norm1, W), qkv, qkv + W * W, qkv + 2 * W * W, upload(b.out, W * W),
                       upload(b.norm2, W), upload(b.gate, M * W), upload(b.up, M * W), upload(b.down, W * M)});
  }
  const int64_t F = max_frames;
  images_ = claim((cfg_.motion ? 2 : 1) * F * 3 * S * S);  // motion models: the differences follow the images
  patches_ = claim(F * N * P);
  x_ = claim(F * N * W);
  xn_ = claim(F * N * W);
  q_ = claim(F * N * W);
  k_ = claim(F * N * W);
  v_ = claim(F * N * W);
  att_ = claim(F * N * W);
  gate_ = claim(F * N * M);
  up_ = claim(F * N * M);
  pooled_ = claim(F * T * W);
  hidden_ = claim(F * T * PD);
  out_ = claim(F * T * D);
  std::vector<const void*> kp(static_cast<size_t>(F)), vp(static_cast<size_t>(F));
  for (int64_t f = 0; f < F; ++f) {
    kp[static_cast<size_t>(f)] = k_ + f * N * W;
    vp[static_cast<size_t>(f)] = v_ + f * N * W;
  }
  storage_.emplace_back(2 * kp.size() * sizeof(void*));
  bytes_ += 2 * kp.size() * sizeof(void*);
  k_pages_ = reinterpret_cast<const void**>(storage_.back().data());
  v_pages_ = k_pages_ + F;
  YOCO_CUDA_CHECK(cudaMemcpy(k_pages_, kp.data(), kp.size() * sizeof(void*), cudaMemcpyHostToDevice));
  YOCO_CUDA_CHECK(cudaMemcpy(v_pages_, vp.data(), vp.size() * sizeof(void*), cudaMemcpyHostToDevice));
  YOCO_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&staging_),
                                 static_cast<size_t>((cfg_.motion ? 2 : 1) * F * 3 * S * S) * sizeof(float)));
}

DeviceVisionEncoder::~DeviceVisionEncoder() {
  if (staging_) {
    cudaStreamSynchronize(ctx_.stream());  // a pending copy may still read the staging buffer
    cudaFreeHost(staging_);
  }
}

const float* DeviceVisionEncoder::encode_images(const float* images, int frames) {
  YOCO_REQUIRE(images != nullptr, "device vision encoder: null images");
  YOCO_REQUIRE(frames >= 1 && frames <= max_frames_,
               "device vision encoder: " + std::to_string(frames) + " frames, at most " + std::to_string(max_frames_));
  const int S = cfg_.image_size, p = cfg_.patch_size, g = cfg_.grid(), H = cfg_.n_heads;
  const int64_t N = cfg_.n_patches(), W = cfg_.width, P = cfg_.patch_dim(), M = cfg_.mlp_dim;
  const int64_t T = cfg_.tokens_per_frame, PD = cfg_.proj_dim, D = cfg_.lm_dim, F = frames, R = F * N;
  const int64_t plane3 = 3 * static_cast<int64_t>(S) * S;
  const size_t image_bytes = static_cast<size_t>(F * plane3) * sizeof(float);
  // The previous call's copy may still read the staging buffer: wait for the stream before refilling it.
  ctx_.synchronize();
  std::memcpy(staging_, images, image_bytes);
  if (cfg_.motion) {  // differences from each frame's predecessor (zero for a stream's first frame), on the host
    float* diff = staging_ + F * plane3;
    for (int64_t f = 0; f < F; ++f) {
      const float* cur = images + f * plane3;
      const float* prev = f > 0 ? images + (f - 1) * plane3 : (has_prev_ ? prev_.data() : cur);
      for (int64_t i = 0; i < plane3; ++i) diff[f * plane3 + i] = cur[i] - prev[i];
    }
    std::memcpy(prev_.data(), images + (F - 1) * plane3, sizeof(float) * static_cast<size_t>(plane3));
    has_prev_ = true;
  }
  const size_t upload_bytes = (cfg_.motion ? 2 : 1) * image_bytes;
  YOCO_CUDA_CHECK(cudaMemcpyAsync(images_, staging_, upload_bytes, cudaMemcpyHostToDevice, ctx_.stream()));

  kc::patchify(ctx_, images_, F, S, p, patches_);
  kc::broadcast_rows(ctx_, pos_embed_, N, W, F, x_);
  kc::matmul_wt(ctx_, patches_, P, patch_embed_, x_, W, R, W, P, 1.0f);
  if (cfg_.motion) {  // the same patches buffer, after the GEMM that read it (one stream: in order)
    kc::patchify(ctx_, images_ + F * plane3, F, S, p, patches_);
    kc::matmul_wt(ctx_, patches_, P, motion_embed_, x_, W, R, W, P, 1.0f);
  }
  kernels::AttentionParams ap{H, 1.0f / std::sqrt(static_cast<float>(cfg_.head_dim())), 0};
  for (const Block& b : blocks_) {
    kc::rmsnorm(ctx_, x_, W, b.norm1, xn_, W, R, W, cfg_.norm_eps);
    kc::matmul_wt(ctx_, xn_, W, b.q, q_, W, R, W, W);
    kc::matmul_wt(ctx_, xn_, W, b.k, k_, W, R, W, W);
    kc::matmul_wt(ctx_, xn_, W, b.v, v_, W, R, W, W);
    for (int64_t f = 0; f < F; ++f) {
      kc::DeviceKvSpan kv;
      kv.k_pages = k_pages_ + f;
      kv.v_pages = v_pages_ + f;
      kv.n_pages = 1;
      kv.page_tokens = static_cast<int>(N);
      kv.n_tokens = N;
      kv.dtype = kernels::DType::F32;
      kv.n_kv_heads = H;
      kv.head_dim = cfg_.head_dim();
      kv.pos0 = 0;
      kc::attention(ctx_, q_ + f * N * W, W, N, N - 1, kv, ap, att_ + f * N * W, W);
    }
    kc::matmul_wt(ctx_, att_, W, b.out, x_, W, R, W, W, 1.0f);
    kc::rmsnorm(ctx_, x_, W, b.norm2, xn_, W, R, W, cfg_.norm_eps);
    kc::matmul_wt(ctx_, xn_, W, b.gate, gate_, M, R, M, W);
    kc::matmul_wt(ctx_, xn_, W, b.up, up_, M, R, M, W);
    kc::swiglu(ctx_, gate_, M, up_, M, gate_, M, R, M);
    kc::matmul_wt(ctx_, gate_, M, b.down, x_, W, R, W, M, 1.0f);
  }
  kc::rmsnorm(ctx_, x_, W, norm_, xn_, W, R, W, cfg_.norm_eps);
  kc::adaptive_avg_pool(ctx_, xn_, F, g, cfg_.pool_grid(), W, pooled_);
  kc::matmul_wt(ctx_, pooled_, W, fc1_, hidden_, PD, F * T, PD, W);
  kc::gelu_inplace(ctx_, hidden_, F * T * PD);
  kc::matmul_wt(ctx_, hidden_, PD, fc2_, out_, D, F * T, D, PD);
  return out_;
}

void DeviceVisionEncoder::encode_images(const float* images, int frames, float* out) {
  YOCO_REQUIRE(out != nullptr, "device vision encoder: null output");
  const float* d = encode_images(images, frames);
  const size_t n = static_cast<size_t>(frames) * cfg_.tokens_per_frame * cfg_.lm_dim;
  YOCO_CUDA_CHECK(cudaMemcpyAsync(out, d, n * sizeof(float), cudaMemcpyDeviceToHost, ctx_.stream()));
  ctx_.synchronize();
}

}  // namespace yoco::vision
