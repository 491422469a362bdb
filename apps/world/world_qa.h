// Questions and canonical answers from a scenario's event log, the timestamped summary, and the truth JSON.
//
// What the model can know: a question asked at `at` (a whole second) sees the 1 fps frames at 0, 1, …, at
// seconds. Events start on whole seconds and last >= 2 s, so "started at or before `at`" is exactly "seen";
// `at` is never a second on which any event starts (no question hinges on the very frame of a change), and
// questions about what is on screen are not asked during a flash (colours are washed out then).
// Answers are in the canonical forms of docs/STREAM-FORMAT.md. The templates are listed in
// tools/world/README.md; keep the two in step.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/world/world_scenario.h"

namespace yoco::world {

struct QaItem {
  double at = 0;
  std::string type;  // count, now, colour, shape, direction, first, last, when, times, code, needle, summary
  std::string question, answer;
};

// Several questions per type at random moments (more for longer videos), sorted by `at`. Deterministic.
std::vector<QaItem> make_qa(const Scenario& sc);

// "mm:ss red square enters moving left; mm:ss flash; …" for events with from < t <= to ("nothing happened"
// when there are none).
std::string summarize(const Scenario& sc, double from, double to);

// The truth file: {"version", "seed", "seconds", "width", "height", "fps", "frames", "needle", "objects",
// "events", "qa"} (schema in tools/world/README.md).
nlohmann::ordered_json truth_json(const Scenario& sc, const std::vector<QaItem>& qa);

}  // namespace yoco::world
