#include "apps/args.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "kernels/error.h"

namespace yoco::app {

ArgParser::ArgParser(std::string command, std::string usage, std::string description)
    : command_(std::move(command)), usage_(std::move(usage)), description_(std::move(description)) {}

void ArgParser::flag(const std::string& name, const std::string& help) {
  specs_.push_back({name, "", help, true, std::nullopt});
}

void ArgParser::option(const std::string& name, const std::string& metavar, const std::string& help,
                       std::optional<std::string> default_value) {
  specs_.push_back({name, metavar, help, false, std::move(default_value)});
}

void ArgParser::positionals(const std::string& metavar, int min, int max, const std::string& help) {
  pos_metavar_ = metavar;
  pos_min_ = min;
  pos_max_ = max;
  pos_help_ = help;
}

const ArgParser::Spec* ArgParser::find(const std::string& name) const {
  for (const auto& s : specs_)
    if (s.name == name) return &s;
  return nullptr;
}

bool ArgParser::parse(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::fputs(help_text().c_str(), stdout);
      return false;
    }
    if (a.size() > 2 && a.rfind("--", 0) == 0) {
      std::string name = a.substr(2), value;
      bool has_value = false;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_value = true;
      }
      const Spec* s = find(name);
      YOCO_REQUIRE(s, "unknown option --" + name + " (see yoco " + command_ + " --help)");
      if (s->is_flag) {
        YOCO_REQUIRE(!has_value, "option --" + name + " takes no value");
        values_[name] = "1";
        continue;
      }
      if (!has_value) {
        YOCO_REQUIRE(i + 1 < args.size(), "option --" + name + " needs a value " + s->metavar);
        value = args[++i];
      }
      values_[name] = value;
      continue;
    }
    positional_.push_back(a);
  }
  YOCO_REQUIRE(static_cast<int>(positional_.size()) >= pos_min_,
               "missing " + (pos_metavar_.empty() ? std::string("argument") : pos_metavar_) + " (usage: " +
                   usage_ + ")");
  YOCO_REQUIRE(pos_max_ < 0 || static_cast<int>(positional_.size()) <= pos_max_,
               "unexpected argument '" + (positional_.empty() ? std::string() : positional_.back()) +
                   "' (usage: " + usage_ + ")");
  return true;
}

bool ArgParser::has(const std::string& name) const {
  if (values_.count(name)) return true;
  const Spec* s = find(name);
  return s && s->default_value.has_value();
}

std::optional<std::string> ArgParser::get_opt(const std::string& name) const {
  if (auto it = values_.find(name); it != values_.end()) return it->second;
  const Spec* s = find(name);
  YOCO_CHECK(s != nullptr);  // asking for an undeclared option is a programming error
  return s->default_value;
}

std::string ArgParser::get(const std::string& name) const {
  auto v = get_opt(name);
  YOCO_REQUIRE(v.has_value(), "option --" + name + " is required (see yoco " + command_ + " --help)");
  return *v;
}

double ArgParser::get_double(const std::string& name) const {
  const std::string s = get(name);
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  YOCO_REQUIRE(!s.empty() && end && *end == '\0' && errno == 0 && std::isfinite(v),
               "option --" + name + ": '" + s + "' is not a number");
  return v;
}

long long ArgParser::get_int(const std::string& name) const {
  const std::string s = get(name);
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  YOCO_REQUIRE(!s.empty() && end && *end == '\0' && errno == 0,
               "option --" + name + ": '" + s + "' is not an integer");
  return v;
}

std::string ArgParser::help_text() const {
  std::string out = "usage: " + usage_ + "\n\n" + description_ + "\n";
  if (!pos_metavar_.empty()) out += "\n  " + pos_metavar_ + "\n      " + pos_help_ + "\n";
  if (!specs_.empty()) out += "\noptions:\n";
  for (const auto& s : specs_) {
    std::string head = "  --" + s.name + (s.is_flag ? "" : " " + s.metavar);
    out += head + "\n      " + s.help;
    if (s.default_value) out += " (default: " + *s.default_value + ")";
    out += "\n";
  }
  out += "  --help\n      show this help\n";
  return out;
}

}  // namespace yoco::app
