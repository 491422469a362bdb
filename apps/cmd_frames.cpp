// yoco frames SOURCE --fps F: prints the frames the sampler would deliver, one JSON object per line:
//   {"index": i, "pts": seconds, "width": w, "height": h}
// index counts delivered frames from 0; pts is seconds from the stream's first frame. The format is a contract
// (DESIGN.md): scripts outside the project read it.
#include <cinttypes>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "apps/args.h"
#include "apps/command.h"
#include "kernels/error.h"
#include "pipeline/ffmpeg_source.h"
#include "pipeline/frame_sampler.h"
#include "pipeline/open_source.h"
#include "pipeline/reconnecting_source.h"

namespace yoco::app {

static int run_frames(const std::vector<std::string>& args) {
  ArgParser p("frames", "yoco frames SOURCE [--fps F] [options]",
              "Decodes SOURCE and prints the frames the sampler delivers as JSON lines\n"
              "{\"index\", \"pts\", \"width\", \"height\"} (pts: seconds from the stream's first frame).");
  p.positionals("SOURCE", 1, 1,
                "a file path or URL, camera:N or /dev/videoN, rtsp://..., gst:<pipeline>, zmq:<endpoint>[#stream]");
  p.option("fps", "F", "frames per second to deliver, by presentation time; 0 delivers every frame", "1");
  p.option("change", "T", "also skip frames whose mean grey difference to the last kept frame is below T (0-255)", "0");
  p.option("max-gap", "S", "with --change: keep a frame at least every S seconds", "10");
  p.option("start", "S", "seek to S seconds before reading (files)", "0");
  p.option("duration", "S", "stop after S seconds of stream time (0: until the end)", "0");
  p.option("max-frames", "N", "stop after delivering N frames (0: no limit)", "0");
  p.option("threads", "N", "decoder threads (0: one per core)", "0");
  p.option("timeout", "S", "seconds allowed to open the source and between frames", "10");
  p.option("reconnect", "N", "live sources: reopen up to N times after an error or end of stream (-1: forever)", "0");
  p.flag("keyframes-only", "decode keyframes only (fast, approximate for GOPs longer than 1/fps)");
  p.flag("stats", "print the source and sampler counters as one JSON object on stderr at the end");
  p.flag("json", "JSON output (the default and only format)");
  if (!p.parse(args)) return 0;

  const double fps = p.get_double("fps");
  YOCO_REQUIRE(fps >= 0, "--fps must be >= 0");
  const double timeout = p.get_double("timeout");
  YOCO_REQUIRE(timeout > 0, "--timeout must be > 0");
  pipeline::SamplerOptions so;
  so.fps = fps;
  so.change_threshold = p.get_double("change");
  so.max_gap = p.get_double("max-gap");
  pipeline::SourceOptions opts;
  opts.open_timeout = opts.read_timeout = timeout;
  opts.decode_threads = static_cast<int>(p.get_int("threads"));
  opts.keyframes_only = p.has("keyframes-only");
  const double start = p.get_double("start");
  const double duration = p.get_double("duration");
  const long long max_frames = p.get_int("max-frames");
  const long long reconnect = p.get_int("reconnect");

  const pipeline::SourceSpec spec = pipeline::parse_source_spec(p.positional()[0]);
  std::unique_ptr<pipeline::FrameSource> source;
  if (spec.live && reconnect != 0) {
    pipeline::ReconnectOptions ro;
    ro.max_attempts = static_cast<int>(reconnect);
    ro.on_outage = [](const pipeline::SourceOutage& o) {
      std::fprintf(stderr, "yoco frames: source: %s (failure %d, retrying in %.2g s)\n", o.error.c_str(), o.failures,
                   o.retry_in);
    };
    source = std::make_unique<pipeline::ReconnectingSource>(
        [spec, opts] { return pipeline::open_source(spec, opts); }, ro);
  } else {
    source = pipeline::open_source(spec, opts);
  }
  if (start > 0) {
    auto* ff = dynamic_cast<pipeline::FfmpegSource*>(source.get());
    YOCO_REQUIRE(ff != nullptr, "--start needs a file source");
    ff->seek(start);
  }
  pipeline::FrameSampler sampler(so);
  if (start > 0) sampler.reset_rate(start);
  const auto want = [&sampler](double pts) { return sampler.want(pts); };
  pipeline::Frame frame;
  long long delivered = 0;
  while (max_frames <= 0 || delivered < max_frames) {
    if (!source->read(frame, want)) break;
    if (duration > 0 && frame.pts > duration + pipeline::FrameSampler::kPtsTolerance) break;
    if (!sampler.offer(frame)) continue;
    std::printf("{\"index\": %lld, \"pts\": %.6f, \"width\": %d, \"height\": %d}\n", delivered, frame.pts,
                frame.width, frame.height);
    ++delivered;
  }
  std::fflush(stdout);
  if (p.has("stats")) {
    const auto s = source->stats();
    const auto& ss = sampler.stats();
    nlohmann::json j = {{"produced", s.produced},         {"decoded", s.decoded},     {"skipped", s.skipped},
                        {"corrupt", s.corrupt},           {"dropped", s.dropped},     {"pts_repaired", s.pts_repaired},
                        {"reconnects", s.reconnects},     {"errors", s.errors},       {"kept", ss.kept},
                        {"rate_dropped", ss.rate_dropped}, {"change_dropped", ss.change_dropped}};
    std::fprintf(stderr, "%s\n", j.dump().c_str());
  }
  return 0;
}

YOCO_COMMAND("frames", "print the frames a source delivers at a sampling rate (JSON lines)", run_frames);

}  // namespace yoco::app
