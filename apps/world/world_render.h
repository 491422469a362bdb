// WorldRenderer: draws frame k of a scenario (pts k / fps) with OpenCV: a dark grey background with seeded
// luminance noise, the visible objects (filled square / circle / triangle in their colour), the visible codes
// (boxed: black digits on a white box; distractors: yellow digits, no box) and, during a flash, the whole frame
// pulled halfway to white.
//
// Deterministic: frame k depends only on the scenario and k. Const after construction; render() may be called
// concurrently on separate output buffers. Throws yoco::Error at construction when built without OpenCV.
#pragma once

#include <cstdint>
#include <vector>

#include "apps/world/world_scenario.h"

namespace yoco::world {

class WorldRenderer {
 public:
  explicit WorldRenderer(const Scenario& scenario);
  // Writes packed RGB24, row-major [height, width * 3], into `rgb` (height * width * 3 bytes).
  void render(int64_t frame, uint8_t* rgb) const;
  static bool available();  // built with OpenCV

 private:
  const Scenario& sc_;
  std::vector<std::vector<uint8_t>> noise_;  // a few pre-made noisy backgrounds, picked per frame
};

}  // namespace yoco::world
