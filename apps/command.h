// Subcommand registry of the `yoco` program. Each subcommand lives in its own apps/cmd_<name>.cpp and
// registers itself with a static YOCO_COMMAND(...) so that main.cpp never changes when one is added.
// A command returns the process exit code; it may throw yoco::Error (or any std::exception), which main
// turns into a one-line "yoco <cmd>: error: ..." message and exit code 1.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace yoco::app {

using CommandFn = std::function<int(const std::vector<std::string>& args)>;

struct Command {
  std::string name;
  std::string summary;  // one line for `yoco --help`
  CommandFn run;        // args: everything after the subcommand name
};

std::vector<Command>& command_registry();

struct CommandRegistrar {
  CommandRegistrar(std::string name, std::string summary, CommandFn fn) {
    command_registry().push_back({std::move(name), std::move(summary), std::move(fn)});
  }
};

}  // namespace yoco::app

#define YOCO_COMMAND_CAT2(a, b) a##b
#define YOCO_COMMAND_CAT(a, b) YOCO_COMMAND_CAT2(a, b)
#define YOCO_COMMAND(name, summary, fn) \
  static ::yoco::app::CommandRegistrar YOCO_COMMAND_CAT(yoco_command_, __LINE__)(name, summary, fn)
