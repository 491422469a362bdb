// yoco summarize VIDEO [--format md|json|vtt] [--fps F] [--out FILE]: a timestamped summary of a video.
//
// The work is pipeline/summary.h (captions every --every seconds composed into events, an overall question at
// the end; prompts and period default to the model's). md: the overall paragraph and the events with mm:ss;
// json: the same as data; vtt: the events as WebVTT cues for players. A progress bar (position, speed × real
// time, ETA) goes to stderr on a terminal only.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "apps/args.h"
#include "apps/command.h"
#include "apps/common.h"
#include "apps/stream_cli.h"
#include "kernels/error.h"
#include "llm/model.h"
#include "pipeline/summary.h"

namespace yoco::app {

namespace {

void progress_line(const pipeline::StreamStats& st, double duration, double wall) {
  const double speed = wall > 0 ? st.pts / wall : 0.0;
  std::string eta = "--:--";
  if (duration > 0 && speed > 0) eta = format_mmss((duration - st.pts) / speed);
  const int width = 30;
  const double frac = duration > 0 ? std::min(1.0, st.pts / duration) : 0.0;
  std::string bar(static_cast<size_t>(frac * width), '#');
  bar.resize(width, '.');
  std::fprintf(stderr, "\r[%s] %s / %s  %.1fx  ETA %s  ", bar.c_str(), format_mmss(st.pts).c_str(),
               duration > 0 ? format_mmss(duration).c_str() : "?", speed, eta.c_str());
  std::fflush(stderr);
}

// One line of caption text: no line breaks (a cue ends at a blank line) and no "-->" (the cue timing arrow).
std::string one_line(std::string t) {
  for (auto& c : t)
    if (c == '\n' || c == '\r') c = ' ';
  for (size_t p; (p = t.find("-->")) != std::string::npos;) t.replace(p, 3, "->");
  return t;
}

}  // namespace

static int run_summarize(const std::vector<std::string>& args) {
  ArgParser ap("summarize", "yoco summarize VIDEO [--format md|json|vtt] [--fps F] [--out FILE] [--model DIR]",
               "A timestamped summary of VIDEO: captions every --every seconds of the video composed into events\n"
               "(mm:ss) and an overall paragraph. --format vtt writes WebVTT captions for players.");
  ap.positionals("VIDEO", 1, 1, "video file");
  ap.option("model", "DIR", "model directory", default_model_dir());
  ap.option("format", "FMT", "md, json or vtt", "md");
  ap.option("out", "FILE", "write the summary to FILE instead of stdout");
  ap.option("every", "S", "seconds of video between captions (default: the model's caption_every, else duration / 24 "
            "clamped to 2..60, 10 if unknown)");
  ap.option("prompt", "TEXT", "question asked for each caption (default: the model's caption_prompt)");
  ap.option("covers", "WHICH", "a caption tells of the time that follows it or the time that precedes it: "
            "following|preceding (default: the model's caption_covers)");
  ap.option("caption-context", "S", "seconds of recent video a caption reads besides the first cache page; 0: "
            "all of it so far (default: the model's caption_context)");
  ap.option("threads", "N", "model threads while the video streams (0: the pool's, one per core or YOCO_THREADS); the "
            "answers after the last frame use the pool's. 1 leaves the cores to FFmpeg's decoder and the captions",
            "1");
  ap.option("caption-nice", "N", "lower the captions' thread priority by N (0..19): they then take the time FFmpeg's "
            "decoder leaves idle instead of preempting it", "19");
  ap.option("ingest-nice", "N", "lower the ingest thread's priority by N (0..19)", "19");
  ap.flag("keep-stray", "keep the \"mm:ss ...\" items a caption stamps outside the time it covers (preceding "
          "coverage; by default they are left out of the events and counted in the JSON's stray_items)");
  ap.option("overall-prompt", "TEXT", "question answered over the whole video (default: the model's summary_prompt)");
  declare_stream_options(ap);
  ap.flag("json", "same as --format json");
  if (!ap.parse(args)) return 0;

  std::string format = ap.has("json") ? "json" : ap.get("format");
  YOCO_REQUIRE(format == "md" || format == "json" || format == "vtt", "--format must be md, json or vtt");
  const std::string video = ap.positional()[0];
  std::shared_ptr<const llm::Model> model = llm::Model::load(ap.get("model"));
  pipeline::SummaryOptions o;
  o.stream = stream_options_from(ap);
  o.prompt = ap.get_opt("prompt");
  o.keep_stray = ap.has("keep-stray");
  o.overall_prompt = ap.get_opt("overall-prompt");
  if (ap.get_opt("every")) o.every = ap.get_double("every");
  if (ap.get_opt("caption-context")) o.context = ap.get_double("caption-context");
  const int64_t threads = ap.get_int("threads");
  YOCO_REQUIRE(threads >= 0 && threads <= 256, "--threads must be in 0..256");
  o.ingest_threads = static_cast<int>(threads);
  const int64_t caption_nice = ap.get_int("caption-nice"), ingest_nice = ap.get_int("ingest-nice");
  YOCO_REQUIRE(caption_nice >= 0 && caption_nice <= 19, "--caption-nice must be in 0..19");
  YOCO_REQUIRE(ingest_nice >= 0 && ingest_nice <= 19, "--ingest-nice must be in 0..19");
  o.stream.instruction_nice = static_cast<int>(caption_nice);
  o.stream.ingest_nice = static_cast<int>(ingest_nice);
  if (auto c = ap.get_opt("covers")) {
    YOCO_REQUIRE(*c == "following" || *c == "preceding", "--covers must be following or preceding");
    o.preceding = *c == "preceding";
  }
  if (stderr_is_tty())
    o.on_progress = [](const pipeline::StreamStats& st, double duration, double wall) {
      progress_line(st, duration, wall);
    };
  const pipeline::Summary sum = pipeline::summarize_video(std::move(model), video, o);
  if (o.on_progress) std::fprintf(stderr, "\n");
  const auto& events = sum.events;
  const auto& st = sum.stats;

  std::ostringstream out;
  if (format == "json") {
    nlohmann::ordered_json j;
    j["video"] = video;
    j["duration"] = sum.duration;
    j["summary"] = sum.overall;
    j["events"] = nlohmann::ordered_json::array();
    for (const auto& e : events)
      j["events"].push_back({{"start", e.start}, {"end", e.end}, {"time", format_mmss(e.start)}, {"text", e.text}});
    j["captions"] = sum.captions.size();
    j["stray_items"] = sum.stray_items;
    j["overall_stray_items"] = sum.overall_stray_items;
    j["every"] = sum.every;
    j["caption_context"] = sum.context;
    j["covers"] = sum.preceding ? "preceding" : "following";
    j["frames"] = st.frames;
    j["wall_seconds"] = sum.wall_s;
    j["timings"] = {{"ingest_s", sum.ingest_s}, {"captions_after_ingest_s", sum.captions_s},
                    {"tail_caption_s", sum.tail_s}, {"overall_s", sum.overall_s},
                    {"ingest_ms_per_frame", st.ingest_ms_mean}};
    out << dump_json(j) << "\n";
  } else if (format == "vtt") {
    out << "WEBVTT\n\n";
    for (const auto& e : events)
      out << format_vtt_time(e.start) << " --> " << format_vtt_time(std::max(e.end, e.start + 0.5)) << "\n"
          << one_line(e.text) << "\n\n";
  } else {
    out << "# Summary of " << video << "\n\n" << one_line(sum.overall) << "\n\n## Events\n\n";
    for (const auto& e : events)
      out << "- **" << format_mmss(e.start) << "–" << format_mmss(e.end) << "** " << one_line(e.text) << "\n";
  }
  if (auto path = ap.get_opt("out")) {
    std::ofstream f(*path, std::ios::binary);
    YOCO_REQUIRE(f.good(), "cannot write " + *path);
    f << out.str();
    YOCO_REQUIRE(f.good(), "cannot write " + *path);
  } else {
    std::fwrite(out.str().data(), 1, out.str().size(), stdout);
  }
  return 0;
}

YOCO_COMMAND("summarize", "timestamped summary of a video (md, json or WebVTT)", run_summarize);

}  // namespace yoco::app
