// VisionEncoder: one RGB24 frame → T embeddings at the LM width, [T, dim] row-major (docs/VISION.md).
//
//   letterbox + normalise (Preprocessor) → patches [N, 3·p·p] (channel, row, col order = a conv weight
//   [W, 3, p, p] flattened) → x = patches · patch_embedᵀ + pos_embed (+ patches(image − previous image) ·
//   motion_embedᵀ for a `motion` model) → n_layers × pre-norm blocks
//   (x += attn(rmsnorm(x)); x += swiglu_mlp(rmsnorm(x)); attention bidirectional over all N patches)
//   → rmsnorm → adaptive-average-pool the g × g grid to t × t = T tokens → projector fc2(gelu(fc1(·))) → [T, dim].
// No biases anywhere. Same arithmetic as tools/vision/vision_ref.py (parity ≤ 1e-4 relative, fp32).
//
// Bidirectional attention runs on kernels::attention (causal) with q_pos0 = N − 1 and keys at 0 .. N − 1:
// every query's position is ≥ every key's, so nothing is masked.
//
// Motion models (config `motion`) read the previous image of the stream, which the VisionScratch keeps: feed one
// stream's frames in order through one scratch, and call reset_motion() where a stream starts anew or jumps
// (a discontinuity); the first frame after construction or a reset has a zero motion input.
// Thread safety: const after construction; concurrent encode() calls need separate VisionScratch objects.
// Weights are read in place from the safetensors mapping when they are aligned f32 (copied otherwise):
// the Model / SafeTensors given to the constructor must outlive the encoder.
// The encoder knows nothing of sessions or caches: the caller feeds `out` to Session::prefill_embeddings.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "vision/preprocess.h"
#include "vision/vision_config.h"

namespace yoco::llm {
class Model;
class SafeTensors;
}  // namespace yoco::llm

namespace yoco::vision {

// Per-caller activations, sized once from the config; encode() does not allocate.
class VisionScratch {
 public:
  explicit VisionScratch(const VisionConfig& cfg);
  Preprocessor& preprocessor() { return pre_; }
  // The next frame has no previous one (motion models; a no-op otherwise).
  void reset_motion() { has_prev_ = false; }
  bool has_previous() const { return has_prev_; }

 private:
  friend class VisionEncoder;
  Preprocessor pre_;
  std::vector<float> patches_;  // [N, 3·p·p]
  std::vector<float> x_, xn_;   // [N, W]
  std::vector<float> q_, k_, v_, att_;  // [N, W]
  std::vector<float> gate_, up_;  // [N, mlp_dim]
  std::vector<float> pooled_;     // [T, W]
  std::vector<float> hidden_;     // [T, proj_dim]
  std::vector<float> prev_;       // motion models: the previous image [3, S, S]; empty otherwise
  bool has_prev_ = false;
};

class VisionEncoder {
 public:
  // From a loaded model: its config's `vision` block and the `vision.*` tensors of model.safetensors.
  // Throws yoco::Error when the model has no vision block, lm_dim != dim, or a tensor is missing, misshaped
  // or not finite (the message names the tensor).
  explicit VisionEncoder(const llm::Model& model);
  // From a `vision` JSON block and a safetensors file (lm_dim is taken from the block).
  VisionEncoder(const nlohmann::json& vision, const llm::SafeTensors& tensors);

  const VisionConfig& config() const { return cfg_; }
  int tokens_per_frame() const { return cfg_.tokens_per_frame; }
  int out_dim() const { return cfg_.lm_dim; }
  VisionScratch make_scratch() const { return VisionScratch(cfg_); }

  // rgb: RGB24, height rows of 3·width bytes at `stride` bytes. out: [T, lm_dim]. Throws yoco::Error on bad
  // input (null pointer, non-positive size, stride < 3·width) or a scratch built for another config.
  void encode(const uint8_t* rgb, int width, int height, int stride, float* out, VisionScratch& scratch) const;
  // The same from an already preprocessed [3, S, S] image (tests, and callers that preprocess elsewhere);
  // a motion model takes the previous image from, and leaves this one in, the scratch as encode() does.
  void encode_image(const float* image, float* out, VisionScratch& scratch) const;

  // Every tensor name and shape the config requires, in a fixed order (docs/MODEL-FORMAT.md, "Vision tensors").
  static std::vector<std::pair<std::string, std::vector<int64_t>>> expected_tensors(const VisionConfig& cfg);

  // The f32 weights (host memory, valid while the encoder lives): what vision/device_encoder.h uploads.
  struct Block {
    const float *norm1, *qkv, *out, *norm2, *gate, *up, *down;  // qkv: [3W, W], q then k then v rows
  };
  struct Weights {
    const float *patch_embed, *pos_embed, *norm, *proj_fc1, *proj_fc2;
    std::vector<Block> blocks;
    const float* motion_embed;  // [W, 3·p·p]; null unless config().motion
  };
  Weights weights() const {
    return {patch_embed_, pos_embed_, norm_, proj_fc1_, proj_fc2_, blocks_, motion_embed_};
  }

 private:
  void load(const llm::SafeTensors& st);
  const float* tensor(const llm::SafeTensors& st, const std::string& name, const std::vector<int64_t>& shape);

  VisionConfig cfg_;
  const float* patch_embed_ = nullptr;  // [W, 3·p·p]
  const float* motion_embed_ = nullptr;  // [W, 3·p·p], motion models only
  const float* pos_embed_ = nullptr;    // [N, W]
  std::vector<Block> blocks_;
  const float* norm_ = nullptr;  // [W]
  const float* proj_fc1_ = nullptr;  // [proj_dim, W]
  const float* proj_fc2_ = nullptr;  // [lm_dim, proj_dim]
  std::vector<std::unique_ptr<std::vector<float>>> owned_;  // converted copies of non-f32 / unaligned tensors
};

// The time tag a frame enters the stream with: "[mm:ss]" below an hour, "[h:mm:ss]" from an hour on
// (seconds truncated). Throws yoco::Error for a negative or non-finite pts.
std::string format_time_tag(double pts_seconds);

}  // namespace yoco::vision
