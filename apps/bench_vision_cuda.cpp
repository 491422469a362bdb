#include "apps/bench_vision_cuda.h"

#include <algorithm>
#include <cmath>

#include "kernels/cuda/device.h"
#include "vision/device_encoder.h"

namespace yoco::app {

DeviceVisionTiming time_vision_cuda(const vision::VisionEncoder& enc, const std::vector<float>& images, int batch,
                                    int reps) {
  kernels::cuda::ContextOptions co;
  co.scratch_bytes = size_t{256} << 20;
  kernels::cuda::Context ctx(co);
  vision::DeviceVisionEncoder dev(enc, ctx, batch);
  const auto& c = enc.config();
  const size_t per_frame = static_cast<size_t>(c.tokens_per_frame) * c.lm_dim;
  std::vector<float> out(per_frame * static_cast<size_t>(batch)), want(per_frame);
  DeviceVisionTiming t;
  t.batch = time_it(3, reps, [&] { dev.encode_images(images.data(), batch, out.data()); });
  t.device_bytes = dev.device_bytes();
  auto scratch = enc.make_scratch();
  enc.encode_image(images.data(), want.data(), scratch);
  double num = 0, den = 0;
  for (size_t i = 0; i < per_frame; ++i) {
    num = std::max(num, std::fabs(static_cast<double>(out[i]) - want[i]));
    den = std::max(den, std::fabs(static_cast<double>(want[i])));
  }
  t.max_rel_err = static_cast<float>(den > 0 ? num / den : num);
  return t;
}

}  // namespace yoco::app
