#include "apps/world/world_scenario.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "kernels/error.h"

namespace yoco::world {

uint64_t Rng::next() {
  uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

int Rng::uniform_int(int lo, int hi) {
  if (hi <= lo) return lo;
  const uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
  return lo + static_cast<int>(next() % span);  // bias < 2^-40 for our spans: irrelevant here
}

double Rng::uniform(double lo, double hi) {
  return lo + (hi - lo) * (static_cast<double>(next() >> 11) * 0x1.0p-53);
}

// A number as a user typed it ("0", "1e+09", "2.5"), not std::to_string's "0.000000".
static std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

void validate(const WorldOptions& o) {
  YOCO_REQUIRE(std::isfinite(o.seconds) && o.seconds >= 1.0 && o.seconds <= 36000.0,
               "--seconds must be between 1 and 36000, got " + num(o.seconds));
  YOCO_REQUIRE(std::isfinite(o.fps) && o.fps >= 1.0 && o.fps <= 60.0,
               "--fps must be between 1 and 60, got " + num(o.fps));
  YOCO_REQUIRE(o.width >= 32 && o.height >= 32 && o.width <= 4096 && o.height <= 4096,
               "--size must be between 32x32 and 4096x4096, got " + std::to_string(o.width) + "x" +
                   std::to_string(o.height));
  YOCO_REQUIRE(o.width % 2 == 0 && o.height % 2 == 0,
               "--size must have even width and height (yuv420p), got " + std::to_string(o.width) + "x" +
                   std::to_string(o.height));
  if (o.needle_code) {
    const std::string& c = *o.needle_code;
    YOCO_REQUIRE(c.size() >= 3 && c.size() <= 6 &&
                     std::all_of(c.begin(), c.end(), [](char ch) { return ch >= '0' && ch <= '9'; }),
                 "--needle-code must be 3 to 6 digits, got '" + c + "'");
  }
  YOCO_REQUIRE(o.distractors >= 0 && o.distractors <= 20,
               "--distractors must be between 0 and 20, got " + std::to_string(o.distractors));
  YOCO_REQUIRE(o.distractors == 0 || o.needle_mode(), "--distractors needs --needle-code or --no-code");
  if (o.needle_at >= 0.0 && o.needle_code && !o.no_code)
    YOCO_REQUIRE(std::isfinite(o.needle_at) && o.needle_at + kCodeSeconds <= o.seconds,
                 "--needle-at must leave the code " + std::to_string(static_cast<int>(kCodeSeconds)) +
                     " s on screen before the end of the video, got " + num(o.needle_at));
  YOCO_REQUIRE(!(o.needle_at >= 0.0 && !o.needle_code), "--needle-at needs --needle-code");
}

Rect WorldObject::swept() const {
  const double t = leave - enter, m = 2.0;
  const double xa = x0, xb = x0 + vx * t, ya = y0, yb = y0 + vy * t;
  return {std::min(xa, xb) - radius - m, std::min(ya, yb) - radius - m, std::max(xa, xb) + radius + m,
          std::max(ya, yb) + radius + m};
}

std::string WorldObject::name() const {
  return std::string(kColourNames[colour]) + " " + kShapeNames[shape];
}

const char* event_type_name(EventType t) {
  switch (t) {
    case EventType::kEnter: return "enter";
    case EventType::kLeave: return "leave";
    case EventType::kCode: return "code";
    case EventType::kFlash: return "flash";
  }
  return "?";
}

std::string format_mm_ss(double seconds) {
  const long long s = static_cast<long long>(std::floor(std::max(0.0, seconds)));
  char buf[32];
  if (s < 3600)
    std::snprintf(buf, sizeof buf, "%02lld:%02lld", s / 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
  return buf;
}

namespace {

std::string random_digits(Rng& rng, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += static_cast<char>('0' + rng.uniform_int(i == 0 ? 1 : 0, 9));
  return s;
}

// The same code with exactly one digit changed (never the leading digit into a 0).
std::string look_alike(Rng& rng, const std::string& code) {
  std::string s = code;
  const int i = rng.uniform_int(0, static_cast<int>(s.size()) - 1);
  const int lo = i == 0 ? 1 : 0;
  char d;
  do {
    d = static_cast<char>('0' + rng.uniform_int(lo, 9));
  } while (d == s[i]);
  s[i] = d;
  return s;
}

class Builder {
 public:
  explicit Builder(const WorldOptions& o) : o_(o), rng_(o.seed * 0x2545F4914F6CDD1Dull + 0x1234567ull) {}

  Scenario build() {
    Scenario sc;
    sc.options = o_;
    sc.n_frames = std::max<int64_t>(1, std::llround(o_.seconds * o_.fps));
    sc.background = rng_.uniform_int(25, 60);
    last_pts_ = sc.last_pts();
    // Events start on whole seconds and stay kMinVisible s: the last possible start.
    last_start_ = static_cast<int>(std::floor(last_pts_ + 1e-9 - kMinVisible + 1.0));
    place_codes(sc);
    place_flashes(sc);
    place_objects(sc);
    collect_events(sc);
    return sc;
  }

 private:
  const WorldOptions& o_;
  Rng rng_;
  double last_pts_ = 0;
  int last_start_ = 0;

  bool code_fits(const Scenario& sc, int start) const {
    for (const auto& c : sc.codes)
      if (std::abs(c.start - start) < kCodeSeconds + 2.0) return false;
    return true;
  }

  // A code at `start` (or a random free whole second when start < 0). Returns false when none fits.
  bool add_code(Scenario& sc, const std::string& digits, bool boxed, int start) {
    if (last_start_ < 0) return false;
    for (int attempt = 0; attempt < 60; ++attempt) {
      const int s = start >= 0 ? start : rng_.uniform_int(0, last_start_);
      if (!code_fits(sc, s)) {
        if (start >= 0) return false;
        continue;
      }
      const double W = o_.width, H = o_.height;
      const double w = std::min(0.96 * W, (0.15 * static_cast<double>(digits.size()) + 0.1) * W);
      const double h = 0.26 * H;
      const double x = std::floor(rng_.uniform(0.02 * W, std::max(0.02 * W, W - w - 0.02 * W)));
      const double y = std::floor(rng_.uniform(0.02 * H, H - h - 0.02 * H));
      WorldCode c;
      c.digits = digits;
      c.start = s;
      c.end = s + kCodeSeconds;
      c.boxed = boxed;
      c.box = {x, y, x + std::floor(w), y + std::floor(h)};
      sc.codes.push_back(c);
      return true;
    }
    return false;
  }

  void place_codes(Scenario& sc) {
    if (o_.needle_mode()) {
      const std::string base = o_.needle_code ? *o_.needle_code : random_digits(rng_, 4);
      if (!o_.no_code) {
        const int at = o_.needle_at >= 0 ? static_cast<int>(std::floor(o_.needle_at))
                                         : rng_.uniform_int(0, std::max(0, last_start_));
        YOCO_REQUIRE(add_code(sc, base, true, at), "the video is too short for a code at " +
                                                       std::to_string(at) + " s");
      }
      for (int i = 0; i < o_.distractors; ++i)
        YOCO_REQUIRE(add_code(sc, look_alike(rng_, base), false, -1),
                     "the video is too short for " + std::to_string(o_.distractors) +
                         " distractor codes (each needs " + std::to_string(static_cast<int>(kCodeSeconds) + 2) +
                         " s apart from the others)");
    } else {
      const int n = rng_.uniform_int(0, std::max(1, static_cast<int>(o_.seconds / 20.0)));
      for (int i = 0; i < n; ++i) add_code(sc, random_digits(rng_, rng_.uniform_int(3, 4)), true, -1);
    }
    std::sort(sc.codes.begin(), sc.codes.end(), [](const auto& a, const auto& b) { return a.start < b.start; });
  }

  void place_flashes(Scenario& sc) {
    if (last_start_ < 0) return;
    const int n = rng_.uniform_int(0, std::max(1, static_cast<int>(o_.seconds / 15.0)));
    for (int i = 0; i < n; ++i) {
      for (int attempt = 0; attempt < 30; ++attempt) {
        const int s = rng_.uniform_int(0, last_start_);
        bool ok = true;
        for (const auto& f : sc.flashes) ok = ok && std::abs(f.start - s) >= kFlashSeconds + 2.0;
        if (!ok) continue;
        sc.flashes.push_back({static_cast<double>(s), s + kFlashSeconds});
        break;
      }
    }
    std::sort(sc.flashes.begin(), sc.flashes.end(), [](const auto& a, const auto& b) { return a.start < b.start; });
  }

  // One new object entering at whole second s, clear of every object and code it would share the screen with.
  bool try_spawn(Scenario& sc, int s) {
    std::vector<int> used;
    for (const auto& ob : sc.objects)
      if (ob.visible(s)) used.push_back(ob.colour * 3 + ob.shape);
    std::vector<int> free_kinds;
    for (int k = 0; k < 18; ++k)
      if (std::find(used.begin(), used.end(), k) == used.end()) free_kinds.push_back(k);
    const int kind = free_kinds[rng_.uniform_int(0, static_cast<int>(free_kinds.size()) - 1)];
    WorldObject ob;
    ob.id = static_cast<int>(sc.objects.size());
    ob.colour = kind / 3;
    ob.shape = kind % 3;
    ob.size = rng_.uniform_int(0, 1);
    ob.direction = rng_.uniform_int(0, 3);
    ob.radius = std::max(4.0, std::round((ob.size ? 0.10 : 0.065) * std::min(o_.width, o_.height)));
    const bool horizontal = ob.direction < 2;
    const double along = horizontal ? o_.width : o_.height, across = horizontal ? o_.height : o_.width;
    const double r = ob.radius, span = along - 2 * r - 4;
    double v = rng_.uniform(0.06, 0.11) * along;  // visible motion between 1 fps frames
    int lmax = std::min(12, static_cast<int>(std::floor(span / v)));
    if (lmax < 3) {
      v = span / 3.0;
      lmax = 3;
    }
    const int life = rng_.uniform_int(3, lmax);
    ob.enter = s;
    ob.leave = s + life;
    const double travel = v * life;
    const double sign = (ob.direction == 1 || ob.direction == 3) ? 1.0 : -1.0;  // right, down: +
    for (int attempt = 0; attempt < 20; ++attempt) {
      const double a0 = sign > 0 ? rng_.uniform(r + 2, along - r - 2 - travel)
                                 : rng_.uniform(r + 2 + travel, along - r - 2);
      const double c0 = rng_.uniform(r + 2, across - r - 2);
      ob.x0 = std::round(horizontal ? a0 : c0);
      ob.y0 = std::round(horizontal ? c0 : a0);
      ob.vx = horizontal ? sign * v : 0.0;
      ob.vy = horizontal ? 0.0 : sign * v;
      const Rect sw = ob.swept();
      bool clear = true;
      for (const auto& other : sc.objects)
        if (other.leave > s && other.swept().intersects(sw)) clear = false;
      for (const auto& c : sc.codes)
        if (c.end > ob.enter && c.start < ob.leave && c.box.intersects(sw)) clear = false;
      if (!clear) continue;
      sc.objects.push_back(ob);
      return true;
    }
    return false;
  }

  void place_objects(Scenario& sc) {
    // At most one object enters per second, so "first" and "last" are never ties.
    for (int s = 0; s + 3 <= static_cast<int>(std::floor(last_pts_ + 1e-9)) + 1; ++s) {
      int alive = 0;
      for (const auto& ob : sc.objects) alive += ob.visible(s) ? 1 : 0;
      if (alive >= kMaxObjects) continue;
      if (rng_.chance(alive == 0 ? 0.8 : 0.45)) try_spawn(sc, s);
    }
  }

  void collect_events(Scenario& sc) {
    for (const auto& ob : sc.objects) {
      sc.events.push_back({ob.enter, EventType::kEnter, ob.id, -1});
      if (ob.leave <= last_pts_ + 1e-9) sc.events.push_back({ob.leave, EventType::kLeave, ob.id, -1});
    }
    for (size_t i = 0; i < sc.codes.size(); ++i)
      sc.events.push_back({sc.codes[i].start, EventType::kCode, -1, static_cast<int>(i)});
    for (const auto& f : sc.flashes) sc.events.push_back({f.start, EventType::kFlash, -1, -1});
    // By time; at one time: leave, enter, code, flash (the order a summary reads best in).
    auto rank = [](EventType t) {
      return t == EventType::kLeave ? 0 : t == EventType::kEnter ? 1 : t == EventType::kCode ? 2 : 3;
    };
    std::stable_sort(sc.events.begin(), sc.events.end(), [&](const WorldEvent& a, const WorldEvent& b) {
      return a.t != b.t ? a.t < b.t : rank(a.type) < rank(b.type);
    });
  }
};

}  // namespace

Scenario make_scenario(const WorldOptions& options) {
  validate(options);
  return Builder(options).build();
}

}  // namespace yoco::world
