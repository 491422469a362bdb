// RecordFile: an append-only file of checksummed records, the storage under a stream's saved state
// (llm/session_log.h, docs/PERSISTENCE.md).
//
// Layout: an 16-byte file header ("YOCOSTAT", u32 format version, u32 zero), then records, each
//   u32 magic "YREC" | u32 type | u64 payload bytes | u32 CRC-32 of the payload | u32 CRC-32 of the 20 bytes
//   before it | payload
// little-endian. A reader walks the records in order and stops at the first one that is cut short (a torn
// write: the process died mid-record) or fails a checksum; everything before it is intact. Writers only ever
// append, or truncate back to a record boundary.
//
// Errors: a file that is not a record file, of another format version, unreadable or unwritable is a
// yoco::Error naming the path and the reason. A failed append truncates the file back to where the record
// began, so a disk-full error never leaves a torn record behind a live writer.
//
// Thread safety: none; one writer per file (the stream's ingest thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>

namespace yoco::llm {

uint32_t crc32(const void* data, size_t n, uint32_t crc = 0);  // IEEE 802.3 (zlib's), chainable

enum class FsyncPolicy {
  kNone,        // leave flushing to the OS (survives a killed process, not a power cut)
  kCheckpoint,  // fdatasync after every checkpoint (the default)
  kAlways,      // fdatasync after every record
};
FsyncPolicy parse_fsync_policy(const std::string& name);  // "none" | "checkpoint" | "always"
const char* fsync_policy_name(FsyncPolicy p);

struct RecordView {
  uint32_t type = 0;
  uint64_t offset = 0;  // of the record header in the file
  uint64_t end = 0;     // offset just past the payload
  const uint8_t* data = nullptr;
  uint64_t size = 0;
};

class RecordFileReader {
 public:
  // Maps `path` read-only and checks the file header. Throws yoco::Error.
  explicit RecordFileReader(const std::string& path);
  ~RecordFileReader();
  RecordFileReader(const RecordFileReader&) = delete;
  RecordFileReader& operator=(const RecordFileReader&) = delete;

  // The next intact record; false at the end of the file or at the first damaged record (see stop_reason).
  bool next(RecordView& out);
  uint64_t file_size() const { return size_; }
  uint64_t valid_end() const { return pos_; }  // just past the last intact record read so far
  // Empty after a clean end; otherwise what stopped the walk ("torn record at offset N: ...").
  const std::string& stop_reason() const { return stop_reason_; }

 private:
  std::string path_;
  const uint8_t* map_ = nullptr;
  uint64_t size_ = 0;
  uint64_t pos_ = 0;
  bool stopped_ = false;
  std::string stop_reason_;
};

class RecordFileWriter {
 public:
  // Creates `path` with a file header (refuses to overwrite an existing file). Throws yoco::Error.
  static RecordFileWriter create(const std::string& path, FsyncPolicy fsync);
  // Opens an existing record file for appending after truncating it to `keep_bytes` (a record boundary
  // found by RecordFileReader). Throws yoco::Error.
  static RecordFileWriter append_to(const std::string& path, uint64_t keep_bytes, FsyncPolicy fsync);
  RecordFileWriter(RecordFileWriter&& o) noexcept;
  RecordFileWriter& operator=(RecordFileWriter&& o) noexcept;
  RecordFileWriter(const RecordFileWriter&) = delete;
  RecordFileWriter& operator=(const RecordFileWriter&) = delete;
  ~RecordFileWriter();

  // Appends one record whose payload is the concatenation of `parts`. Throws yoco::Error (the file is
  // truncated back to its previous length first).
  void append(uint32_t type, std::span<const std::span<const uint8_t>> parts);
  void append(uint32_t type, std::initializer_list<std::span<const uint8_t>> parts) {
    append(type, std::span<const std::span<const uint8_t>>(parts.begin(), parts.size()));
  }
  void sync();  // fdatasync; throws yoco::Error
  // Atomically replaces the file at `path` by this one (rename), e.g. after writing a compacted copy.
  void rename_to(const std::string& path);
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  FsyncPolicy fsync_policy() const { return fsync_; }

 private:
  RecordFileWriter() = default;
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
  FsyncPolicy fsync_ = FsyncPolicy::kCheckpoint;
};

}  // namespace yoco::llm
