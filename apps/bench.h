// `yoco bench <name>`: benchmark programs register here (apps/bench_<name>.cpp) the way subcommands do.
// A bench prints a table (and the same table as JSON with --json); it warms up, repeats and reports medians.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace yoco::app {

struct Bench {
  std::string name;
  std::string summary;
  std::function<int(const std::vector<std::string>& args)> run;
};

std::vector<Bench>& bench_registry();

struct BenchRegistrar {
  BenchRegistrar(std::string name, std::string summary, std::function<int(const std::vector<std::string>&)> fn) {
    bench_registry().push_back({std::move(name), std::move(summary), std::move(fn)});
  }
};

}  // namespace yoco::app

#define YOCO_BENCH_CAT2(a, b) a##b
#define YOCO_BENCH_CAT(a, b) YOCO_BENCH_CAT2(a, b)
#define YOCO_BENCH(name, summary, fn) \
  static ::yoco::app::BenchRegistrar YOCO_BENCH_CAT(yoco_bench_, __LINE__)(name, summary, fn)
