#include "apps/common.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "kernels/error.h"

namespace yoco::app {

std::string default_model_dir() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("YOCO_MODEL"); env && *env) return env;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    // build/bin/yoco → <source>/assets/models/demo; also try the source dir recorded at build time.
    for (fs::path p = exe.parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path()) {
      fs::path cand = p / "assets" / "models" / "demo";
      if (fs::is_directory(cand)) return cand.string();
    }
  }
  return "assets/models/demo";
}

std::vector<int32_t> read_token_file(const std::string& path) {
  std::ifstream in(path);
  YOCO_REQUIRE(in.good(), "cannot open token file '" + path + "'");
  std::vector<int32_t> out;
  std::string word;
  while (in >> word) {
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(word.c_str(), &end, 10);
    YOCO_REQUIRE(end && *end == '\0' && errno == 0 && v >= 0 && v <= INT32_MAX,
                 path + ": token " + std::to_string(out.size()) + " ('" + word.substr(0, 32) +
                     "') is not a non-negative integer id");
    out.push_back(static_cast<int32_t>(v));
  }
  return out;
}

bool stderr_is_tty() { return isatty(STDERR_FILENO) == 1; }

}  // namespace yoco::app
