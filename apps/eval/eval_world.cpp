#include "apps/eval/eval_world.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "apps/world/world_render.h"
#include "apps/world/world_video.h"
#include "kernels/error.h"

namespace yoco::eval {

WorldClip write_world_clip(const world::WorldOptions& options, const std::string& dir,
                           const std::string& name) {
  YOCO_REQUIRE(world::WorldRenderer::available(),
               "yoco eval needs OpenCV (core, imgproc) and this build has none");
  const auto t0 = std::chrono::steady_clock::now();
  WorldClip clip;
  clip.options = options;
  clip.video = (std::filesystem::path(dir) / (name + ".mp4")).string();
  clip.truth = (std::filesystem::path(dir) / (name + ".json")).string();
  const world::Scenario sc = world::make_scenario(options);
  clip.qa = world::make_qa(sc);
  clip.last_pts = sc.last_pts();
  clip.frames = sc.n_frames;
  clip.events = world::summarize(sc, -1.0, options.seconds + 1.0);
  for (const auto& c : sc.codes)
    if (c.boxed && options.needle_mode()) {
      clip.needle = c.digits;
      clip.needle_at = c.start;
    }
  {
    world::VideoWriterOptions vo;
    vo.width = options.width;
    vo.height = options.height;
    vo.fps = options.fps;
    world::WorldVideoWriter writer(clip.video, vo);
    const world::WorldRenderer renderer(sc);
    std::vector<uint8_t> rgb(static_cast<size_t>(options.width) * options.height * 3);
    for (int64_t k = 0; k < sc.n_frames; ++k) {
      renderer.render(k, rgb.data());
      writer.write(rgb.data());
    }
    writer.finish();
  }
  std::ofstream truth(clip.truth, std::ios::trunc);
  truth << world::truth_json(sc, clip.qa).dump(1) << "\n";
  truth.close();
  YOCO_REQUIRE(truth.good(), "cannot write " + clip.truth);
  clip.write_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return clip;
}

double needle_time(double seconds, double depth) {
  return std::floor(std::clamp(depth, 0.0, 1.0) * (seconds - world::kCodeSeconds) + 1e-9);
}

world::WorldOptions needle_options(uint64_t seed, double seconds, double depth, const std::string& code,
                                   int distractors, bool absent) {
  world::WorldOptions o;
  o.seed = seed;
  o.seconds = seconds;
  o.distractors = distractors;
  if (absent) {
    o.no_code = true;
  } else {
    o.needle_code = code;
    o.needle_at = needle_time(seconds, depth);
  }
  world::validate(o);
  return o;
}

std::string needle_code_for(uint64_t seed) {
  world::Rng rng(seed * 0x9E3779B97F4A7C15ULL + 17);
  std::string s;
  for (int i = 0; i < 4; ++i) s += static_cast<char>('0' + rng.uniform_int(i == 0 ? 1 : 0, 9));
  return s;
}

}  // namespace yoco::eval
