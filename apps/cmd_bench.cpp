// yoco bench <name> [options]: dispatches to the benchmarks registered in apps/bench.h.
#include <algorithm>
#include <cstdio>

#include "apps/bench.h"
#include "apps/command.h"
#include "kernels/error.h"

namespace yoco::app {

std::vector<Bench>& bench_registry() {
  static std::vector<Bench> benches;
  return benches;
}

static int run_bench(const std::vector<std::string>& args) {
  auto benches = bench_registry();
  std::sort(benches.begin(), benches.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::printf("usage: yoco bench <name> [options]   (yoco bench <name> --help)\n\nbenchmarks:\n");
    for (const auto& b : benches) std::printf("  %-10s %s\n", b.name.c_str(), b.summary.c_str());
    return args.empty() ? 2 : 0;
  }
  for (const auto& b : benches)
    if (b.name == args[0]) return b.run(std::vector<std::string>(args.begin() + 1, args.end()));
  throw Error("unknown benchmark '" + args[0] + "' (yoco bench --help lists them)");
}

YOCO_COMMAND("bench", "benchmarks that print tables (llm, pipeline, stream)", run_bench);

}  // namespace yoco::app
