// Token sampling. Order of operations (as in Hugging Face generate): repetition penalty, then greedy or
// temperature, top-k, top-p, and one draw. Candidates are ordered by (logit desc, id asc), a total order, so
// a seed fixes the whole sequence of draws on every platform: the uniform variate is built from the raw
// mt19937_64 output (53 bits), not from std::uniform_real_distribution, whose algorithm is unspecified.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/ops.h"

namespace yoco::kernels {
namespace {

using Cand = std::pair<float, int32_t>;

inline bool better(const Cand& a, const Cand& b) {
  return a.first > b.first || (a.first == b.first && a.second < b.second);
}

}  // namespace

int argmax(const float* x, int64_t n) {
  int64_t best = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(x[i])) continue;
    if (best < 0 || x[i] > x[best]) best = i;
  }
  return best < 0 ? 0 : static_cast<int>(best);
}

Sampler::Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {}

int Sampler::sample(float* logits, int64_t vocab, std::span<const int32_t> history) {
  if (vocab <= 0) return 0;
  const SamplingParams& sp = params_;

  // CTRL repetition penalty, once per distinct token of the window.
  if (sp.repetition_penalty != 1.0f && sp.repetition_window > 0 && !history.empty()) {
    const size_t n = std::min<size_t>(history.size(), static_cast<size_t>(sp.repetition_window));
    const std::span<const int32_t> recent = history.subspan(history.size() - n);
    for (size_t i = 0; i < n; ++i) {
      const int32_t id = recent[i];
      if (id < 0 || id >= vocab) continue;
      if (std::find(recent.begin(), recent.begin() + static_cast<std::ptrdiff_t>(i), id) !=
          recent.begin() + static_cast<std::ptrdiff_t>(i))
        continue;  // already penalised
      float& l = logits[id];
      l = l > 0.0f ? l / sp.repetition_penalty : l * sp.repetition_penalty;
    }
  }

  if (sp.greedy || !(sp.temperature > 0.0f)) return argmax(logits, vocab);

  const float inv_t = 1.0f / sp.temperature;
  for (int64_t i = 0; i < vocab; ++i) logits[i] *= inv_t;

  scratch_.clear();
  for (int64_t i = 0; i < vocab; ++i) {
    if (!std::isnan(logits[i]) && logits[i] != -std::numeric_limits<float>::infinity())
      scratch_.emplace_back(logits[i], static_cast<int32_t>(i));
  }
  if (scratch_.empty()) return argmax(logits, vocab);
  auto& c = scratch_;
  int64_t n = static_cast<int64_t>(c.size());

  if (sp.top_k > 0 && sp.top_k < n) {
    std::nth_element(c.begin(), c.begin() + sp.top_k, c.end(), better);
    c.resize(static_cast<size_t>(sp.top_k));
    n = sp.top_k;
  }
  float mx = -std::numeric_limits<float>::infinity();
  for (const Cand& x : c) mx = std::max(mx, x.first);
  if (mx == std::numeric_limits<float>::infinity()) {
    return std::min_element(c.begin(), c.end(), better)->second;  // an infinite logit wins outright
  }
  // Unnormalised probabilities replace the logits in the candidates from here on.
  double total = 0.0;
  for (Cand& x : c) total += (x.first = std::exp(x.first - mx));

  int64_t kept = n;
  if (sp.top_p < 1.0f) {
    // Nucleus: the smallest prefix of the sorted candidates whose mass reaches top_p. Sort only as much of
    // the head as needed (a vocabulary-wide sort per token would dominate small models).
    const double need = static_cast<double>(sp.top_p) * total;
    int64_t m = std::min<int64_t>(n, 256);
    for (;;) {
      if (m < n) std::nth_element(c.begin(), c.begin() + m, c.end(), better);
      std::sort(c.begin(), c.begin() + m, better);
      double cum = 0.0;
      int64_t cut = -1;
      for (int64_t i = 0; i < m; ++i) {
        cum += c[static_cast<size_t>(i)].first;
        if (cum >= need) {
          cut = i + 1;
          break;
        }
      }
      if (cut > 0) {
        kept = cut;
        break;
      }
      if (m == n) break;  // rounding: the whole set
      m = std::min(n, m * 4);
    }
  } else if (kept < static_cast<int64_t>(vocab)) {
    std::sort(c.begin(), c.begin() + kept, better);
  }

  double kept_total = 0.0;
  for (int64_t i = 0; i < kept; ++i) kept_total += c[static_cast<size_t>(i)].first;
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  const double target = u * kept_total;
  double acc = 0.0;
  for (int64_t i = 0; i < kept; ++i) {
    acc += c[static_cast<size_t>(i)].first;
    if (acc > target) return c[static_cast<size_t>(i)].second;
  }
  // Rounding left the target past the end: the last candidate with any mass.
  int64_t last = kept - 1;
  while (last > 0 && c[static_cast<size_t>(last)].first == 0.0f) --last;
  return c[static_cast<size_t>(last)].second;
}

}  // namespace yoco::kernels
