// Scoring for `yoco eval`: answer normalisation, exact match, per-type tallies, latency percentiles and the
// parsing of "mm:ss" timestamps in answers. Pure functions and plain data; no model, no video.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace yoco::eval {

// The question types of the synthetic world's QA (tools/world/README.md), in report order.
const std::vector<std::string>& qa_types();

// Trims ASCII whitespace at both ends and lower-cases ASCII letters (answers are compared after this).
std::string normalize_answer(const std::string& s);
bool exact_match(const std::string& answer, const std::string& truth);

// "mm:ss" or "h:mm:ss" (as the stream's time tags and the world's answers write them) → seconds; nullopt when
// the text (after normalisation) is not such a timestamp.
std::optional<double> parse_timestamp(const std::string& s);

struct Tally {
  int n = 0, correct = 0;
  std::optional<double> accuracy() const;  // nullopt when n == 0
  void add(bool ok) {
    ++n;
    correct += ok ? 1 : 0;
  }
};

// Timestamp answers scored by their error: n = the errors (|answer − truth| in seconds) plus the answers that were
// no timestamp, correct = the errors of at most `seconds` (needle "when" answers, Q&A "when" questions).
Tally timestamps_within(const std::vector<double>& abs_err, int not_timestamps, double seconds);

// Percentile by the nearest-rank method over a copy of `v` (p in [0, 100]); 0 for an empty vector.
double percentile(std::vector<double> v, double p);
double mean(const std::vector<double>& v);

}  // namespace yoco::eval
