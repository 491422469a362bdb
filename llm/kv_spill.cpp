#include "llm/kv_spill.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

#include "kernels/error.h"

namespace yoco::llm {

namespace {
std::string sys_error() { return std::strerror(errno); }
size_t os_page() {
  static const size_t p = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  return p;
}
}  // namespace

KvSpillFile::KvSpillFile(const std::string& dir, const std::string& prefix) {
  YOCO_REQUIRE(!dir.empty(), "spill: no spill directory");
  std::string tmpl = dir + (dir.back() == '/' ? "" : "/") + prefix + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  fd_ = ::mkstemp(buf.data());  // O_EXCL, mode 0600
  YOCO_REQUIRE(fd_ >= 0, "spill: cannot create a file in '" + dir + "': " + sys_error());
  path_ = buf.data();
}

KvSpillFile::~KvSpillFile() { remove(); }

void KvSpillFile::remove() {
  if (removed_) return;
  removed_ = true;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!path_.empty()) ::unlink(path_.c_str());
}

std::shared_ptr<const uint8_t> KvSpillFile::write(const uint8_t* data, size_t n) {
  YOCO_REQUIRE(!removed_, "spill: the spill file was removed");
  YOCO_REQUIRE(n > 0, "spill: empty write");
  const size_t off = end_;
  for (size_t done = 0; done < n;) {
    const ssize_t w = ::pwrite(fd_, data + done, n - done, static_cast<off_t>(off + done));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const std::string why = w < 0 ? sys_error() : "short write";
      // Leave the file as it was: nothing references the partial bytes; they are overwritten next time.
      throw Error("spill: cannot write " + std::to_string(n) + " bytes to '" + path_ + "': " + why);
    }
    done += static_cast<size_t>(w);
  }
  void* m = ::mmap(nullptr, n, PROT_READ, MAP_SHARED, fd_, static_cast<off_t>(off));
  YOCO_REQUIRE(m != MAP_FAILED, "spill: cannot map '" + path_ + "': " + sys_error());
  end_ = off + (n + os_page() - 1) / os_page() * os_page();
  return std::shared_ptr<const uint8_t>(static_cast<const uint8_t*>(m),
                                        [n](const uint8_t* p) { ::munmap(const_cast<uint8_t*>(p), n); });
}

}  // namespace yoco::llm
