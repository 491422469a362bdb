// yoco eval qa | needle | summary: accuracy of a model on synthetic-world videos it was not trained on (seeds below
// 100000), through the real pipeline (MP4 → FFmpeg decode → sampler → vision encoder → stream session), with
// answer latency and cache bytes beside the accuracy. The work is in apps/eval/; this file is the command
// line.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "apps/args.h"
#include "apps/command.h"
#include "apps/common.h"
#include "apps/eval/eval_needle.h"
#include "apps/eval/eval_qa.h"
#include "apps/eval/eval_summary.h"
#include "apps/stream_cli.h"
#include "kernels/error.h"

namespace yoco::app {
namespace {

std::vector<double> parse_numbers(const std::string& s, const std::string& what) {
  std::vector<double> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    YOCO_REQUIRE(used == item.size() && !item.empty(),
                 "bad " + what + " list '" + s + "' (expected e.g. 1,10,60)");
    out.push_back(v);
  }
  YOCO_REQUIRE(!out.empty(), "empty " + what + " list");
  return out;
}

std::string default_work_dir() {
  return (std::filesystem::temp_directory_path() / ("yoco-eval-" + std::to_string(::getpid()))).string();
}

void declare_common(ArgParser& ap) {
  ap.option("model", "DIR", "model directory", default_model_dir());
  ap.option("seed-start", "S",
            "first world seed (evaluation seeds stay below 100000: training uses those above)", "1");
  ap.option("work-dir", "DIR",
            "where the videos are written (default: a temporary folder, removed afterwards)");
  ap.flag("keep", "keep the videos and truth files");
  ap.flag("quiet", "no progress lines on stderr");
  ap.flag("json", "machine-readable report");
}

uint64_t seed_start_of(const ArgParser& ap) {
  const long long s = ap.get_int("seed-start");
  YOCO_REQUIRE(s >= 0 && s < 100000,
               "--seed-start must be in 0..99999 (training uses the seeds from 100000 on)");
  return static_cast<uint64_t>(s);
}

std::function<void(const std::string&)> progress_of(const ArgParser& ap) {
  if (ap.has("quiet")) return {};
  return [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
}

// Removes the temporary folder unless the user named it or asked to keep it. Not copyable: one owner.
struct WorkDir {
  std::string path;
  bool remove = false;
  WorkDir(std::string p, bool r) : path(std::move(p)), remove(r) {}
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;
  ~WorkDir() {
    if (!remove) return;
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// The options every eval takes (declare_common): model, seeds, work folder, progress. The returned WorkDir
// removes a temporary folder when it goes out of scope.
template <class Options>
WorkDir apply_common(const ArgParser& ap, Options& o) {
  o.model = ap.get("model");
  o.seed_start = seed_start_of(ap);
  const auto named = ap.get_opt("work-dir");
  o.work_dir = named.value_or(default_work_dir());
  o.keep_files = ap.has("keep");
  o.progress = progress_of(ap);
  return WorkDir(o.work_dir, !named && !o.keep_files);  // a prvalue: never copied
}

template <class Report>
void print_report(const ArgParser& ap, const Report& r) {
  if (ap.has("json"))
    std::printf("%s\n", dump_json(r.to_json()).c_str());
  else
    std::printf("%s", r.table().c_str());
}

int run_eval_qa(const std::vector<std::string>& args) {
  ArgParser ap(
      "eval qa", "yoco eval qa [--model DIR] [--videos N] [--seconds T] [--seed-start S] [--json]",
      "Generates N world videos (seeds S … S+N−1), streams each once through the runtime and asks its\n"
      "truth questions when the stream reaches their moments; prints exact-match accuracy per question\n"
      "type and overall, answer latency (mean, p50, p99) and cache bytes at the end of a video.");
  declare_common(ap);
  ap.option("videos", "N", "number of videos", "20");
  ap.option("seconds", "T", "length of each video", "60");
  ap.option("summary-tokens", "N", "answer length cap for summary questions (at least the model's cap)",
            "256");
  ap.option("misses", "N", "wrong answers listed per type in the JSON report (a large N lists every one)", "3");
  if (!ap.parse(args)) return 0;

  eval::QaEvalOptions o;
  const WorkDir wd = apply_common(ap, o);
  o.videos = static_cast<int>(ap.get_int("videos"));
  o.seconds = ap.get_double("seconds");
  o.summary_tokens = static_cast<int>(ap.get_int("summary-tokens"));
  const int64_t misses = ap.get_int("misses");
  if (misses < 0 || misses > 1000000) throw Error("--misses must be in 0..1000000");
  o.misses_per_type = static_cast<int>(misses);
  print_report(ap, eval::run_qa_eval(o));
  return 0;
}

int run_eval_needle(const std::vector<std::string>& args) {
  ArgParser ap(
      "eval needle",
      "yoco eval needle [--model DIR] [--lengths 1,10,60] [--depths 0,25,50,75,100] [--trials K]\n"
      "                        [--png FILE] [--quick] [--json]",
      "The streaming needle test: one code in a white box at each depth of streams of each length (1 fps),\n"
      "look-alike distractor codes elsewhere, needle-absent controls. At the end of each stream asks\n"
      "\"what code was shown in the white box?\" and \"when was the code in the white box shown?\".\n"
      "Prints the length × depth accuracy table, the absent-control accuracy and the timestamp error;\n"
      "--png writes the heatmap. --quick: lengths 1,3 min and 2 trials (a CI-sized run).");
  declare_common(ap);
  ap.option("lengths", "MINUTES", "stream lengths in minutes, comma-separated", "1,10,60");
  ap.option("depths", "PERCENT", "needle depths in percent of the stream, comma-separated", "0,25,50,75,100");
  ap.option("trials", "K", "streams per length and depth", "3");
  ap.option("controls", "K", "needle-absent streams per length (default: as many as --trials)");
  ap.option("distractors", "N", "look-alike codes per stream (yellow, no box)", "3");
  ap.option("png", "FILE", "write the length × depth heatmap here (PNG)");
  ap.flag("quick", "lengths 1,3 and 2 trials unless given");
  if (!ap.parse(args)) return 0;

  eval::NeedleEvalOptions o;
  const WorkDir wd = apply_common(ap, o);
  const bool quick = ap.has("quick");
  auto given = [&](const std::string& name) {
    for (const auto& a : args)
      if (a == "--" + name || a.rfind("--" + name + "=", 0) == 0) return true;
    return false;
  };
  o.lengths_min = parse_numbers(quick && !given("lengths") ? "1,3" : ap.get("lengths"), "--lengths");
  o.depths_pct = parse_numbers(ap.get("depths"), "--depths");
  o.trials = static_cast<int>(quick && !given("trials") ? 2 : ap.get_int("trials"));
  if (ap.get_opt("controls")) o.controls = static_cast<int>(ap.get_int("controls"));
  o.distractors = static_cast<int>(ap.get_int("distractors"));
  const auto png = ap.get_opt("png");
  YOCO_REQUIRE(!png || eval::heatmap_available(), "--png needs OpenCV imgcodecs and this build has none");
  const eval::NeedleReport r = eval::run_needle_eval(o);
  if (png) eval::write_heatmap_png(r.heatmap(), *png);
  if (ap.has("json")) {
    auto j = r.to_json();
    if (png) j["png"] = *png;
    std::printf("%s\n", dump_json(j).c_str());
  } else {
    std::printf("%s", r.table().c_str());
    if (png) std::printf("heatmap: %s\n", png->c_str());
  }
  return 0;
}

int run_eval_summary(const std::vector<std::string>& args) {
  ArgParser ap(
      "eval summary", "yoco eval summary [--model DIR] [--videos N] [--seconds T] [--tolerance S] [--json]",
      "Summarises N world videos (seeds S … S+N−1) exactly as `yoco summarize` does (the model's caption\n"
      "prompt and period) and matches the \"mm:ss event\" items of the events it prints one to one\n"
      "against the ground-truth event log: event recall and precision with timestamps within --tolerance\n"
      "seconds, the timestamp error, and recall ignoring time; a second row scores the captions as the\n"
      "model said them, stray items (stamped outside the caption's window) included.");
  declare_common(ap);
  ap.option("videos", "N", "number of videos", "10");
  ap.option("seconds", "T", "length of each video", "60");
  ap.option("tolerance", "S", "largest timestamp error of a matched event, seconds", "2");
  ap.option("caption-context", "S", "seconds of recent video a caption reads, 0: all (default: the model's)");
  if (!ap.parse(args)) return 0;
  eval::SummaryEvalOptions o;
  if (ap.get_opt("caption-context")) o.caption_context = ap.get_double("caption-context");
  const WorkDir wd = apply_common(ap, o);
  o.videos = static_cast<int>(ap.get_int("videos"));
  o.seconds = ap.get_double("seconds");
  o.tolerance = ap.get_double("tolerance");
  print_report(ap, eval::run_summary_eval(o));
  return 0;
}

int run_eval(const std::vector<std::string>& args) {
  const std::string usage =
      "usage: yoco eval qa [options]       Q&A accuracy per question type on unseen world videos\n"
      "       yoco eval needle [options]   streaming needle test (length × depth table, heatmap)\n"
      "       yoco eval summary [options]  events told by `yoco summarize` vs the ground truth\n"
      "each takes --help";
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::printf("%s\n", usage.c_str());
    return args.empty() ? 2 : 0;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "qa") return run_eval_qa(rest);
  if (args[0] == "needle") return run_eval_needle(rest);
  if (args[0] == "summary") return run_eval_summary(rest);
  throw Error("unknown eval '" + args[0] + "' (expected qa, needle or summary)");
}

}  // namespace

YOCO_COMMAND("eval", "accuracy on unseen synthetic videos: Q&A per type, streaming needle test, summaries",
             run_eval);

}  // namespace yoco::app
