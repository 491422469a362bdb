// The synthetic video world: a seeded scenario (objects, codes, flashes) and its ground-truth event log.
//
// Everything here is pure data and integer-exact randomness (our own SplitMix64, never <random>'s
// distributions, whose output differs between standard libraries), so one seed gives the same scenario on
// every platform. Rendering (world_render.h), encoding (world_video.h) and questions (world_qa.h) only read it.
//
// Units: time in seconds (double) from the video's start; positions in pixels, origin top-left, y down
// ("up" moves towards y = 0). Every event starts on a whole second and stays visible for at least
// kMinVisible seconds, so a 1 fps sampler (slots at 0, 1, 2 … s) sees each one at least once and an event that
// starts at second s is first seen on the frame tagged s.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace yoco::world {

// The canonical words of docs/STREAM-FORMAT.md.
inline constexpr std::array<const char*, 6> kColourNames = {"red", "green", "blue", "yellow", "white", "purple"};
inline constexpr std::array<const char*, 3> kShapeNames = {"square", "circle", "triangle"};
inline constexpr std::array<const char*, 4> kDirectionNames = {"left", "right", "up", "down"};
inline constexpr std::array<const char*, 2> kSizeNames = {"small", "large"};
// RGB of each colour as drawn.
inline constexpr std::array<std::array<uint8_t, 3>, 6> kColourRgb = {{
    {220, 40, 40}, {40, 200, 60}, {50, 90, 235}, {235, 220, 50}, {240, 240, 240}, {165, 60, 210}}};

inline constexpr double kMinVisible = 2.0;  // seconds every object, code and flash stays on screen
inline constexpr double kCodeSeconds = 2.0;
inline constexpr double kFlashSeconds = 2.0;
inline constexpr int kMaxObjects = 4;  // on screen at once

// Deterministic PRNG (SplitMix64) with the few integer-exact helpers the generator needs.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next();
  int uniform_int(int lo, int hi);       // inclusive bounds
  double uniform(double lo, double hi);  // [lo, hi)
  bool chance(double p) { return uniform(0.0, 1.0) < p; }

 private:
  uint64_t s_;
};

struct WorldOptions {
  uint64_t seed = 0;
  double seconds = 30.0;
  int width = 128, height = 128;
  double fps = 4.0;
  // Needle test (see tools/world/README.md): one code in a white box at needle_at, plus `distractors`
  // look-alike codes (one digit changed) in yellow without a box. no_code drops the needle itself.
  std::optional<std::string> needle_code;
  double needle_at = -1.0;  // < 0: a random time
  int distractors = 0;
  bool no_code = false;
  bool needle_mode() const { return needle_code.has_value() || no_code; }
};

// Throws yoco::Error (one line) when the options are out of range.
void validate(const WorldOptions& o);

struct Rect {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // [x0, x1) x [y0, y1)
  bool intersects(const Rect& o) const { return x0 < o.x1 && o.x0 < x1 && y0 < o.y1 && o.y0 < y1; }
};

struct WorldObject {
  int id = 0;
  int colour = 0, shape = 0, size = 0, direction = 0;  // indices into the k*Names arrays
  double radius = 0;        // half the side / radius / half the triangle's base, pixels
  double x0 = 0, y0 = 0;    // centre at `enter`
  double vx = 0, vy = 0;    // pixels per second
  double enter = 0, leave = 0;  // visible for enter <= t < leave; leave may be past the video's end
  bool visible(double t) const { return enter <= t && t < leave; }
  double x(double t) const { return x0 + vx * (t - enter); }
  double y(double t) const { return y0 + vy * (t - enter); }
  Rect swept() const;  // the area it covers over its whole life, with a small margin
  std::string name() const;  // "red square"
};

struct WorldCode {
  std::string digits;
  double start = 0, end = 0;
  bool boxed = true;  // black digits in a white box; false: a yellow distractor without a box
  Rect box;           // where it is drawn (also the area objects keep clear of while it shows)
  bool visible(double t) const { return start <= t && t < end; }
};

struct WorldFlash {
  double start = 0, end = 0;
  bool visible(double t) const { return start <= t && t < end; }
};

enum class EventType { kEnter, kLeave, kCode, kFlash };
const char* event_type_name(EventType t);

struct WorldEvent {
  double t = 0;
  EventType type = EventType::kEnter;
  int object = -1;  // object id (enter/leave), else -1
  int code = -1;    // index into Scenario::codes (code), else -1
};

struct Scenario {
  WorldOptions options;
  int64_t n_frames = 0;   // round(seconds * fps); frame k has pts k / fps
  int background = 40;    // grey level of the background before noise
  std::vector<WorldObject> objects;  // by id
  std::vector<WorldCode> codes;      // by start time
  std::vector<WorldFlash> flashes;   // by start time
  std::vector<WorldEvent> events;    // by time, then enter-before-leave order of generation
  double last_pts() const { return static_cast<double>(n_frames - 1) / options.fps; }
};

// The scenario for these options; same options, same scenario. Throws yoco::Error on invalid options.
Scenario make_scenario(const WorldOptions& options);

// "mm:ss" under one hour, "h:mm:ss" from one hour on (the stream's time tags, floored to whole seconds).
std::string format_mm_ss(double seconds);

}  // namespace yoco::world
