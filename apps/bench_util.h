// Timing helpers shared by the `yoco bench` programs: warm up, repeat, report the median and the spread.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace yoco::app {

struct Stat {
  double median = 0, min = 0, max = 0;  // seconds
};

// Runs fn `warmup + reps` times (setup, untimed, before each run when given) and summarises the last `reps`.
inline Stat time_it(int warmup, int reps, const std::function<void()>& setup, const std::function<void()>& fn) {
  using Clock = std::chrono::steady_clock;
  std::vector<double> t;
  reps = std::max(reps, 1);
  for (int i = 0; i < warmup + reps; ++i) {
    if (setup) setup();
    const auto t0 = Clock::now();
    fn();
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (i >= warmup) t.push_back(s);
  }
  std::sort(t.begin(), t.end());
  return {t[t.size() / 2], t.front(), t.back()};
}

inline Stat time_it(int warmup, int reps, const std::function<void()>& fn) { return time_it(warmup, reps, nullptr, fn); }

}  // namespace yoco::app
