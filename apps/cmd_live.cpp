// yoco live --source SPEC: ingest a live source (or a file played at real time); every line typed on stdin is
// a question, answered on a fork with the stream time it refers to while ingest continues. A line
// "/instruct TEXT" sets a standing instruction ("/instruct" alone clears it); its captions and alerts are
// printed as they come. A status line on stderr (terminal only): fps in, frames dropped, cache MB, last
// answer latency. Ends at the end of stdin (after the pending answers; with --until-end, after the source).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <thread>

#include "apps/args.h"
#include "apps/command.h"
#include "apps/common.h"
#include "apps/stream_cli.h"
#include "kernels/error.h"
#include "llm/model.h"
#include "pipeline/state_dir.h"
#include "pipeline/stream_runtime.h"

namespace yoco::app {

static int run_live(const std::vector<std::string>& args) {
  ArgParser ap("live", "yoco live --source SPEC [--model DIR] [--pace realtime|fast] [--json]",
               "Ingests SPEC (camera:N, rtsp://…, gst:…, zmq:…, or a file played at real time) and answers\n"
               "each line of stdin as a question about what was seen so far: \"[mm:ss] answer\".\n"
               "\"/instruct TEXT\" sets a standing instruction (e.g. \"caption every 10 s\").");
  ap.option("source", "SPEC", "the source");
  ap.option("model", "DIR", "model directory", default_model_dir());
  ap.option("pace", "P", "files: realtime (like a camera) or fast (as fast as ingest goes)", "realtime");
  ap.flag("until-end", "after the end of stdin, wait for the source to end");
  ap.flag("keep-dialogue", "keep questions and answers in the stream's context");
  ap.flag("json", "answers and events as JSON lines");
  ap.option("state-dir", "DIR", "keep the stream's state in DIR; resume it from there when it exists");
  ap.option("stream-id", "ID", "the stream's name in --state-dir", "live");
  ap.option("checkpoint-every", "SECONDS", "checkpoint interval with --state-dir", "1");
  declare_stream_options(ap);
  if (!ap.parse(args)) return 0;
  const std::string pace = ap.get("pace");
  YOCO_REQUIRE(pace == "realtime" || pace == "fast", "--pace must be realtime or fast");
  pipeline::StreamOptions so = stream_options_from(ap);
  so.realtime = pace == "realtime";
  const bool json = ap.has("json");

  std::mutex out_mu;
  auto print_line = [&](const std::string& s) {
    std::lock_guard<std::mutex> lock(out_mu);
    std::fprintf(stdout, "%s\n", s.c_str());
    std::fflush(stdout);
  };
  pipeline::RuntimeOptions ro;
  ro.on_event = [&](const pipeline::StreamEvent& e) {
    if (e.kind != "caption" && e.kind != "alert" && e.kind != "error") return;
    if (json)
      print_line(dump_json(nlohmann::json{{"kind", e.kind}, {"pts", e.pts}, {"text", e.text}}));
    else
      print_line("[" + format_mmss(e.pts) + "] " + e.kind + ": " + e.text);
  };
  auto model = llm::Model::load(ap.get("model"));
  std::string source = ap.get_opt("source").value_or("");
  std::unique_ptr<pipeline::FrameSource> src;
  if (auto dir = ap.get_opt("state-dir")) {
    pipeline::prepare_state_dir(*dir);
    const std::string path = pipeline::state_file_for(*dir, ap.get("stream-id"));
    so.persist.checkpoint_every = ap.get_double("checkpoint-every");
    YOCO_REQUIRE(so.persist.checkpoint_every > 0, "--checkpoint-every must be > 0");
    if (std::filesystem::exists(path)) {
      pipeline::SavedStream saved = pipeline::recover_saved_stream(path, model);
      if (source.empty()) source = saved.meta.value("source", "");
      so.resume = saved.resume;
      so.persist.meta = saved.meta;
      std::fprintf(stderr, "yoco live: resumed '%s' at %lld frames, %s%s\n", path.c_str(),
                   static_cast<long long>(saved.resume->state.value("frames", int64_t{0})),
                   format_mmss(saved.resume->state.value("pts", 0.0)).c_str(),
                   saved.end_reason.empty() ? "" : (" (ended: " + saved.end_reason + ")").c_str());
      if (!saved.end_reason.empty()) src = pipeline::make_ended_source(source);
    } else {
      so.persist.path = path;
      so.persist.meta = {{"stream", ap.get("stream-id")}, {"source", source}};
    }
  }
  YOCO_REQUIRE(!source.empty(), "give --source SPEC");
  // A fresh stream's camera or server must answer now (a clear error, not a silent retry); a resumed one's
  // source is retried, since a restart can come before the camera is back.
  if (!src)
    src = pipeline::open_stream_source(source, so.realtime, {},
                                       so.resume ? pipeline::LiveOpen::kRetry : pipeline::LiveOpen::kNow);
  pipeline::StreamRuntime rt(model, ro);
  auto stream = rt.open("live", std::move(src), so);

  std::atomic<bool> done{false};
  const bool tty = stderr_is_tty();
  std::thread status([&] {
    while (!done) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      if (!tty) continue;
      const auto st = stream->stats();
      std::lock_guard<std::mutex> lock(out_mu);
      std::fprintf(stderr, "\r\033[K[%s] %s  in %.1f fps  dropped %lld  cache %.1f MB  last answer %.0f ms",
                   format_mmss(st.pts).c_str(), st.state.c_str(), st.fps_in, static_cast<long long>(st.frames_dropped),
                   (st.cache_bytes + st.state_bytes) / 1048576.0, st.answer_total_ms_last);
      std::fflush(stderr);
    }
  });

  pipeline::AskOptions ao;
  ao.keep_dialogue = ap.has("keep-dialogue");
  std::string line;
  while (std::getline(std::cin, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty()) continue;
    if (line.rfind("/instruct", 0) == 0) {
      std::string text = line.size() > 9 ? line.substr(10) : "";
      try {
        if (text.empty()) stream->set_instruction(std::nullopt);
        else stream->set_instruction(pipeline::parse_instruction(text));
      } catch (const std::exception& e) {
        print_line(std::string("error: ") + e.what());
      }
      continue;
    }
    try {
      rt.ask_async(
          stream, line, ao, {},
          [&, q = line](const pipeline::Answer& a) {
            if (json)
              print_line(dump_json(nlohmann::json{{"question", q}, {"answer", a.text}, {"pts", a.pts},
                                                  {"frames", a.frames}, {"first_token_ms", a.first_token_ms},
                                                  {"total_ms", a.total_ms}}));
            else
              print_line("[" + format_mmss(a.pts) + "] " + a.text);
          },
          [&](const std::string& err) { print_line("error: " + err); });
    } catch (const std::exception& e) {
      print_line(std::string("error: ") + e.what());
    }
  }
  rt.wait_questions();
  if (ap.has("until-end")) {
    while (!stream->wait_ended(1.0)) {
    }
    stream->wait_instructions_idle();
  }
  done = true;
  status.join();
  if (tty) std::fprintf(stderr, "\n");
  const auto st = stream->stats();
  if (!st.error.empty()) std::fprintf(stderr, "yoco live: source error: %s\n", st.error.c_str());
  return 0;
}

YOCO_COMMAND("live", "ingest a live source and answer questions typed on stdin", run_live);

}  // namespace yoco::app
