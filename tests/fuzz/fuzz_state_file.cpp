// Fuzz target: the stream state file reader (llm/session_log_scan.h, docs/PERSISTENCE.md), as
// `yoco stream info` and every resume read it. Any bytes must give a description or a yoco::Error, never a
// crash, a hang or a read outside the file. What it returns must be self-consistent: the kept bytes within
// the file, a damaged tail reported exactly when bytes were dropped for damage, at least one checkpoint.
// Input: the whole file. Corpus: corpus/state_file/ (states of tests/data/runtime written by `yoco live
// --state-dir`: ended, torn, header only). Build and run: tools/fuzz.sh (docs/FUZZING.md).
#include <cstddef>
#include <cstdint>

#include "kernels/error.h"
#include "llm/session_log.h"
#include "tests/fuzz/fuzz_util.h"

using yoco::fuzz::fail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = yoco::fuzz::scratch_path();
  if (!yoco::fuzz::write_scratch(path, data, size)) return 0;
  yoco::llm::SessionLogInfo info;
  try {
    info = yoco::llm::SessionLog::info(path);
  } catch (const yoco::Error&) {
    return 0;
  }
  const auto& r = info.report;
  if (r.file_bytes != size) fail("file size misreported");
  if (r.kept_bytes > r.file_bytes || r.kept_bytes + r.dropped_bytes != r.file_bytes) fail("kept/dropped bytes");
  if (r.checkpoints < 1) fail("a state without a checkpoint was accepted");
  if (info.n_tokens < 0 || r.pages < 0) fail("negative counts");
  if (!info.header.is_object()) fail("an accepted header is not a JSON object");
  (void)info.header.dump();
  (void)info.checkpoint.dump();
  return 0;
}
