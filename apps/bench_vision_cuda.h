// `yoco bench vision --device cuda` (apps/bench_vision_cuda.cpp), linked only when the CUDA backend is built
// (YOCO_APP_HAVE_CUDA): the device encoder's time per batch of preprocessed frames.
#pragma once

#include <cstddef>
#include <vector>

#include "apps/bench_util.h"
#include "vision/encoder.h"

namespace yoco::app {

struct DeviceVisionTiming {
  Stat batch;  // seconds per batch, host images in → device embeddings done (synchronised)
  size_t device_bytes = 0;
  float max_rel_err = 0;  // the device output of the first frame vs the CPU encoder's
};

// images: `batch` preprocessed [3, S, S] images back to back (host).
DeviceVisionTiming time_vision_cuda(const vision::VisionEncoder& enc, const std::vector<float>& images, int batch,
                                    int reps);

}  // namespace yoco::app
