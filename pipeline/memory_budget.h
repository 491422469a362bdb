// MemoryBudget: the most bytes one stream's state may hold (global cache pages + self-decoder state), and the
// declared policy once ingest would go past it (DESIGN.md, "Errors, threads, memory"):
//   stop   ingest ends (state "ended", reason "budget"); the stream stays open and answers questions over
//          what it holds.
//   evict  drop the oldest cache pages, keeping the first `sink_pages` (an attention sink) — NOT AVAILABLE
//          YET: the paged cache (llm/kv_cache.h) cannot drop middle pages; choosing it is an error.
//   spill  move cold pages to `spill_dir` — NOT AVAILABLE YET, for the same reason; choosing it is an error.
// The check runs after every ingested frame; a budget of 0 means unlimited.
#pragma once

#include <cstddef>
#include <string>

namespace yoco::pipeline {

enum class BudgetPolicy { kStop, kEvictOldest, kSpill };

struct MemoryBudget {
  size_t max_bytes = 0;  // 0: unlimited
  BudgetPolicy policy = BudgetPolicy::kStop;
  int sink_pages = 1;
  std::string spill_dir;

  // Throws yoco::Error for a policy this build cannot honour (see the header comment).
  void validate() const;
  bool exceeded(size_t bytes) const { return max_bytes > 0 && bytes > max_bytes; }
};

const char* budget_policy_name(BudgetPolicy p);
// "stop", "evict", "spill"; throws yoco::Error naming the value otherwise.
BudgetPolicy parse_budget_policy(const std::string& s);
// "512M", "2G", "64k", "1000" (bytes); throws yoco::Error on anything else.
size_t parse_byte_size(const std::string& s);

}  // namespace yoco::pipeline
