// KvSpillFile: the file one stream's cache pages are spilled to (DESIGN.md, "Errors, threads, memory": the
// `spill` policy). A spilled page's bytes are appended to the file and mapped back read-only, so attention
// reads them in place while their anonymous memory is freed (the kernel may then drop the clean file pages
// from RAM and read them again on demand).
//
// The file is created on construction (mkstemp under `dir`, mode 0600, never overwriting anything) and
// removed by remove() or the destructor. Mappings already handed out stay valid after either: they hold the
// file's inode, not its name, so forks still reading spilled pages keep working; the disk space is released
// when the last mapping goes.
//
// Errors (a directory that does not exist or is not writable, a full disk, a failed mmap) are yoco::Error
// naming the path and the system's reason; a failed write() leaves nothing referenced.
//
// Thread safety: one thread at a time (the stream's ingest thread, under the session lock); the mappings
// returned are immutable and may be read from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace yoco::llm {

class KvSpillFile {
 public:
  // Creates `dir`/`prefix`-XXXXXX. Throws yoco::Error when it cannot.
  KvSpillFile(const std::string& dir, const std::string& prefix);
  ~KvSpillFile();
  KvSpillFile(const KvSpillFile&) = delete;
  KvSpillFile& operator=(const KvSpillFile&) = delete;

  // Appends n bytes (at an offset aligned to the OS page size) and returns a read-only shared mapping of
  // exactly those bytes. Throws yoco::Error on I/O failure or after remove().
  std::shared_ptr<const uint8_t> write(const uint8_t* data, size_t n);
  // Closes and unlinks the file (idempotent); mappings stay valid.
  void remove();

  const std::string& path() const { return path_; }
  bool removed() const { return removed_; }
  size_t bytes_written() const { return end_; }  // file length, alignment padding included

 private:
  std::string path_;
  int fd_ = -1;
  size_t end_ = 0;
  bool removed_ = false;
};

}  // namespace yoco::llm
