// `yoco eval needle`: the streaming needle test. A code is shown once, in a white box, at a depth of a long
// stream (look-alike distractor codes in yellow elsewhere), and at the end the model is asked which code was
// in the white box and when it was shown; needle-absent controls must answer "no code was shown".
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "apps/eval/eval_heatmap.h"
#include "apps/eval/eval_score.h"

namespace yoco::eval {

inline constexpr const char* kNeedleQuestion = "what code was shown in the white box?";
inline constexpr const char* kNeedleWhenQuestion = "when was the code in the white box shown?";
inline constexpr const char* kNoCodeAnswer = "no code was shown";

struct NeedleEvalOptions {
  std::string model;
  std::vector<double> lengths_min = {1, 10, 60};  // stream lengths, minutes
  std::vector<double> depths_pct = {0, 25, 50, 75, 100};
  int trials = 3;           // per length × depth
  int controls = -1;        // needle-absent streams per length (< 0: as many as trials)
  int distractors = 3;      // look-alike codes per stream
  uint64_t seed_start = 1;  // seeds seed_start, seed_start + 1, … (all < kFirstTrainingSeed)
  std::string work_dir;
  bool keep_files = false;
  std::function<void(const std::string&)> progress;
};

struct NeedleLengthStats {
  double minutes = 0;
  std::vector<Tally> depth;         // per depth
  Tally present, absent;            // all depths; the needle-absent controls
  std::vector<double> ts_error_s;   // |answered − true| per present trial whose "when" answer parsed
  int ts_unparsed = 0;              // "when" answers that were no timestamp
  std::vector<double> total_ms;     // per question
  std::vector<double> cache_bytes;  // per stream at its end
  int64_t frames = 0;
  double ingest_s = 0, write_s = 0;
};

struct NeedleTrial {
  uint64_t seed = 0;
  double minutes = 0, depth_pct = -1;  // depth < 0: control
  std::string truth, answer;           // code question
  double needle_at = -1;
  std::string when_answer;  // "" for controls
  bool correct = false;
};

struct NeedleReport {
  std::string model;
  std::vector<double> depths_pct;
  std::vector<NeedleLengthStats> lengths;
  std::vector<NeedleTrial> trials;
  int distractors = 0;
  double wall_s = 0;

  Tally absent() const;
  // Timestamp answers within 2 s of the truth, over all present trials (unparsed answers count as misses).
  Tally ts_within_2s() const;
  nlohmann::ordered_json to_json() const;
  std::string table() const;
  Heatmap heatmap() const;  // lengths × depths, plus an "absent" column
};

NeedleReport run_needle_eval(const NeedleEvalOptions& options);

}  // namespace yoco::eval
