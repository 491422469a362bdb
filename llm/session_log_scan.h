// Reading a session log (llm/session_log.h) without a model: the record walk shared by SessionLog::info
// and SessionLog::recover. Kept apart from the writer and from Session so that the state-file fuzz target
// (tests/fuzz/fuzz_state_file.cpp) links just this, the record file and the dtype table.
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/error.h"
#include "kernels/ops.h"
#include "llm/record_file.h"
#include "llm/session_log.h"

namespace yoco::llm::detail {

constexpr uint32_t kHeaderRecord = 1, kPageRecord = 2, kCheckpointRecord = 3;
constexpr const char* kStateFormat = "yoco-stream-state";
constexpr int kStateVersion = 1;

// Bounds-checked reads from a record payload.
struct Cursor {
  const uint8_t* p;
  uint64_t left;
  const std::string& where;
  template <typename T>
  T get() {
    YOCO_REQUIRE(left >= sizeof(T), where + ": record too short");
    T v;
    std::memcpy(&v, p, sizeof v);
    p += sizeof v;
    left -= sizeof v;
    return v;
  }
  const uint8_t* take(uint64_t n) {
    YOCO_REQUIRE(left >= n, where + ": record too short");
    const uint8_t* q = p;
    p += n;
    left -= n;
    return q;
  }
};

kernels::DType dtype_from_name(const std::string& n, const std::string& where);

// One parsed CHECKPOINT record (pointers into the mapped file).
struct CheckpointView {
  int64_t n_tokens = 0;
  struct Cache {
    int64_t held = 0, evicted = 0, gap_begin = 0;
    const uint8_t* tail_k = nullptr;  // the partial last page's tokens: K rows, then V rows
    const uint8_t* tail_v = nullptr;
    uint64_t tail_bytes = 0;          // of each
  };
  std::vector<Cache> caches;
  const uint8_t* self = nullptr;
  uint64_t self_len = 0;
  nlohmann::json state;
};

// The walk over a state file: header, pages by number, the last intact checkpoint.
struct Scan {
  nlohmann::json header;
  std::vector<size_t> page_bytes;
  std::vector<int> page_tokens;
  std::vector<std::map<int64_t, const uint8_t*>> pages;  // per cache: page number -> bytes (latest write)
  bool have_checkpoint = false;
  CheckpointView last;
  std::vector<std::map<int64_t, const uint8_t*>> pages_at_last;
  RecoveryReport report;
};

Scan scan(RecordFileReader& rd, const std::string& path);

}  // namespace yoco::llm::detail
