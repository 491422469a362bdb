// A small declarative option parser shared by every subcommand, so all of them accept `--help`, reject
// unknown options with a one-line error and read `--name value` or `--name=value` the same way.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace yoco::app {

class ArgParser {
 public:
  ArgParser(std::string command, std::string usage, std::string description);

  // Declare options before parse(). A flag takes no value; an option takes one.
  void flag(const std::string& name, const std::string& help);
  void option(const std::string& name, const std::string& metavar, const std::string& help,
              std::optional<std::string> default_value = std::nullopt);
  // Positional arguments are collected in order; `min`/`max` bound their count (max < 0: unbounded).
  void positionals(const std::string& metavar, int min, int max, const std::string& help);

  // Returns false when --help was asked (help already printed: exit 0). Throws yoco::Error on bad usage.
  bool parse(const std::vector<std::string>& args);

  bool has(const std::string& name) const;  // flag given, or option given / defaulted
  std::string get(const std::string& name) const;  // throws if the option is absent and has no default
  std::optional<std::string> get_opt(const std::string& name) const;
  double get_double(const std::string& name) const;  // throws a clear error when not a number
  long long get_int(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }
  std::string help_text() const;

 private:
  struct Spec {
    std::string name, metavar, help;
    bool is_flag = false;
    std::optional<std::string> default_value;
  };
  std::string command_, usage_, description_;
  std::vector<Spec> specs_;
  std::string pos_metavar_, pos_help_;
  int pos_min_ = 0, pos_max_ = 0;
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
  const Spec* find(const std::string& name) const;
};

}  // namespace yoco::app
