// yoco stream info|save|load: saved stream states (docs/PERSISTENCE.md) — look into one, export one from a
// state directory to a self-contained snapshot, import a snapshot into a state directory (e.g. to move a
// stream to another machine; `yoco serve --state-dir` resumes it at its next start).
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "apps/args.h"
#include "apps/command.h"
#include "apps/common.h"
#include "kernels/error.h"
#include "llm/model.h"
#include "llm/session_log.h"
#include "pipeline/state_dir.h"

namespace yoco::app {

namespace {
namespace fs = std::filesystem;
using nlohmann::json;

const char* kUsage =
    "yoco stream info FILE [--json]\n"
    "       yoco stream save (FILE | --state-dir DIR --stream ID) --out SNAPSHOT [--model DIR]\n"
    "       yoco stream load SNAPSHOT --state-dir DIR [--stream ID] [--model DIR]";

json describe(const std::string& path, const llm::SessionLogInfo& i) {
  const json meta = i.header.value("meta", json::object());
  json j = {{"path", path},
            {"stream", meta.value("stream", "")},
            {"source", meta.value("source", "")},
            {"model", i.header.value("model", "")},
            {"model_dir", i.header.value("model_dir", "")},
            {"tokens", i.n_tokens},
            {"frames", i.checkpoint.value("frames", 0)},
            {"pts", i.checkpoint.value("pts", 0.0)},
            {"ended", i.checkpoint.contains("ended") ? i.checkpoint["ended"] : json(nullptr)},
            {"instruction", i.checkpoint.contains("instruction") ? i.checkpoint["instruction"] : json(nullptr)},
            {"file", i.report.to_json()}};
  return j;
}

// Recovers `from` on the model (refusing another model's state) and writes a fresh, compact state file.
json copy_state(const std::string& from, const std::string& to, const std::string& model_dir,
                const std::string& new_id) {
  YOCO_REQUIRE(!fs::exists(to), "'" + to + "' exists; not overwriting it");
  auto model = llm::Model::load(model_dir);
  auto rec = llm::SessionLog::recover(from, model, /*for_append=*/false);
  json meta = rec.meta.is_object() ? rec.meta : json::object();
  if (!new_id.empty()) meta["stream"] = new_id;
  llm::SessionLog::create(to, *rec.session, meta, rec.state);
  json j = describe(to, llm::SessionLog::info(to));
  j["from"] = from;
  if (rec.report.dropped_bytes > 0) j["dropped_from_source"] = rec.report.to_json();
  return j;
}
}  // namespace

static int run_stream(const std::vector<std::string>& args) {
  ArgParser ap("stream", kUsage,
               "Saved stream states. info: what a state file holds (stream, source, model, frames, pts, file\n"
               "health). save: a self-contained snapshot of a saved stream (the last intact checkpoint, live\n"
               "pages only), also of a stream still being served. load: a snapshot into a state directory as\n"
               "<stream>.ystate, checked against the model first; `yoco serve --state-dir` resumes it.");
  ap.positionals("ACTION [FILE]", 1, 2, "info, save or load, then a state file or snapshot");
  ap.option("model", "DIR", "model directory (save, load: the state must be this model's)", default_model_dir());
  ap.option("state-dir", "DIR", "state directory (save: where the stream is; load: where it goes)");
  ap.option("stream", "ID", "stream id (save: which one; load: rename it)");
  ap.option("out", "FILE", "snapshot to write (save)");
  ap.flag("json", "machine-readable output");
  if (!ap.parse(args)) return 0;
  const std::string action = ap.positional()[0];
  const std::string file = ap.positional().size() > 1 ? ap.positional()[1] : "";
  json out;
  if (action == "info") {
    YOCO_REQUIRE(!file.empty(), "stream info: give a state file");
    out = describe(file, llm::SessionLog::info(file));
  } else if (action == "save") {
    std::string from = file;
    if (from.empty()) {
      YOCO_REQUIRE(ap.get_opt("state-dir") && ap.get_opt("stream"),
                   "stream save: give a state file, or --state-dir and --stream");
      from = pipeline::state_file_for(ap.get("state-dir"), ap.get("stream"));
    }
    YOCO_REQUIRE(fs::exists(from), "stream save: no saved state at '" + from + "'");
    const auto to = ap.get_opt("out");
    YOCO_REQUIRE(to.has_value(), "stream save: give --out SNAPSHOT");
    out = copy_state(from, *to, ap.get("model"), "");
  } else if (action == "load") {
    YOCO_REQUIRE(!file.empty(), "stream load: give a snapshot file");
    const auto dir = ap.get_opt("state-dir");
    YOCO_REQUIRE(dir.has_value(), "stream load: give --state-dir DIR");
    pipeline::prepare_state_dir(*dir);
    std::string id = ap.get_opt("stream").value_or("");
    if (id.empty()) id = llm::SessionLog::info(file).header.value("meta", json::object()).value("stream", "");
    YOCO_REQUIRE(!id.empty(), "stream load: the snapshot names no stream; give --stream ID");
    out = copy_state(file, pipeline::state_file_for(*dir, id), ap.get("model"), id);
  } else {
    throw Error("stream: unknown action '" + action + "' (info, save or load)");
  }
  if (ap.has("json")) {
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf("%s: stream '%s' (%s), %lld frames to %.2f s, %lld tokens, %s\n", out["path"].get<std::string>().c_str(),
                out["stream"].get<std::string>().c_str(), out["source"].get<std::string>().c_str(),
                static_cast<long long>(out["frames"].get<int64_t>()), out["pts"].get<double>(),
                static_cast<long long>(out["tokens"].get<int64_t>()),
                out["ended"].is_string() ? ("ended: " + out["ended"].get<std::string>()).c_str() : "running");
    const json& f = out["file"];
    std::printf("  model %s, %llu bytes, %lld checkpoints%s\n", out["model"].get<std::string>().c_str(),
                static_cast<unsigned long long>(f["file_bytes"].get<uint64_t>()),
                static_cast<long long>(f["checkpoints"].get<int64_t>()),
                f.contains("damage") ? (", damaged tail dropped: " + f["damage"].get<std::string>()).c_str() : "");
  }
  return 0;
}

YOCO_COMMAND("stream", "saved stream states: info, save (export a snapshot), load (import one)", run_stream);

}  // namespace yoco::app
