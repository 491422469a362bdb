#include "pipeline/state_dir.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <unistd.h>

#include "kernels/error.h"

namespace yoco::pipeline {

namespace fs = std::filesystem;

std::string state_file_for(const std::string& dir, const std::string& stream_id) {
  YOCO_REQUIRE(!stream_id.empty(), "an empty stream id has no state file");
  std::string name;
  for (unsigned char c : stream_id) {
    if (std::isalnum(c) || c == '_' || c == '-' || c == '.' || c == ':') {
      name += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      name += buf;
    }
  }
  if (name[0] == '.') name = "%2E" + name.substr(1);  // never a hidden file, never "." or ".."
  return (fs::path(dir) / (name + kStateSuffix)).string();
}

std::vector<std::string> list_state_files(const std::string& dir) {
  std::error_code ec;
  YOCO_REQUIRE(fs::is_directory(dir, ec), "state directory '" + dir + "' does not exist");
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file(ec) && name.size() > std::string(kStateSuffix).size() &&
        name.compare(name.size() - std::string(kStateSuffix).size(), std::string::npos, kStateSuffix) == 0)
      out.push_back(e.path().string());
  }
  YOCO_REQUIRE(!ec, "state directory '" + dir + "': " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

void prepare_state_dir(const std::string& dir) {
  YOCO_REQUIRE(!dir.empty(), "no state directory given");
  std::error_code ec;
  fs::create_directories(dir, ec);
  YOCO_REQUIRE(fs::is_directory(dir), "state directory '" + dir + "' cannot be created: " + ec.message());
  YOCO_REQUIRE(::access(dir.c_str(), W_OK | X_OK) == 0, "state directory '" + dir + "' is not writable");
}

SavedStream recover_saved_stream(const std::string& path, std::shared_ptr<const llm::Model> model,
                                 const llm::SessionLogOptions& options) {
  auto rec = llm::SessionLog::recover(path, std::move(model), /*for_append=*/true, options);
  SavedStream s;
  s.path = path;
  s.meta = rec.meta.is_object() ? rec.meta : nlohmann::json::object();
  s.end_reason = saved_end_reason(rec.state);
  s.resume = std::make_shared<StreamResume>();
  s.resume->session = std::move(rec.session);
  s.resume->log = std::move(rec.log);
  s.resume->state = rec.state;
  s.resume->report = rec.report;
  return s;
}

}  // namespace yoco::pipeline
