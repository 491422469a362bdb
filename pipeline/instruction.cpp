#include "pipeline/instruction.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <string_view>

#include "kernels/error.h"

namespace yoco::pipeline {

const char* instruction_kind_name(Instruction::Kind k) { return k == Instruction::Kind::kCaption ? "caption" : "alert"; }

namespace {

bool is_word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}
bool is_space(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}
bool is_blank(std::string_view t) { return std::all_of(t.begin(), t.end(), is_space); }
bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

// "every N UNIT" at `at` (case-insensitive): N digits with an optional fraction, UNIT a whole word among s,
// sec, secs, second, seconds, m, min, minute, minutes. On a match sets the period's text and unit.
bool match_every(std::string_view t, size_t at, std::string_view* number, bool* minutes) {
  if (!iequals(t.substr(at, 5), "every")) return false;
  size_t i = at + 5;
  const size_t spaces = i;
  while (i < t.size() && is_space(t[i])) ++i;
  if (i == spaces) return false;
  const size_t num = i;
  while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) ++i;
  if (i == num) return false;
  if (i + 1 < t.size() && t[i] == '.' && std::isdigit(static_cast<unsigned char>(t[i + 1]))) {
    ++i;
    while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) ++i;
  }
  *number = t.substr(num, i - num);
  while (i < t.size() && is_space(t[i])) ++i;
  const size_t unit = i;
  while (i < t.size() && is_word_char(t[i])) ++i;
  const std::string_view u = t.substr(unit, i - unit);
  for (std::string_view s : {"s", "sec", "secs", "second", "seconds"})
    if (iequals(u, s)) return *minutes = false, true;
  for (std::string_view m : {"m", "min", "minute", "minutes"})
    if (iequals(u, m)) return *minutes = true, true;
  return false;
}

}  // namespace

// A hand-written scan rather than std::regex: libstdc++'s regex recurses once per character matched, and a
// 60 KB instruction (a service request) overflowed the stack (docs/FUZZING.md).
Instruction parse_instruction(const std::string& text) {
  Instruction ins;
  ins.text = text;
  YOCO_REQUIRE(!is_blank(text), "an instruction needs some text");
  std::string_view number;
  bool minutes = false;
  bool found = false;
  for (size_t at = 0; at < text.size() && !found; ++at) found = match_every(text, at, &number, &minutes);
  if (found) {
    ins.kind = Instruction::Kind::kCaption;
    // strtod, not std::stod: a period of 400 digits is a yoco::Error, not std::out_of_range.
    const std::string digits(number);
    ins.every = std::strtod(digits.c_str(), nullptr) * (minutes ? 60.0 : 1.0);
    // Bounded below too: the stream steps its schedule by the period (pipeline/stream.cpp), and a period
    // that vanishes next to the pts never gets past it.
    YOCO_REQUIRE(std::isfinite(ins.every) && ins.every >= 0.01 && ins.every <= 1e9,
                 "an instruction's period must be 0.01 s .. 1e9 s, got '" + digits.substr(0, 32) + "'");
    ins.prompt.clear();  // the stream's model decides (StreamFormat::caption_prompt)
  } else {
    ins.kind = Instruction::Kind::kAlert;
    ins.prompt = text;
  }
  return ins;
}

nlohmann::json instruction_to_json(const Instruction& ins) {
  return {{"text", ins.text}, {"kind", instruction_kind_name(ins.kind)}, {"prompt", ins.prompt}, {"every", ins.every},
          {"context", ins.context}};
}

Instruction instruction_from_json(const nlohmann::json& j) {
  YOCO_REQUIRE(j.is_object(), "instruction: not an object");
  Instruction ins;
  auto text = [&](const char* key, std::string& out) {
    if (!j.contains(key)) return;
    YOCO_REQUIRE(j[key].is_string(), std::string("instruction: '") + key + "' must be a string");
    out = j[key].get<std::string>();
  };
  auto seconds = [&](const char* key, double lo, double& out) {
    if (!j.contains(key)) return;
    YOCO_REQUIRE(j[key].is_number() && j[key].get<double>() >= lo && j[key].get<double>() <= 1e9,
                 std::string("instruction: '") + key + "' must be seconds up to 1e9");
    out = j[key].get<double>();
  };
  text("text", ins.text);
  YOCO_REQUIRE(!is_blank(ins.text), "instruction: no text");
  if (j.contains("kind")) {
    const auto& k = j["kind"];
    YOCO_REQUIRE(k.is_string() && (k == "caption" || k == "alert"), "instruction: 'kind' must be caption or alert");
    ins.kind = k == "caption" ? Instruction::Kind::kCaption : Instruction::Kind::kAlert;
  }
  text("prompt", ins.prompt);
  seconds("every", 0.0, ins.every);
  YOCO_REQUIRE(ins.every == 0.0 || ins.every >= 0.01, "instruction: 'every' must be 0 or at least 0.01 s");
  seconds("context", -1.0, ins.context);
  return ins;
}

bool answer_is_yes(const std::string& answer) {
  size_t i = 0;
  while (i < answer.size() && std::isspace(static_cast<unsigned char>(answer[i]))) ++i;
  if (answer.size() - i < 3) return false;
  std::string w = answer.substr(i, 3);
  for (auto& c : w) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return w == "yes";
}

}  // namespace yoco::pipeline
