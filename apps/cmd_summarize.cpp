// yoco summarize VIDEO [--format md|json|vtt] [--fps F] [--out FILE]: a timestamped summary of a video.
//
// Composition (general, not tuned to any video): while the file is ingested, a caption instruction asks
// `--prompt` on a fork every `--every` seconds of stream time; consecutive identical captions merge into one
// event [start, end); at the end an overall question (`--overall-prompt`) is answered over the whole stream.
// The defaults come from the model (config.json `stream`: caption_prompt, caption_every, caption_covers,
// summary_prompt; docs/STREAM-FORMAT.md): a caption "covers" the time that follows it (a description of what
// is on screen now, the generic "what happened?") or the `every` seconds that precede it (a model trained to
// tell what happened in the last N seconds). md: the overall paragraph and the events with mm:ss; json: the same as
// data; vtt: the events as WebVTT cues for players. A progress bar (position, speed × real time, ETA) goes
// to stderr on a terminal only.
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
#include "pipeline/stream_runtime.h"

namespace yoco::app {

namespace {

struct Event {
  double start = 0, end = 0;
  std::string text;
};

// Consecutive captions with the same text become one event; empty captions are left out. Following: an event
// ends where the next caption starts (the last one at the end of the video). Preceding: a caption at t tells of
// the time since the caption before it (0 for the first), so it spans [previous, t].
std::vector<Event> compose_events(const std::vector<std::pair<double, std::string>>& captions, double end_pts,
                                  bool preceding) {
  std::vector<Event> out;
  if (preceding) {
    double prev = 0.0;
    for (const auto& [pts, text] : captions) {
      const double start = prev;
      prev = std::max(prev, pts);
      if (text.empty() || pts <= start) continue;
      if (!out.empty() && out.back().text == text && out.back().end == start) {
        out.back().end = pts;
        continue;
      }
      out.push_back({start, pts, text});
    }
    return out;
  }
  for (const auto& [pts, text] : captions) {
    if (!out.empty()) out.back().end = pts;
    if (text.empty()) continue;
    if (!out.empty() && out.back().text == text) continue;
    out.push_back({pts, pts, text});
  }
  if (!out.empty() && out.back().end <= out.back().start) out.back().end = std::max(end_pts, out.back().start);
  for (size_t i = 0; i + 1 < out.size(); ++i) out[i].end = out[i + 1].start;
  return out;
}

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
  ap.option("overall-prompt", "TEXT", "question answered over the whole video (default: the model's summary_prompt)");
  declare_stream_options(ap);
  ap.flag("json", "same as --format json");
  if (!ap.parse(args)) return 0;

  std::string format = ap.has("json") ? "json" : ap.get("format");
  YOCO_REQUIRE(format == "md" || format == "json" || format == "vtt", "--format must be md, json or vtt");
  const std::string video = ap.positional()[0];
  std::shared_ptr<const llm::Model> model = llm::Model::load(ap.get("model"));
  const pipeline::StreamFormat fmt = pipeline::StreamFormat::from_json(model->config().stream);
  bool preceding = fmt.caption_covers_preceding;
  if (auto c = ap.get_opt("covers")) {
    YOCO_REQUIRE(*c == "following" || *c == "preceding", "--covers must be following or preceding");
    preceding = *c == "preceding";
  }
  pipeline::StreamOptions so = stream_options_from(ap);
  so.policy = pipeline::OverflowPolicy::kBlock;  // a summary loses nothing
  so.instruction_backlog = 4;

  std::unique_ptr<pipeline::FrameSource> src = pipeline::open_stream_source(video, false);
  const double duration = src->info().duration;
  double every = duration > 0 ? std::min(60.0, std::max(2.0, duration / 24.0)) : 10.0;
  if (fmt.caption_every > 0) every = fmt.caption_every;
  if (ap.get_opt("every")) every = ap.get_double("every");
  YOCO_REQUIRE(every > 0.0, "--every must be > 0");
  pipeline::Instruction ins;
  ins.kind = pipeline::Instruction::Kind::kCaption;
  ins.text = "caption every " + std::to_string(every) + " s";
  ins.prompt = ap.get_opt("prompt").value_or(fmt.caption_prompt);
  YOCO_REQUIRE(!ins.prompt.empty(), "--prompt must not be empty");
  ins.every = every;
  so.instruction = ins;

  std::mutex mu;
  std::vector<std::pair<double, std::string>> captions;
  pipeline::RuntimeOptions ro;
  ro.on_event = [&](const pipeline::StreamEvent& e) {
    if (e.kind != "caption") return;
    std::lock_guard<std::mutex> lock(mu);
    captions.emplace_back(e.pts, e.text);
  };
  pipeline::StreamRuntime rt(model, ro);
  const auto t0 = std::chrono::steady_clock::now();
  auto stream = rt.open("summary", std::move(src), so);
  const bool bar = stderr_is_tty();
  while (!stream->wait_ended(0.25)) {
    if (bar)
      progress_line(stream->stats(), duration,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  stream->wait_instructions_idle();
  const auto st = stream->stats();
  if (bar) {
    progress_line(st, duration, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    std::fprintf(stderr, "\n");
  }
  YOCO_REQUIRE(st.error.empty(), st.error);
  const double end_pts = duration > 0 ? duration : st.pts;
  // Preceding captions leave the tail after the last one untold: one more caption, asked after the last
  // frame, covers it up to the end of the video.
  double last_caption = 0.0;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& c : captions) last_caption = std::max(last_caption, c.first);
  }
  if (preceding && std::max(end_pts, st.pts) > last_caption + 0.5) {
    const std::string tail = stream->ask(ins.prompt).text;
    std::lock_guard<std::mutex> lock(mu);
    captions.emplace_back(std::max(end_pts, st.pts), tail);
  }
  const pipeline::Answer overall = stream->ask(ap.get_opt("overall-prompt").value_or(fmt.summary_prompt));
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::sort(captions.begin(), captions.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  const std::vector<Event> events = compose_events(captions, end_pts, preceding);

  std::ostringstream out;
  if (format == "json") {
    nlohmann::ordered_json j;
    j["video"] = video;
    j["duration"] = end_pts;
    j["summary"] = overall.text;
    j["events"] = nlohmann::ordered_json::array();
    for (const auto& e : events)
      j["events"].push_back({{"start", e.start}, {"end", e.end}, {"time", format_mmss(e.start)}, {"text", e.text}});
    j["captions"] = captions.size();
    j["every"] = every;
    j["covers"] = preceding ? "preceding" : "following";
    j["frames"] = st.frames;
    j["wall_seconds"] = wall;
    out << dump_json(j) << "\n";
  } else if (format == "vtt") {
    out << "WEBVTT\n\n";
    for (const auto& e : events)
      out << format_vtt_time(e.start) << " --> " << format_vtt_time(std::max(e.end, e.start + 0.5)) << "\n"
          << one_line(e.text) << "\n\n";
  } else {
    out << "# Summary of " << video << "\n\n" << one_line(overall.text) << "\n\n## Events\n\n";
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
