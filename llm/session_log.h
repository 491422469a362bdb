// SessionLog: a session's state kept on disk incrementally, so that a process killed at any moment can
// rebuild the session as it was at its last checkpoint (docs/PERSISTENCE.md).
//
// The log is a RecordFile (llm/record_file.h) of
//   HEADER      once, first: JSON — format, model identity (Model::identity), session options, cache
//               geometry, self-state size, and the caller's metadata (a stream's id, source, options);
//   PAGE        a full cache page as it fills: cache index, absolute page number, the page's bytes (a full
//               page never changes again, so it is written once);
//   CHECKPOINT  the small state: length, per cache its held/evicted counts and the partial last page, the
//               self-decoder state image, and the caller's JSON (a stream's frame count, pts, instruction...).
// Recovery takes the last intact CHECKPOINT and the PAGE records before it, and drops everything after it
// (a torn record, pages of a checkpoint that never came). A state written for another model, another cache
// layout or by a damaged header is refused with an error that says so.
//
// Evicted pages stay in the file until the log is compacted: checkpoint() rewrites the file (to a temporary
// name, then an atomic rename) once dead bytes exceed the live ones by `compact_slack_bytes`.
//
// Thread safety: one thread at a time (the stream's ingest thread, under its session lock).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "llm/record_file.h"
#include "llm/session.h"

namespace yoco::llm {

struct SessionLogOptions {
  FsyncPolicy fsync = FsyncPolicy::kCheckpoint;
  uint64_t compact_slack_bytes = uint64_t{64} << 20;  // compact when file bytes > 2 × live bytes + this
};

struct RecoveryReport {
  uint64_t file_bytes = 0;     // the file as found
  uint64_t kept_bytes = 0;     // up to the end of the last intact checkpoint
  uint64_t dropped_bytes = 0;  // after it: a torn record and/or records no checkpoint covers
  std::string damage;          // why the walk stopped early ("" when every record was intact)
  int64_t checkpoints = 0;     // intact checkpoints seen
  int64_t pages = 0;           // pages loaded
  nlohmann::json to_json() const;
};

// What a state file says about itself, read without a model (yoco stream info, listing a state directory).
struct SessionLogInfo {
  nlohmann::json header;      // the HEADER record (its "meta" holds the caller's metadata)
  nlohmann::json checkpoint;  // the caller's JSON of the last intact checkpoint
  int64_t n_tokens = 0;
  RecoveryReport report;
};

class SessionLog {
 public:
  // Creates `path` (never overwriting a file) and writes the header, every full page of `session` and a
  // first checkpoint with `state`. Throws yoco::Error.
  static std::unique_ptr<SessionLog> create(const std::string& path, const Session& session,
                                            const nlohmann::json& meta, const nlohmann::json& state,
                                            const SessionLogOptions& options = {});

  struct Recovered {
    std::unique_ptr<SessionLog> log;  // open for appending (null when recovered read-only)
    std::unique_ptr<Session> session;
    nlohmann::json meta;   // the caller's metadata from the header
    nlohmann::json state;  // the caller's JSON from the last checkpoint
    RecoveryReport report;
  };
  // Rebuilds the session of the last intact checkpoint on `model`, whose identity must be the one the file
  // was written with. `max_batch` overrides the saved activation size (it does not change any result).
  // With `for_append`, the file is truncated to that checkpoint and returned open for appending. Throws
  // yoco::Error: not a state file, written for another model, no intact checkpoint, pages missing.
  static Recovered recover(const std::string& path, std::shared_ptr<const Model> model, bool for_append,
                           const SessionLogOptions& options = {}, int max_batch = 0);
  static SessionLogInfo info(const std::string& path);

  // Appends the pages of `session` that have become full since the last call.
  void append_pages(const Session& session);
  // append_pages, then a checkpoint record (synced per the fsync policy); compacts the file when it is
  // mostly dead pages.
  void checkpoint(const Session& session, const nlohmann::json& state);
  // Rewrites the file with the live pages and one checkpoint only (atomic rename over the old file).
  void compact(const Session& session, const nlohmann::json& state);
  // A self-contained copy at `out` (one checkpoint, live pages only), e.g. to move a stream elsewhere.
  void export_to(const std::string& out, const Session& session, const nlohmann::json& state) const;

  const std::string& path() const { return file_.path(); }
  uint64_t bytes() const { return file_.size(); }
  int64_t checkpoints_written() const { return checkpoints_; }

 private:
  SessionLog(RecordFileWriter file, nlohmann::json header, const SessionLogOptions& options);
  // A new file at `path` holding `session` as it is (header, every held full page, one checkpoint);
  // removed again if writing fails. create, compact and export_to are this.
  static SessionLog write_fresh(const std::string& path, nlohmann::json header, const Session& session,
                                const nlohmann::json& state, const SessionLogOptions& options);
  void mark_pages_written(const Session& session);  // after recovery: every held full page is in the file
  void write_checkpoint_record(const Session& session, const nlohmann::json& state);
  uint64_t live_bytes(const Session& session) const;

  RecordFileWriter file_;
  nlohmann::json header_;
  SessionLogOptions opts_;
  std::vector<int64_t> next_page_;  // per cache: absolute page number of the first page not yet written
  int64_t checkpoints_ = 0;
};

}  // namespace yoco::llm
