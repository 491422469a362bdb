// DeviceVisionEncoder: vision/encoder.h's forward pass on an NVIDIA GPU (built only with the CUDA backend),
// batched over frames: preprocessed images [F, 3, S, S] → [F·T, lm_dim] embeddings on the device, ready for the
// LM on the same device (or copied back). The same steps in the same order as VisionEncoder::encode_image, on
// the ops of kernels/cuda/ops_cuda.h: im2col, patch GEMM onto the position table, per block RMSNorm → q, k, v
// GEMMs → bidirectional attention per frame (the CPU's trick: queries at position N−1, keys at 0..N−1, so
// nothing is masked) → out GEMM (residual), RMSNorm → SwiGLU MLP (residual); final RMSNorm, adaptive average
// pooling, fc1 → exact GELU → fc2. f32 weights and activations (parity with the CPU to f32 rounding; TF32 only if
// the Context allows it). Buffers for `max_frames` frames and pinned staging are claimed at construction; encode
// does not allocate. Not thread safe (one encoder per stream of work); the weights could be shared later.
//
// Status: compiled, not yet run on a device (tests/cuda/test_vision.cpp compares it with the CPU encoder and
// skips without a GPU; tools/cuda-check.sh runs it).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/cuda/device.h"
#include "vision/encoder.h"

namespace yoco::vision {

class DeviceVisionEncoder {
 public:
  // Throws yoco::Error when max_frames is outside 1..4096 or the head size exceeds the attention kernel's 256.
  DeviceVisionEncoder(const VisionEncoder& host, kernels::cuda::Context& ctx, int max_frames = 32);
  ~DeviceVisionEncoder();
  DeviceVisionEncoder(const DeviceVisionEncoder&) = delete;
  DeviceVisionEncoder& operator=(const DeviceVisionEncoder&) = delete;

  const VisionConfig& config() const { return cfg_; }
  int max_frames() const { return max_frames_; }

  // Motion models: the next frame has no previous one (a stream starts or jumps). As VisionScratch, the
  // encoder keeps the last image of each call as the previous image of the next call's first frame.
  void reset_motion() { has_prev_ = false; }

  // images: host [frames, 3, S, S] (Preprocessor output, frame after frame; for a motion model consecutive
  // frames of one stream, each read as the next one's previous image). Returns the device embeddings
  // [frames·T, lm_dim], valid until the next call; enqueued on the context's stream (not synchronised).
  // Throws yoco::Error for a null pointer or frames outside 1..max_frames.
  const float* encode_images(const float* images, int frames);
  // The same, then copies the result to host `out` ([frames·T, lm_dim]) and waits for it.
  void encode_images(const float* images, int frames, float* out);

  size_t device_bytes() const { return bytes_; }

 private:
  const float* upload(const float* host, int64_t n);
  float* claim(int64_t n);

  VisionConfig cfg_;
  kernels::cuda::Context& ctx_;
  int max_frames_;
  struct Block {
    const float *norm1, *q, *k, *v, *out, *norm2, *gate, *up, *down;
  };
  const float* motion_embed_ = nullptr;  // motion models only
  std::vector<float> prev_;              // motion models: the last image encoded (host)
  bool has_prev_ = false;
  const float *patch_embed_ = nullptr, *pos_embed_ = nullptr, *norm_ = nullptr, *fc1_ = nullptr, *fc2_ = nullptr;
  std::vector<Block> blocks_;
  float *images_ = nullptr, *patches_ = nullptr, *x_ = nullptr, *xn_ = nullptr, *q_ = nullptr, *k_ = nullptr,
        *v_ = nullptr, *att_ = nullptr, *gate_ = nullptr, *up_ = nullptr, *pooled_ = nullptr, *hidden_ = nullptr,
        *out_ = nullptr;
  const void** k_pages_ = nullptr;  // device: frame f's keys at k_ + f·N·W (one page per frame)
  const void** v_pages_ = nullptr;
  float* staging_ = nullptr;        // pinned host, max_frames images
  std::vector<kernels::cuda::DeviceBuffer<char>> storage_;
  size_t bytes_ = 0;
};

}  // namespace yoco::vision
