// The main() of the fuzz replay tests (tests/fuzz/CMakeLists.txt): runs a fuzz target's LLVMFuzzerTestOneInput
// on every file under the directories (or files) given, in name order, as libFuzzer would run one input. The
// target aborts on a finding, and a sanitizer build reports memory errors, so a replay that returns has passed.
//
// Usage: fuzz_replay_<name> CORPUS [MORE...]. CORPUS must exist and hold at least one file (a misnamed folder
// must not pass as "nothing to replay"); the others (regressions/<name>/) may be absent.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> files_under(const fs::path& root) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (fs::is_regular_file(root, ec)) return {root};
  if (!fs::is_directory(root, ec)) return out;
  for (const auto& e : fs::recursive_directory_iterator(root, ec))
    if (e.is_regular_file(ec) && e.path().filename().string().front() != '.') out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS [MORE...]\n", argv[0]);
    return 2;
  }
  size_t total = 0;
  for (int a = 1; a < argc; ++a) {
    const auto files = files_under(argv[a]);
    if (a == 1 && files.empty()) {
      std::fprintf(stderr, "%s: no input files under %s\n", argv[0], argv[a]);
      return 1;
    }
    for (const auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      if (!in) {
        std::fprintf(stderr, "%s: cannot read %s\n", argv[0], f.c_str());
        return 1;
      }
      const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      // A copy of exactly the file's size, so reads past the end are caught as the fuzzer would catch them.
      std::vector<uint8_t> input(bytes.begin(), bytes.end());
      std::fprintf(stderr, "replay %s (%zu bytes)\n", f.c_str(), input.size());
      static uint8_t none = 0;  // libFuzzer passes a valid pointer for an empty input too
      LLVMFuzzerTestOneInput(input.empty() ? &none : input.data(), input.size());
    }
    std::printf("%s: %zu inputs from %s\n", argv[0], files.size(), argv[a]);
    total += files.size();
  }
  std::printf("%s: %zu inputs replayed, no finding\n", argv[0], total);
  return 0;
}
