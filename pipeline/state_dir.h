// A state directory (`yoco serve --state-dir`, `yoco live --state-dir`): one saved stream per file
// `<stream id>.ystate` (llm/session_log.h), resumed at start (docs/PERSISTENCE.md).
//
// Stream ids map to file names one to one: letters, digits and `_ - . :` stay, any other byte becomes %XX,
// so no id can name a path outside the directory.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/stream.h"

namespace yoco::pipeline {

inline constexpr const char* kStateSuffix = ".ystate";

std::string state_file_for(const std::string& dir, const std::string& stream_id);
// The saved streams' files in `dir`, sorted (compaction leftovers and other files ignored). Throws
// yoco::Error when `dir` is not a readable directory.
std::vector<std::string> list_state_files(const std::string& dir);
// Creates `dir` if needed and checks that a file can be created in it. Throws yoco::Error.
void prepare_state_dir(const std::string& dir);

// A saved stream recovered for resuming: its header metadata (the owner's description: "stream",
// "source", "options") and the state to hand to StreamOptions::resume. Throws yoco::Error (not a state
// file, another model, damaged beyond its first checkpoint).
struct SavedStream {
  std::string path;
  nlohmann::json meta;
  std::shared_ptr<StreamResume> resume;
  std::string end_reason;  // "" when ingest was still going
};
SavedStream recover_saved_stream(const std::string& path, std::shared_ptr<const llm::Model> model,
                                 const llm::SessionLogOptions& options = {});

}  // namespace yoco::pipeline
