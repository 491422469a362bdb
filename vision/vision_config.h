// The `vision` block of config.json (docs/MODEL-FORMAT.md, "vision"): plain data, const after parsing.
// from_json() rejects a missing or inconsistent field with a yoco::Error naming it.
#pragma once

#include <array>
#include <cstdint>

#include <nlohmann/json.hpp>

namespace yoco::vision {

struct VisionConfig {
  int image_size = 0;        // S: frames are letterboxed into an S × S square
  int patch_size = 0;        // p: S % p == 0; the patch grid is g × g, g = S / p
  int width = 0;             // encoder width W
  int n_layers = 0;          // transformer blocks
  int n_heads = 0;           // W % n_heads == 0
  int mlp_dim = 0;           // SwiGLU inner width
  int tokens_per_frame = 0;  // T = t², t <= g: adaptive average pooling of the g × g grid to t × t
  int proj_dim = 0;          // projector hidden width
  int lm_dim = 0;            // projector output width; must equal the LM `dim`
  float norm_eps = 1e-6f;
  std::array<float, 3> mean{0.5f, 0.5f, 0.5f};  // per channel, on values in [0, 1]
  std::array<float, 3> std{0.5f, 0.5f, 0.5f};
  std::array<int, 3> pad_rgb{0, 0, 0};  // letterbox colour, 0..255
  // The patch embedding also reads the frame's difference from the previous frame of its stream (tensor
  // vision.motion_embed.weight, docs/VISION.md "Motion input"); optional, default false.
  bool motion = false;

  int grid() const { return image_size / patch_size; }
  int n_patches() const { return grid() * grid(); }
  int patch_dim() const { return 3 * patch_size * patch_size; }
  int head_dim() const { return width / n_heads; }
  int pool_grid() const;  // t = sqrt(T)

  static VisionConfig from_json(const nlohmann::json& j);  // throws yoco::Error naming the bad field
  nlohmann::json to_json() const;
  void validate() const;
};

}  // namespace yoco::vision
