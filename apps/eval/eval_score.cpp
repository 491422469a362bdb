#include "apps/eval/eval_score.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <numeric>

#include "pipeline/caption_items.h"

namespace yoco::eval {

const std::vector<std::string>& qa_types() {
  static const std::vector<std::string> types = {"count", "now",  "colour", "shape", "direction", "first",
                                                 "last",  "when", "times",  "code",  "summary"};
  return types;
}

std::string normalize_answer(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  std::string out = s.substr(b, e - b);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool exact_match(const std::string& answer, const std::string& truth) {
  return normalize_answer(answer) == normalize_answer(truth);
}

std::optional<double> parse_timestamp(const std::string& text) {
  return pipeline::parse_clock_time(normalize_answer(text));
}

std::optional<double> Tally::accuracy() const {
  if (n == 0) return std::nullopt;
  return static_cast<double>(correct) / n;
}

Tally timestamps_within(const std::vector<double>& abs_err, int not_timestamps, double seconds) {
  Tally t;
  for (double e : abs_err) t.add(e <= seconds);
  for (int i = 0; i < not_timestamps; ++i) t.add(false);
  return t;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const double rank = std::ceil(std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(v.size()));
  const size_t i = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return v[std::min(i, v.size() - 1)];
}

double mean(const std::vector<double>& v) {
  if (v.empty()) return 0.0;
  return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

}  // namespace yoco::eval
