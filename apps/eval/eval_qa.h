// `yoco eval qa`: Q&A exact-match accuracy per question type on world videos the model was not trained on,
// asked at their moments while each video streams through the real runtime (one pass per video).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "apps/eval/eval_score.h"

namespace yoco::eval {

struct QaEvalOptions {
  std::string model;  // model directory
  int videos = 20;
  double seconds = 60;
  uint64_t seed_start = 1;   // seeds seed_start … seed_start + videos − 1, all < kFirstTrainingSeed
  int summary_tokens = 256;  // answer cap for "summary" questions: at least this and the model's cap
  std::string work_dir;      // where the videos go (created; removed afterwards unless keep_files)
  bool keep_files = false;
  int misses_per_type = 3;  // wrong answers kept per type for the report (0 … 1,000,000: a large value keeps all)
  std::function<void(const std::string&)> progress;  // one line per video (optional)
};

struct QaMiss {
  uint64_t seed = 0;
  double at = 0;
  std::string type, question, truth, answer;
};

struct QaReport {
  std::string model;
  std::vector<uint64_t> seeds;
  double seconds = 0;
  std::map<std::string, Tally> per_type;  // every type of qa_types(), n = 0 included
  Tally overall;
  std::vector<double> total_ms, first_token_ms;  // per question
  std::vector<double> cache_bytes;               // per video, at its end
  double state_bytes = 0;
  int64_t frames = 0;  // ingested, all videos
  double ingest_s = 0, write_s = 0, wall_s = 0;
  int context_mismatches = 0;  // answers whose context did not end on the frame tagged `at` (must be 0)
  // "when" questions (truth "mm:ss"): |answer − truth| in seconds of each answer that is a timestamp, and the
  // answers that are not one; exact match counts 00:12 for 00:13 as wrong, this says how far off they are.
  std::vector<double> when_abs_err;
  int when_not_timestamp = 0;
  std::vector<QaMiss> misses;  // wrong answers (the first misses_per_type of each type, for the report)

  // Targets of the issue: overall >= 90 %, no type (with questions) below 70 %.
  bool meets_targets() const;
  nlohmann::ordered_json to_json() const;
  std::string table() const;  // the human-readable report
};

QaReport run_qa_eval(const QaEvalOptions& options);

}  // namespace yoco::eval
