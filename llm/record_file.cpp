#include "llm/record_file.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/error.h"

namespace yoco::llm {

namespace {
constexpr char kFileMagic[8] = {'Y', 'O', 'C', 'O', 'S', 'T', 'A', 'T'};
constexpr uint32_t kFormatVersion = 1;
constexpr uint32_t kRecordMagic = 0x43455259;  // "YREC" little-endian
constexpr size_t kFileHeader = 16;
constexpr size_t kRecordHeader = 24;
constexpr uint64_t kMaxPayload = uint64_t{1} << 36;  // 64 GiB: anything larger is a damaged length

std::string sys_error() { return std::strerror(errno); }

// Slicing-by-8 tables for the reflected IEEE polynomial.
struct CrcTables {
  uint32_t t[8][256];
  CrcTables() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i)
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  }
};
const CrcTables& tables() {
  static const CrcTables t;
  return t;
}

void put_u32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
void put_u64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }
uint32_t get_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t get_u64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

void write_all(int fd, const uint8_t* p, size_t n, const std::string& path) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    YOCO_REQUIRE(w > 0, "state file '" + path + "': write failed: " + (w < 0 ? sys_error() : "no progress"));
    p += w;
    n -= static_cast<size_t>(w);
  }
}
}  // namespace

uint32_t crc32(const void* data, size_t n, uint32_t crc) {
  const auto& T = tables().t;
  const auto* p = static_cast<const uint8_t*>(data);
  crc = ~crc;
  while (n >= 8) {
    const uint32_t a = get_u32(p) ^ crc, b = get_u32(p + 4);
    crc = T[7][a & 0xFF] ^ T[6][(a >> 8) & 0xFF] ^ T[5][(a >> 16) & 0xFF] ^ T[4][a >> 24] ^ T[3][b & 0xFF] ^
          T[2][(b >> 8) & 0xFF] ^ T[1][(b >> 16) & 0xFF] ^ T[0][b >> 24];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = T[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

FsyncPolicy parse_fsync_policy(const std::string& name) {
  if (name == "none") return FsyncPolicy::kNone;
  if (name == "checkpoint") return FsyncPolicy::kCheckpoint;
  if (name == "always") return FsyncPolicy::kAlways;
  throw Error("unknown fsync policy '" + name + "' (none, checkpoint or always)");
}

const char* fsync_policy_name(FsyncPolicy p) {
  switch (p) {
    case FsyncPolicy::kNone: return "none";
    case FsyncPolicy::kCheckpoint: return "checkpoint";
    case FsyncPolicy::kAlways: return "always";
  }
  return "?";
}

// ---- reader ------------------------------------------------------------------------------------------------
RecordFileReader::RecordFileReader(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  YOCO_REQUIRE(fd >= 0, "state file '" + path + "': cannot open: " + sys_error());
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const std::string why = sys_error();
    ::close(fd);
    throw Error("state file '" + path + "': cannot stat: " + why);
  }
  size_ = static_cast<uint64_t>(st.st_size);
  if (size_ < kFileHeader || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error("state file '" + path + "': not a yoco state file (" +
                (S_ISREG(st.st_mode) ? std::to_string(size_) + " bytes, too short" : std::string("not a regular file")) +
                ")");
  }
  void* m = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  const std::string why = m == MAP_FAILED ? sys_error() : "";
  ::close(fd);
  YOCO_REQUIRE(m != MAP_FAILED, "state file '" + path + "': cannot map: " + why);
  map_ = static_cast<const uint8_t*>(m);
  if (std::memcmp(map_, kFileMagic, 8) != 0) {
    ::munmap(const_cast<uint8_t*>(map_), size_);
    map_ = nullptr;
    throw Error("state file '" + path + "': not a yoco state file (bad magic)");
  }
  const uint32_t version = get_u32(map_ + 8);
  if (version != kFormatVersion) {
    ::munmap(const_cast<uint8_t*>(map_), size_);
    map_ = nullptr;
    throw Error("state file '" + path + "': format version " + std::to_string(version) + ", this build reads " +
                std::to_string(kFormatVersion));
  }
  pos_ = kFileHeader;
}

RecordFileReader::~RecordFileReader() {
  if (map_) ::munmap(const_cast<uint8_t*>(map_), size_);
}

bool RecordFileReader::next(RecordView& out) {
  if (stopped_) return false;
  auto stop = [&](const std::string& why) {
    stopped_ = true;
    stop_reason_ = "damaged record at offset " + std::to_string(pos_) + ": " + why;
    return false;
  };
  if (pos_ == size_) {
    stopped_ = true;
    return false;
  }
  const uint8_t* h = map_ + pos_;
  if (size_ - pos_ < kRecordHeader) return stop("cut short in its header (torn write)");
  if (get_u32(h) != kRecordMagic) return stop("bad record magic");
  if (crc32(h, 20) != get_u32(h + 20)) return stop("header checksum mismatch");
  const uint64_t len = get_u64(h + 8);
  if (len > kMaxPayload) return stop("absurd payload length " + std::to_string(len));
  if (len > size_ - pos_ - kRecordHeader)
    return stop("payload cut short (" + std::to_string(size_ - pos_ - kRecordHeader) + " of " +
                std::to_string(len) + " bytes, torn write)");
  const uint8_t* payload = h + kRecordHeader;
  if (crc32(payload, len) != get_u32(h + 16)) return stop("payload checksum mismatch");
  out.type = get_u32(h + 4);
  out.offset = pos_;
  out.data = payload;
  out.size = len;
  pos_ += kRecordHeader + len;
  out.end = pos_;
  return true;
}

// ---- writer ------------------------------------------------------------------------------------------------
RecordFileWriter RecordFileWriter::create(const std::string& path, FsyncPolicy fsync) {
  RecordFileWriter w;
  w.path_ = path;
  w.fsync_ = fsync;
  w.fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  YOCO_REQUIRE(w.fd_ >= 0, "state file '" + path + "': cannot create: " + sys_error());
  uint8_t header[kFileHeader] = {};
  std::memcpy(header, kFileMagic, 8);
  put_u32(header + 8, kFormatVersion);
  try {
    write_all(w.fd_, header, sizeof header, path);
  } catch (...) {
    ::unlink(path.c_str());
    throw;
  }
  w.size_ = kFileHeader;
  return w;
}

RecordFileWriter RecordFileWriter::append_to(const std::string& path, uint64_t keep_bytes, FsyncPolicy fsync) {
  YOCO_REQUIRE(keep_bytes >= kFileHeader, "state file '" + path + "': truncation inside the file header");
  RecordFileWriter w;
  w.path_ = path;
  w.fsync_ = fsync;
  w.fd_ = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  YOCO_REQUIRE(w.fd_ >= 0, "state file '" + path + "': cannot open for writing: " + sys_error());
  YOCO_REQUIRE(::ftruncate(w.fd_, static_cast<off_t>(keep_bytes)) == 0,
               "state file '" + path + "': cannot truncate: " + sys_error());
  YOCO_REQUIRE(::lseek(w.fd_, static_cast<off_t>(keep_bytes), SEEK_SET) >= 0,
               "state file '" + path + "': cannot seek: " + sys_error());
  w.size_ = keep_bytes;
  return w;
}

RecordFileWriter::RecordFileWriter(RecordFileWriter&& o) noexcept
    : path_(std::move(o.path_)), fd_(o.fd_), size_(o.size_), fsync_(o.fsync_) {
  o.fd_ = -1;
}

RecordFileWriter& RecordFileWriter::operator=(RecordFileWriter&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(o.path_);
    fd_ = o.fd_;
    size_ = o.size_;
    fsync_ = o.fsync_;
    o.fd_ = -1;
  }
  return *this;
}

RecordFileWriter::~RecordFileWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void RecordFileWriter::append(uint32_t type, std::span<const std::span<const uint8_t>> parts) {
  YOCO_REQUIRE(fd_ >= 0, "state file '" + path_ + "': closed");
  uint64_t len = 0;
  uint32_t crc = 0;
  for (const auto& p : parts) {
    len += p.size();
    crc = crc32(p.data(), p.size(), crc);
  }
  uint8_t h[kRecordHeader];
  put_u32(h, kRecordMagic);
  put_u32(h + 4, type);
  put_u64(h + 8, len);
  put_u32(h + 16, crc);
  put_u32(h + 20, crc32(h, 20));
  try {
    write_all(fd_, h, sizeof h, path_);
    for (const auto& p : parts) write_all(fd_, p.data(), p.size(), path_);
    if (fsync_ == FsyncPolicy::kAlways) sync();
  } catch (...) {
    // Leave no torn record behind: cut the file back to the last record boundary.
    if (::ftruncate(fd_, static_cast<off_t>(size_)) == 0) ::lseek(fd_, static_cast<off_t>(size_), SEEK_SET);
    throw;
  }
  size_ += kRecordHeader + len;
}

void RecordFileWriter::sync() {
  YOCO_REQUIRE(fd_ >= 0, "state file '" + path_ + "': closed");
  YOCO_REQUIRE(::fdatasync(fd_) == 0, "state file '" + path_ + "': fdatasync failed: " + sys_error());
}

void RecordFileWriter::rename_to(const std::string& path) {
  sync();
  YOCO_REQUIRE(::rename(path_.c_str(), path.c_str()) == 0,
               "state file '" + path_ + "': cannot rename to '" + path + "': " + sys_error());
  path_ = path;
}

}  // namespace yoco::llm
