// build/bin/yoco: dispatches to the registered subcommands (apps/command.h).
#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "apps/command.h"
#include "apps/common.h"
#include "kernels/error.h"

namespace yoco::app {
std::vector<Command>& command_registry() {
  static std::vector<Command> commands;
  return commands;
}
}  // namespace yoco::app

static void print_usage() {
  auto commands = yoco::app::command_registry();
  std::sort(commands.begin(), commands.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  std::printf("usage: yoco <command> [options]   (yoco <command> --help for its options)\n\ncommands:\n");
  for (const auto& c : commands) std::printf("  %-10s %s\n", c.name.c_str(), c.summary.c_str());
}

int main(int argc, char** argv) {
  yoco::app::set_process_args(argc, argv);
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    print_usage();
    return argc < 2 ? 2 : 0;
  }
  const std::string name = argv[1];
  for (const auto& c : yoco::app::command_registry()) {
    if (c.name != name) continue;
    std::vector<std::string> args(argv + 2, argv + argc);
    try {
      return c.run(args);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "yoco %s: error: %s\n", name.c_str(), e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "yoco: error: unknown command '%s' (yoco --help lists them)\n", name.c_str());
  return 2;
}
