#include "apps/common.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "kernels/error.h"

namespace yoco::app {
namespace {
// This program's path (empty where /proc/self/exe cannot be read).
std::filesystem::path self_exe() {
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path() : exe;
}
std::vector<std::string>& process_args() {  // set_process_args
  static std::vector<std::string> args;
  return args;
}
}  // namespace

std::string default_model_dir() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("YOCO_MODEL"); env && *env) return env;
  const fs::path exe = self_exe();
  if (!exe.empty()) {
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

void set_process_args(int argc, char** argv) { process_args().assign(argv, argv + argc); }

void exec_cuda_build(const std::string& what) {
  namespace fs = std::filesystem;
  const fs::path exe = self_exe();
  const fs::path helper = exe.empty() ? fs::path() : exe.parent_path() / "yoco-cuda";
  if (helper.empty() || access(helper.c_str(), X_OK) != 0)
    throw Error(what + ": this yoco was built without the CUDA backend (nvcc not found: no yoco-cuda beside " +
                (exe.empty() ? std::string("this program") : exe.string()) + ")");
  YOCO_REQUIRE(!process_args().empty(), what + ": the command line was not recorded (set_process_args)");
  std::vector<std::string> args = process_args();
  args[0] = helper.string();
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  execv(helper.c_str(), argv.data());
  throw Error(what + ": cannot run " + helper.string() + ": " + std::strerror(errno));
}

}  // namespace yoco::app
