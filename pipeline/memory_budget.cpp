#include "pipeline/memory_budget.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "kernels/error.h"

namespace yoco::pipeline {

const char* budget_policy_name(BudgetPolicy p) {
  switch (p) {
    case BudgetPolicy::kStop: return "stop";
    case BudgetPolicy::kEvictOldest: return "evict";
    case BudgetPolicy::kSpill: return "spill";
  }
  return "unknown";
}

BudgetPolicy parse_budget_policy(const std::string& s) {
  if (s == "stop") return BudgetPolicy::kStop;
  if (s == "evict") return BudgetPolicy::kEvictOldest;
  if (s == "spill") return BudgetPolicy::kSpill;
  throw Error("unknown memory policy '" + s + "' (stop, evict, spill)");
}

void MemoryBudget::validate() const {
  YOCO_REQUIRE(sink_pages >= 0 && sink_pages <= 65536, "sink_pages must be in 0..65536");
}

std::string MemoryBudget::spill_directory() const {
  if (!spill_dir.empty()) return spill_dir;
  std::error_code ec;
  const auto tmp = std::filesystem::temp_directory_path(ec);
  return ec ? std::string("/tmp") : tmp.string();
}

size_t parse_byte_size(const std::string& s) {
  YOCO_REQUIRE(!s.empty(), "empty byte size");
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  YOCO_REQUIRE(end != s.c_str() && std::isfinite(v) && v >= 0, "bad byte size '" + s + "'");
  std::string unit(end);
  if (!unit.empty() && (unit.back() == 'B' || unit.back() == 'b')) unit.pop_back();
  double mult = 1;
  if (unit.empty()) mult = 1;
  else if (unit == "k" || unit == "K") mult = 1024.0;
  else if (unit == "M" || unit == "m") mult = 1024.0 * 1024.0;
  else if (unit == "G" || unit == "g") mult = 1024.0 * 1024.0 * 1024.0;
  else throw Error("bad byte size '" + s + "' (use a number with an optional k, M or G)");
  // Bounded before the cast: a double past size_t's range does not convert ("1e300" was undefined behaviour).
  const double bytes = v * mult;
  YOCO_REQUIRE(bytes <= 9007199254740992.0, "byte size '" + s + "' is too large (2^53 bytes at most)");
  return static_cast<size_t>(bytes);
}

}  // namespace yoco::pipeline
