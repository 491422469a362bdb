// `yoco eval summary`: how well `yoco summarize` tells the events of world videos the model never saw. Each
// video is summarised exactly as the command does (pipeline/summary.h, the model's caption prompt and period);
// the "mm:ss event" items of the captions are matched one to one against the ground-truth event log (the
// world's own summary of the whole video): same text and timestamps within a tolerance (default 2 s).
// Reports event recall and precision, the timestamp error of matched events, and the same counts ignoring time.
// The items scored are the events `yoco summarize` prints, i.e. after its stray-item filter
// (pipeline/caption_items.h); the same counts over the captions as the model said them come alongside, so one
// run shows what the filter changed.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace yoco::eval {

struct EventItem {
  double t = 0;  // seconds
  std::string text;
};

// "mm:ss text; mm:ss text; …" (the world's summary form) → items. Pieces that do not start with a timestamp
// ("nothing happened", noise) are skipped and counted in `unparsed` when it is given. Text is normalised
// (trimmed, lower case).
std::vector<EventItem> parse_event_items(const std::string& text, int* unparsed = nullptr);

struct EventMatch {
  int truth = 0, predicted = 0;
  int matched = 0;            // same text, |dt| <= tolerance, one to one
  int matched_text = 0;       // same text at any time, one to one
  std::vector<double> abs_dt; // |dt| of the matched pairs

  void add(const EventMatch& other);  // sums the counts, appends the errors
};

// Greedy one-to-one: for each predicted item in time order, the unmatched truth item with the same text and the
// smallest |dt| within `tolerance`. Duplicate predictions (same time and text) count once.
EventMatch match_events(const std::vector<EventItem>& truth, std::vector<EventItem> predicted, double tolerance);

struct SummaryEvalOptions {
  std::string model;
  int videos = 10;
  double seconds = 60;
  uint64_t seed_start = 1;  // seeds below kFirstTrainingSeed only
  double tolerance = 2.0;   // seconds
  std::optional<double> caption_context;  // seconds a caption reads (default: the model's)
  std::string work_dir;
  bool keep_files = false;
  std::function<void(const std::string&)> progress;
};

struct SummaryVideo {
  uint64_t seed = 0;
  EventMatch match;           // the events summarize prints
  EventMatch raw;             // the captions as the model said them (before the stray-item filter)
  int stray = 0;              // items the filter left out
  int captions = 0, unparsed = 0;
  double wall_s = 0;
};

struct SummaryReport {
  std::string model;
  double seconds = 0, tolerance = 0, every = 0, context = 0;
  std::string prompt_covers;  // "preceding" or "following"
  std::vector<SummaryVideo> videos;
  EventMatch total, raw_total;
  int stray = 0;
  double wall_s = 0, video_s = 0;

  double recall() const;     // matched / truth
  double precision() const;  // matched / predicted (0 when nothing was predicted)
  nlohmann::ordered_json to_json() const;
  std::string table() const;
};

SummaryReport run_summary_eval(const SummaryEvalOptions& options);

}  // namespace yoco::eval
