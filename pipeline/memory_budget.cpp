#include "pipeline/memory_budget.h"

#include <cctype>
#include <cmath>
#include <cstdlib>

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
  YOCO_REQUIRE(policy == BudgetPolicy::kStop,
               std::string("memory policy '") + budget_policy_name(policy) +
                   "' is not available in this build (the paged cache cannot drop or spill pages yet); use 'stop'");
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
  return static_cast<size_t>(v * mult);
}

}  // namespace yoco::pipeline
