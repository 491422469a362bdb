// Rotary position embedding. The tables are built in f32 the way the PyTorch reference builds them, and the
// angle is float(pos) * inv_freq rounded to f32 before cos/sin, so positions far from 0 rotate by exactly
// the reference's (rounded) angles. cos/sin of that f32 angle are evaluated in double and rounded once.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/error.h"
#include "kernels/ops.h"
#include "kernels/thread_pool.h"

namespace yoco::kernels {
namespace {

// torch.linspace(0, 1, steps) in f32: step = (end - start) / (steps - 1); the first half counts up from
// start, the second half counts down from end (aten's linspace kernel).
std::vector<float> linspace_f32(float start, float end, int steps) {
  std::vector<float> out(static_cast<size_t>(steps));
  if (steps == 1) {
    out[0] = start;
    return out;
  }
  const float step = (end - start) / static_cast<float>(steps - 1);
  const int halfway = steps / 2;
  for (int i = 0; i < steps; ++i) {
    out[static_cast<size_t>(i)] =
        i < halfway ? start + step * static_cast<float>(i) : end - step * static_cast<float>(steps - i - 1);
  }
  return out;
}

}  // namespace

RopeTable RopeTable::make(RopeStyle style, int head_dim, float theta) {
  YOCO_REQUIRE(head_dim > 0 && head_dim % 2 == 0, "rope: head_dim must be positive and even");
  RopeTable t;
  t.style = style;
  t.head_dim = head_dim;
  const int half = head_dim / 2;
  t.inv_freq.resize(static_cast<size_t>(half));
  if (style == RopeStyle::Yoco) {
    const std::vector<float> e = linspace_f32(0.0f, 1.0f, half);
    for (int i = 0; i < half; ++i) t.inv_freq[i] = 1.0f / std::pow(theta, e[static_cast<size_t>(i)]);
  } else {
    for (int i = 0; i < half; ++i) {
      const float e = static_cast<float>(2 * i) / static_cast<float>(head_dim);
      t.inv_freq[i] = 1.0f / std::pow(theta, e);
    }
  }
  return t;
}

void rope_apply(const RopeTable& rope, float* x, int64_t stride, int64_t rows, int n_heads, int64_t pos0) {
  const int d = rope.head_dim;
  const int half = d / 2;
  if (rows <= 0 || n_heads <= 0) return;
  YOCO_CHECK(static_cast<int>(rope.inv_freq.size()) == half);
  const int64_t grain = std::max<int64_t>(1, 4096 / (static_cast<int64_t>(n_heads) * d));
  parallel_for(rows, grain, [&](int64_t r0, int64_t r1, int) {
    thread_local std::vector<float> cs;  // cos in [0, half), sin in [half, d)
    cs.resize(static_cast<size_t>(d));
    for (int64_t r = r0; r < r1; ++r) {
      const float pos = static_cast<float>(pos0 + r);
      for (int i = 0; i < half; ++i) {
        const double angle = static_cast<double>(pos * rope.inv_freq[static_cast<size_t>(i)]);
        cs[static_cast<size_t>(i)] = static_cast<float>(std::cos(angle));
        cs[static_cast<size_t>(half + i)] = static_cast<float>(std::sin(angle));
      }
      const float* c = cs.data();
      const float* s = cs.data() + half;
      for (int h = 0; h < n_heads; ++h) {
        float* v = x + r * stride + static_cast<int64_t>(h) * d;
        if (rope.style == RopeStyle::Yoco) {
          for (int i = 0; i < half; ++i) {
            const float x0 = v[2 * i], x1 = v[2 * i + 1];
            v[2 * i] = x0 * c[i] - x1 * s[i];
            v[2 * i + 1] = x0 * s[i] + x1 * c[i];
          }
        } else {
          for (int i = 0; i < half; ++i) {
            const float x0 = v[i], x1 = v[i + half];
            v[i] = x0 * c[i] - x1 * s[i];
            v[i + half] = x0 * s[i] + x1 * c[i];
          }
        }
      }
    }
  });
}

}  // namespace yoco::kernels
