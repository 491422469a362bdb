// Helpers shared by the fuzz targets (tests/fuzz/, docs/FUZZING.md). A target reports a finding by aborting
// (yoco::fuzz::fail): libFuzzer saves the input, the replay test fails.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace yoco::fuzz {

[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "fuzz finding: %s\n", what);
  std::fflush(stderr);
  std::abort();
}

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// The path of this process's scratch file (in /dev/shm when writable: a fuzzer runs thousands of inputs a
// second through it), removed at exit. Readers that take a path read the input from it.
inline const std::string& scratch_path() {
  static char name[64];  // trivially destructible: still there when the atexit handler runs
  static const std::string path = [] {
    std::snprintf(name, sizeof name, "%s/yoco_fuzz_%ld", ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp",
                  static_cast<long>(::getpid()));
    std::atexit([] { std::remove(name); });
    return std::string(name);
  }();
  return path;
}

// Writes the input to the scratch file; false when it cannot (the input is then skipped).
inline bool write_scratch(const std::string& path, const uint8_t* data, size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = size == 0 || std::fwrite(data, 1, size, f) == size;
  return std::fclose(f) == 0 && ok;
}

}  // namespace yoco::fuzz
