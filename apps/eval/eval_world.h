// World clips for `yoco eval`: a synthetic video (apps/world/) written to MP4 in-process, its truth JSON
// beside it, and the questions with their canonical answers; plus the options of the streaming needle test.
//
// Evaluation seeds must stay below kFirstTrainingSeed: training draws its worlds from there on, so a seed
// under it is a world the model has never seen.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "apps/world/world_qa.h"
#include "apps/world/world_scenario.h"

namespace yoco::eval {

inline constexpr uint64_t kFirstTrainingSeed = 100000;

struct WorldClip {
  std::string video, truth;  // files written
  world::WorldOptions options;
  std::vector<world::QaItem> qa;      // sorted by `at`
  double last_pts = 0;                // pts of the last frame
  int64_t frames = 0;                 // frames encoded (at options.fps)
  std::optional<std::string> needle;  // needle mode: the boxed code (nullopt: none shown)
  double needle_at = -1;              // its start (s), -1 without one
  std::string events;                 // the whole clip's event log, "mm:ss event; …" (world::summarize)
  double write_s = 0;                 // wall seconds to render and encode
};

// Renders and encodes the world of `options` to dir/name.mp4 and writes dir/name.json (the `yoco world`
// truth). Throws yoco::Error when OpenCV is missing, the options are invalid or the files cannot be written.
WorldClip write_world_clip(const world::WorldOptions& options, const std::string& dir,
                           const std::string& name);

// One needle trial: a stream of `seconds` whose only boxed code (`code`) starts at depth·(seconds − 2 s),
// floored to a whole second (depth in [0, 1]: 0 = the first frame, 1 = the last moment the 2 s code fits),
// with `distractors` look-alike codes; `absent` drops the boxed code (the needle-absent control).
world::WorldOptions needle_options(uint64_t seed, double seconds, double depth, const std::string& code,
                                   int distractors, bool absent);
double needle_time(double seconds, double depth);
// A 4-digit code drawn from the seed (deterministic).
std::string needle_code_for(uint64_t seed);

}  // namespace yoco::eval
