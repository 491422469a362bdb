// yoco world: one synthetic video (H.264 MP4) and its ground truth (event log + questions with canonical
// answers), deterministic per seed. The training code calls this binary (tools/world/README.md).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/args.h"
#include "apps/command.h"
#include "apps/world/world_qa.h"
#include "apps/world/world_render.h"
#include "apps/world/world_scenario.h"
#include "apps/world/world_video.h"
#include "kernels/error.h"

namespace yoco::app {

namespace {

void parse_size(const std::string& s, int& w, int& h) {
  const size_t x = s.find('x');
  size_t used_w = 0, used_h = 0;
  long long lw = -1, lh = -1;
  try {
    if (x != std::string::npos) {
      lw = std::stoll(s.substr(0, x), &used_w);
      lh = std::stoll(s.substr(x + 1), &used_h);
    }
  } catch (const std::exception&) {
    lw = lh = -1;
  }
  YOCO_REQUIRE(x != std::string::npos && used_w == x && used_h == s.size() - x - 1 && lw > 0 && lh > 0,
               "--size must be WIDTHxHEIGHT (e.g. 128x128), got '" + s + "'");
  YOCO_REQUIRE(lw <= 4096 && lh <= 4096,
               "--size must be between 32x32 and 4096x4096, got " + s);
  w = static_cast<int>(lw);
  h = static_cast<int>(lh);
}

int run_world(const std::vector<std::string>& args) {
  ArgParser ap("world",
               "yoco world --seed S --seconds T --out FILE.mp4 --truth FILE.json [--size WxH] [--fps F]\n"
               "                  [--needle-code DIGITS [--needle-at SECONDS] | --no-code] [--distractors N]",
               "Writes one synthetic video (shapes entering, moving and leaving, codes, flashes, noise) as H.264\n"
               "MP4 and its truth as JSON {events, qa: [{at, type, question, answer}]}; the same seed gives the\n"
               "same truth and the same frames. Prints one JSON line: files, codec, frames, speed.");
  ap.option("seed", "S", "random seed (non-negative integer)", "0");
  ap.option("seconds", "T", "video length in seconds", "30");
  ap.option("out", "FILE.mp4", "video to write");
  ap.option("truth", "FILE.json", "truth to write (events and questions)");
  ap.option("size", "WxH", "frame size, even numbers", "128x128");
  ap.option("fps", "F", "frames per second encoded", "4");
  ap.option("needle-code", "DIGITS", "needle test: show this code once, in a white box");
  ap.option("needle-at", "SECONDS", "needle test: when the needle code appears (whole second; default random)");
  ap.option("distractors", "N", "needle test: look-alike codes (one digit changed), yellow, no box", "0");
  ap.flag("no-code", "needle test control: no code in a white box (distractors still shown)");
  ap.flag("mpeg4", "encode with FFmpeg's mpeg4 instead of libx264");
  ap.flag("json", "machine-readable output (the default for this command)");
  if (!ap.parse(args)) return 0;

  world::WorldOptions o;
  const long long seed = ap.get_int("seed");
  YOCO_REQUIRE(seed >= 0, "--seed must be a non-negative integer, got " + std::to_string(seed));
  o.seed = static_cast<uint64_t>(seed);
  o.seconds = ap.get_double("seconds");
  o.fps = ap.get_double("fps");
  parse_size(ap.get("size"), o.width, o.height);
  o.needle_code = ap.get_opt("needle-code");
  if (ap.get_opt("needle-at")) {
    o.needle_at = ap.get_double("needle-at");
    YOCO_REQUIRE(o.needle_at >= 0.0, "--needle-at must be >= 0, got " + ap.get("needle-at"));
  }
  o.distractors = static_cast<int>(std::clamp<long long>(ap.get_int("distractors"), -1, 1000));
  o.no_code = ap.has("no-code");
  const std::string out = ap.get("out"), truth_path = ap.get("truth");
  YOCO_REQUIRE(world::WorldRenderer::available(),
               "yoco world needs OpenCV (core, imgproc) and this build has none");

  const auto t0 = std::chrono::steady_clock::now();
  const world::Scenario sc = world::make_scenario(o);
  const auto qa = world::make_qa(sc);
  std::ofstream truth(truth_path, std::ios::trunc);  // opened first: fail before encoding anything
  YOCO_REQUIRE(truth.good(), "cannot write " + truth_path);

  world::VideoWriterOptions vo;
  vo.width = o.width;
  vo.height = o.height;
  vo.fps = o.fps;
  vo.gop_seconds = 2.0;
  vo.force_mpeg4 = ap.has("mpeg4");
  world::WorldVideoWriter writer(out, vo);
  const world::WorldRenderer renderer(sc);
  std::vector<uint8_t> rgb(static_cast<size_t>(o.width) * o.height * 3);
  for (int64_t k = 0; k < sc.n_frames; ++k) {
    renderer.render(k, rgb.data());
    writer.write(rgb.data());
  }
  writer.finish();
  truth << world::truth_json(sc, qa).dump(1) << "\n";
  truth.close();
  YOCO_REQUIRE(truth.good(), "cannot write " + truth_path);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  nlohmann::ordered_json j;
  j["video"] = out;
  j["truth"] = truth_path;
  j["codec"] = writer.codec();
  j["frames"] = sc.n_frames;
  j["seconds"] = o.seconds;
  j["events"] = sc.events.size();
  j["qa"] = qa.size();
  j["wall_s"] = wall;
  j["video_s_per_wall_s"] = wall > 0 ? o.seconds / wall : 0.0;
  std::printf("%s\n", j.dump().c_str());
  return 0;
}

}  // namespace

YOCO_COMMAND("world", "synthetic video + ground-truth questions for training (MP4 + JSON)", run_world);

}  // namespace yoco::app
