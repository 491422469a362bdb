// JSON from untrusted files with a bound on nesting. nlohmann::json parses iteratively but copies, compares
// and serialises recursively, so a document of a million '[' parses and then overflows the stack when the
// config keeps a copy or an error message dumps a field. Real configs and tokenizer files nest a few levels.
#pragma once

#include <cmath>
#include <limits>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "kernels/error.h"

namespace yoco::llm {

// The JSON value in `text`; throws yoco::Error "not valid JSON: ..." or "JSON nested deeper than N levels".
inline nlohmann::json parse_json_bounded(std::string_view text, int max_depth) {
  bool too_deep = false;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.begin(), text.end(),
                              [&too_deep, max_depth](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
                                if (depth > max_depth) too_deep = true;
                                return !too_deep;  // keeps nothing past the limit
                              });
  } catch (const nlohmann::json::exception& e) {
    if (!too_deep) throw Error(std::string("not valid JSON: ") + e.what());
  }
  YOCO_REQUIRE(!too_deep, "JSON nested deeper than " + std::to_string(max_depth) + " levels");
  return j;
}

// A config number that a float field keeps: `x` as a float, or throws "<prefix>field '<name>' must be a finite
// number within float range". A finite double past float's range (1e101) would convert to inf, undefined
// behaviour in C++, and a config holding inf cannot be written back as JSON by to_json().
inline float float_field(double x, const std::string& prefix, const std::string& name) {
  YOCO_REQUIRE(std::isfinite(x) && std::fabs(x) <= std::numeric_limits<float>::max(),
               prefix + "field '" + name + "' must be a finite number within float range (|x| <= 3.4e38)");
  return static_cast<float>(x);
}

}  // namespace yoco::llm
