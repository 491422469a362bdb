// MemoryBudget: the most bytes one stream's state may hold (global cache pages + self-decoder state), and the
// declared policy once ingest would go past it (DESIGN.md, "Errors, threads, memory"):
//   stop   ingest ends (state "ended", reason "budget"); the stream stays open and answers questions over
//          what it holds.
//   evict  drop the oldest cache pages after the first `sink_pages` (an attention sink), a page of every
//          layer's cache at a time, until the next frame fits (llm::Session::evict_pages). Answers then read
//          the sink and the most recent pages; the YOCO self-decoder state has still seen everything. When
//          nothing is left to drop (the budget holds no more than the sink and one frame) ingest stops.
//   spill  the budget bounds the *resident* bytes: the oldest full pages are written to a per-stream file
//          in `spill_dir` and mapped back read-only (llm::KvSpillFile), so answers read every page, bit for
//          bit as before, and the file is removed when ingest ends. An I/O error (unwritable directory, full
//          disk) falls back to `stop`, the reason reported in the stream's stats (`budget_error`).
// The check runs before every ingested frame, so ingest never takes the stream past the budget; a budget of
// 0 means unlimited.
#pragma once

#include <cstddef>
#include <string>

namespace yoco::pipeline {

enum class BudgetPolicy { kStop, kEvictOldest, kSpill };

struct MemoryBudget {
  size_t max_bytes = 0;  // 0: unlimited
  BudgetPolicy policy = BudgetPolicy::kStop;
  int sink_pages = 1;     // evict: pages kept at the start of the stream
  std::string spill_dir;  // spill: directory of the spill file ("": the system's temporary directory)

  // Throws yoco::Error for settings out of range (sink_pages outside 0..65536).
  void validate() const;
  bool exceeded(size_t bytes) const { return max_bytes > 0 && bytes > max_bytes; }
  // spill_dir, or the temporary directory when it is empty.
  std::string spill_directory() const;
};

const char* budget_policy_name(BudgetPolicy p);
// "stop", "evict", "spill"; throws yoco::Error naming the value otherwise.
BudgetPolicy parse_budget_policy(const std::string& s);
// "512M", "2G", "64k", "1000" (bytes); throws yoco::Error on anything else.
size_t parse_byte_size(const std::string& s);

}  // namespace yoco::pipeline
