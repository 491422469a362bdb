// yoco bench stream: the stream runtime on a long stream, on a fixed number of cores (2 by default):
//   1. ingest cost per frame over a long stream (1 hour at the model's fps; --quick: 5 minutes), first vs last
//      N frames, for YOCO and for the Transformer of the same shape (random weights), whose cost grows with
//      the context; frames are synthetic RGB frames through the real vision encoder and Session::prefill,
//      exactly what the ingest thread does. The Transformer's middle part is filled with random K/V
//      (Session::append_random_context) so that its quadratic ingest need not run in full; its first and
//      last N frames are real.
//   2. cache bytes at the end of that stream, YOCO vs Transformer;
//   3. time to the first answer token at that stream length through the real runtime (pipeline::Stream with
//      a synthetic source), median and p99 over --questions questions asked while ingest keeps running;
//      also the runtime's ingest frames/s;
//   4. time to summarise a 720p H.264 file (`yoco summarize`, a subprocess) against
//      `ffmpeg -threads 2 -i FILE -f null -` on the same cores; the file is generated with ffmpeg's lavfi
//      testsrc2 at a low bitrate into /tmp (kept for the next run) unless --file is given. Target: 1.25×.
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "apps/args.h"
#include "apps/bench.h"
#include "apps/bench_util.h"
#include "apps/common.h"
#include "kernels/error.h"
#include "kernels/thread_pool.h"
#include "llm/random_model.h"
#include "llm/session.h"
#include "llm/tokenizer.h"
#include "pipeline/frame_pool.h"
#include "pipeline/stream_format.h"
#include "pipeline/stream_runtime.h"
#include "vision/encoder.h"

namespace yoco::app {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

// Synthetic frames: a gradient with a bar that moves every frame, so consecutive frames differ.
void fill_frame(uint8_t* rgb, int w, int h, int64_t i) {
  const int bar = static_cast<int>((i * 7) % w);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = rgb + (static_cast<size_t>(y) * w + x) * 3;
      const bool on = std::abs(x - bar) < w / 16;
      p[0] = static_cast<uint8_t>(on ? 255 : x * 255 / w);
      p[1] = static_cast<uint8_t>(on ? 40 : y * 255 / h);
      p[2] = static_cast<uint8_t>((i * 13) & 255);
    }
}

// A file-like (blocking, not live) source of `frames` synthetic frames at `fps`, as fast as they are taken.
class SyntheticSource : public pipeline::FrameSource {
 public:
  SyntheticSource(int64_t frames, double fps, int w, int h) : frames_(frames), fps_(fps), w_(w), h_(h), pool_(4, 0) {}
  bool read(pipeline::Frame& out, const pipeline::PtsFilter& want) override {
    while (!stop_ && next_ < frames_) {
      const int64_t i = next_++;
      stats_.decoded++;
      if (want && !want(i / fps_)) {
        stats_.skipped++;
        continue;
      }
      out.pixels = pool_.acquire(static_cast<size_t>(w_) * h_ * 3);
      fill_frame(out.pixels.data(), w_, h_, i);
      out.width = w_;
      out.height = h_;
      out.pts = i / fps_;
      out.wall_time = pipeline::wall_clock_now();
      out.index = i;
      out.discontinuity = false;
      stats_.produced++;
      return true;
    }
    return false;
  }
  void interrupt() override { stop_ = true; }
  pipeline::SourceInfo info() const override {
    pipeline::SourceInfo i;
    i.description = "synthetic " + std::to_string(w_) + "x" + std::to_string(h_);
    i.nominal_fps = fps_;
    i.width = w_;
    i.height = h_;
    return i;
  }
  pipeline::SourceStats stats() const override { return stats_; }

 private:
  int64_t frames_;
  double fps_;
  int w_, h_;
  int64_t next_ = 0;
  std::atomic<bool> stop_{false};
  pipeline::FramePool pool_;
  pipeline::SourceStats stats_;
};

struct IngestRun {
  std::vector<double> first_ms, last_ms;
  double total_s = 0.0;
  size_t cache_bytes = 0, state_bytes = 0;
  int64_t tokens = 0;
};

// Ingests frames [0, n) as the stream's ingest thread does (time tag + T vision rows), timing the first and
// last `edge` frames. With `fill_middle`, the frames in between are replaced by random K/V of the same length.
IngestRun ingest(std::shared_ptr<const llm::Model> model, const vision::VisionEncoder& enc, const llm::Tokenizer& tok,
                 int64_t n, int64_t edge, double fps, bool fill_middle) {
  IngestRun r;
  llm::Session s(model);
  const int32_t bos = tok.bos();
  s.prefill(std::span<const int32_t>(&bos, 1));
  const int W = 320, H = 180, T = enc.tokens_per_frame();
  std::vector<uint8_t> rgb(static_cast<size_t>(W) * H * 3);
  std::vector<float> rows(static_cast<size_t>(T) * enc.out_dim());
  auto scratch = enc.make_scratch();
  const auto t_all = Clock::now();
  for (int64_t i = 0; i < n; ++i) {
    const bool timed = i < edge || i >= n - edge;
    if (!timed && fill_middle) {
      const int64_t tokens_per_frame =
          static_cast<int64_t>(pipeline::encode_stream_text(tok, vision::format_time_tag(i / fps)).size()) + T;
      s.append_random_context(tokens_per_frame * (n - edge - i), 17);
      i = n - edge - 1;
      continue;
    }
    fill_frame(rgb.data(), W, H, i);
    const auto t0 = Clock::now();
    enc.encode(rgb.data(), W, H, W * 3, rows.data(), scratch);
    s.prefill(pipeline::encode_stream_text(tok, vision::format_time_tag(i / fps)));
    s.prefill_embeddings(rows.data(), T);
    const double ms = ms_since(t0);
    if (i < edge) r.first_ms.push_back(ms);
    else if (i >= n - edge) r.last_ms.push_back(ms);
  }
  r.total_s = ms_since(t_all) / 1e3;
  r.cache_bytes = s.cache_bytes();
  r.state_bytes = s.state_bytes();
  r.tokens = s.n_tokens();
  return r;
}

// Runs a shell command; returns wall seconds, or -1 when it failed.
double time_command(const std::string& cmd) {
  const auto t0 = Clock::now();
  const int rc = std::system(cmd.c_str());
  const double s = ms_since(t0) / 1e3;
  return rc == 0 ? s : -1.0;
}

std::string default_bench_model() {
  const std::string demo = default_model_dir();
  if (fs::exists(fs::path(demo) / "config.json")) return demo;
  return std::string(YOCO_SOURCE_DIR_STR) + "/tests/data/runtime";
}

// Summarises a 720p H.264 file (--file, or one generated into /tmp) --repeat times against ffmpeg's decode on
// the same cores.
nlohmann::ordered_json summarize_vs_ffmpeg(const ArgParser& ap, double minutes, const std::string& model_dir) {
  nlohmann::ordered_json sum;
  std::string file;
  if (ap.get_opt("file")) {
    file = ap.get("file");
    YOCO_REQUIRE(fs::exists(file), "no file '" + file + "'");
  } else {
    const int secs = static_cast<int>(minutes * 60.0);
    const double vfps = ap.get_double("video-fps");
    char name[128];
    std::snprintf(name, sizeof name, "/tmp/yoco-bench-720p-%ds-%gfps.mp4", secs, vfps);
    file = name;
    if (!fs::exists(file)) {
      if (!ap.has("json")) std::fprintf(stderr, "generating %s with ffmpeg...\n", file.c_str());
      const std::string gen = "ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=1280x720:rate=" +
                              std::to_string(vfps) + " -t " + std::to_string(secs) +
                              " -c:v libx264 -preset ultrafast -b:v 300k -g 250 -pix_fmt yuv420p -f mp4 " + file +
                              ".part && mv " + file + ".part " + file;
      YOCO_REQUIRE(time_command(gen) >= 0, "ffmpeg could not generate " + file);
    }
  }
  const int64_t repeat = ap.get_int("repeat");
  YOCO_REQUIRE(repeat >= 1 && repeat <= 100, "--repeat must be in 1..100");
  if (!ap.has("json"))
    std::fprintf(stderr, "ffmpeg decode and yoco summarize of %s, %lld times each, alternating...\n", file.c_str(),
                 static_cast<long long>(repeat));
  // Alternating pairs on the same cores: a machine whose speed drifts (shared hosts) moves both alike, so
  // each pair's ratio is the figure; the median of those is reported.
  const std::string self = fs::read_symlink("/proc/self/exe").string();
  const std::string out = (fs::temp_directory_path() / ("yoco-bench-summary-" + std::to_string(::getpid()) + ".json")).string();
  std::vector<double> ffs, yss, ratios, ingest, overall;
  for (int64_t r = 0; r < repeat; ++r) {
    const double ff = time_command("ffmpeg -nostdin -v error -threads 2 -i '" + file + "' -f null -");
    const double ys = time_command("'" + self + "' summarize '" + file + "' --model '" + model_dir +
                                   "' --format json --out '" + out + "' 2>/dev/null");
    YOCO_REQUIRE(ff > 0 && ys > 0, "ffmpeg or yoco summarize failed on " + file);
    ffs.push_back(ff);
    yss.push_back(ys);
    ratios.push_back(ys / ff);
    std::ifstream f(out);
    const auto j = nlohmann::json::parse(f, nullptr, false);
    if (j.is_object() && j.contains("timings")) {
      ingest.push_back(j["timings"].value("ingest_s", 0.0));
      overall.push_back(j["timings"].value("overall_s", 0.0) + j["timings"].value("tail_caption_s", 0.0) +
                        j["timings"].value("captions_after_ingest_s", 0.0));
    }
  }
  std::error_code ec;
  fs::remove(out, ec);
  sum = {{"file", file}, {"repeat", repeat}, {"ffmpeg_decode_s", quantile(ffs, 0.5)},
         {"summarize_s", quantile(yss, 0.5)}, {"ratio", quantile(ratios, 0.5)},
         {"ratio_min", *std::min_element(ratios.begin(), ratios.end())},
         {"ratio_max", *std::max_element(ratios.begin(), ratios.end())},
         {"summarize_ingest_s", ingest.empty() ? -1.0 : quantile(ingest, 0.5)},
         {"summarize_after_ingest_s", overall.empty() ? -1.0 : quantile(overall, 0.5)}, {"target_ratio", 1.25}};
  return sum;
}

void print_summarize(const nlohmann::ordered_json& sum) {
  std::printf("summarise %s (median of %lld alternating runs): %.1f s (to the last frame %.1f s, then %.1f s of "
              "answers); ffmpeg -threads 2 decode: %.1f s; ratio %.2fx (pairs %.2f..%.2f; target 1.25x)\n",
              sum["file"].get<std::string>().c_str(), static_cast<long long>(sum["repeat"].get<int64_t>()),
              sum["summarize_s"].get<double>(), sum["summarize_ingest_s"].get<double>(),
              sum["summarize_after_ingest_s"].get<double>(), sum["ffmpeg_decode_s"].get<double>(),
              sum["ratio"].get<double>(), sum["ratio_min"].get<double>(), sum["ratio_max"].get<double>());
}

int run_bench_stream(const std::vector<std::string>& args) {
  ArgParser ap("bench stream", "yoco bench stream [options]",
               "The stream runtime on a long stream, on --cores cores: per-frame ingest cost at the start and\n"
               "the end of a 1-hour stream (YOCO flat, the same-shape Transformer growing), cache bytes at 1 h,\n"
               "time to the first answer token at 1 h while ingest runs, and the time to summarise a 720p H.264\n"
               "file against `ffmpeg -threads 2 -i FILE -f null -`. --quick: 5 minutes instead of 1 hour.");
  ap.option("model", "DIR", "model directory (default: the demo model if present, else tests/data/runtime)");
  ap.option("cores", "N", "CPU cores to run on (affinity + kernel threads)", "2");
  ap.option("minutes", "M", "stream length in minutes (default 60; --quick: 5)");
  ap.flag("quick", "5-minute stream and file");
  ap.option("edge", "N", "frames timed at the start and at the end", "60");
  ap.option("questions", "N", "questions for the time to the first token", "20");
  ap.option("file", "FILE", "video to summarise (default: a generated 720p H.264 testsrc2 file in /tmp)");
  ap.option("video-fps", "F", "frame rate of the generated file", "30");
  ap.flag("no-summarize", "skip the summarise-vs-ffmpeg part");
  ap.option("repeat", "N", "summarise and ffmpeg runs, alternating (medians; the ratio is the median of each "
            "pair's ratio)", "3");
  ap.flag("summarize-only", "only the summarise-vs-ffmpeg part");
  ap.flag("json", "print the results as JSON");
  if (!ap.parse(args)) return 0;

  const int cores = static_cast<int>(ap.get_int("cores"));
  YOCO_REQUIRE(cores >= 1 && cores <= 1024, "--cores must be in 1..1024");
  {  // pin to the first `cores` allowed CPUs (children inherit: yoco summarize and ffmpeg run on the same)
    cpu_set_t allowed, use;
    CPU_ZERO(&use);
    if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0) {
      int taken = 0;
      for (int c = 0; c < CPU_SETSIZE && taken < cores; ++c)
        if (CPU_ISSET(c, &allowed)) {
          CPU_SET(c, &use);
          taken++;
        }
      sched_setaffinity(0, sizeof(use), &use);
    }
    kernels::set_num_threads(cores);
    ::setenv("YOCO_THREADS", std::to_string(cores).c_str(), 1);
  }
  const bool quick = ap.has("quick");
  const double minutes = ap.get_opt("minutes") ? ap.get_double("minutes") : quick ? 5.0 : 60.0;
  YOCO_REQUIRE(minutes > 0 && minutes <= 600, "--minutes must be in (0, 600]");
  const std::string model_dir = ap.get_opt("model") ? ap.get("model") : default_bench_model();
  if (ap.has("summarize-only")) {
    const nlohmann::ordered_json sum = summarize_vs_ffmpeg(ap, minutes, model_dir);
    if (ap.has("json")) std::printf("%s\n", nlohmann::ordered_json{{"cores", cores}, {"summarize", sum}}.dump(2).c_str());
    else print_summarize(sum);
    return 0;
  }
  auto ym = llm::Model::load(model_dir);
  const llm::Tokenizer* tok = ym->tokenizer();
  YOCO_REQUIRE(tok != nullptr, "the model has no tokenizer");
  vision::VisionEncoder enc(*ym);
  const pipeline::StreamFormat format = pipeline::StreamFormat::from_json(ym->config().stream);
  const double fps = format.fps > 0 ? format.fps : 1.0;
  const int64_t n_frames = std::max<int64_t>(2, static_cast<int64_t>(minutes * 60.0 * fps));
  const int64_t edge = std::clamp<int64_t>(ap.get_int("edge"), 1, n_frames / 2);
  const int n_questions = static_cast<int>(std::max<long long>(1, ap.get_int("questions")));

  // The same-shape Transformer (random weights; the LM part of the config only).
  const llm::ModelConfig tc = transformer_like(ym->config());
  const BenchTempDir tmp_dir("yoco-bench-stream");
  const fs::path& tmp = tmp_dir.path;
  llm::write_random_model((tmp / "transformer").string(), tc, 3);
  auto tm = llm::Model::load((tmp / "transformer").string());

  if (!ap.has("json")) std::fprintf(stderr, "ingesting %lld frames (YOCO, then the Transformer)...\n",
                                    static_cast<long long>(n_frames));
  // Warm-up (page faults, thread pool), then the two runs.
  ingest(ym, enc, *tok, std::min<int64_t>(20, n_frames), 1, fps, false);
  const IngestRun y = ingest(ym, enc, *tok, n_frames, edge, fps, false);
  const IngestRun t = ingest(tm, enc, *tok, n_frames, edge, fps, true);

  // Time to the first token through the runtime at the stream's length, ingest running meanwhile.
  if (!ap.has("json")) std::fprintf(stderr, "runtime: %lld frames then %d questions while ingest goes on...\n",
                                    static_cast<long long>(n_frames), n_questions);
  std::vector<double> ttft, total;
  double runtime_fps = 0.0;
  int64_t frames_during_questions = 0;
  {
    pipeline::StreamRuntime rt(ym);
    pipeline::StreamOptions so;
    const auto t0 = Clock::now();
    auto st = rt.open("bench", std::make_unique<SyntheticSource>(n_frames * 4, fps, 320, 180), so);
    while (st->stats().frames < n_frames && !st->ended()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    runtime_fps = st->stats().frames / (ms_since(t0) / 1e3);
    const int64_t f0 = st->stats().frames;
    const char* qs[] = {"what happened?", "what colour is the bar?", "where is the bar?", "how many bars are there?"};
    for (int i = 0; i < n_questions; ++i) {
      const pipeline::Answer a = st->ask(qs[i % 4]);
      ttft.push_back(a.first_token_ms);
      total.push_back(a.total_ms);
    }
    frames_during_questions = st->stats().frames - f0;
    rt.close("bench");
  }

  // Summarise a 720p H.264 file vs ffmpeg's decode on the same cores.
  nlohmann::ordered_json sum = nullptr;
  if (!ap.has("no-summarize")) sum = summarize_vs_ffmpeg(ap, minutes, model_dir);

  nlohmann::ordered_json j;
  const auto& c = ym->config();
  j["model"] = {{"dir", model_dir}, {"dim", c.dim}, {"layers", c.n_layers}, {"tokens_per_frame", enc.tokens_per_frame()},
                {"fps", fps}};
  j["cores"] = cores;
  j["stream_minutes"] = minutes;
  j["frames"] = n_frames;
  j["edge_frames"] = edge;
  j["frames_source"] = "synthetic 320x180 RGB through the vision encoder; Transformer middle: random K/V fill";
  auto ingest_json = [&](const IngestRun& r) {
    const double a = quantile(r.first_ms, 0.5), b = quantile(r.last_ms, 0.5);
    return nlohmann::ordered_json{{"first_ms", a}, {"last_ms", b}, {"growth", b / a},
                                  {"first_p90_ms", quantile(r.first_ms, 0.9)}, {"last_p90_ms", quantile(r.last_ms, 0.9)},
                                  {"tokens", r.tokens}, {"cache_bytes", r.cache_bytes}, {"state_bytes", r.state_bytes}};
  };
  j["yoco"] = ingest_json(y);
  j["yoco"]["frames_per_s"] = n_frames / y.total_s;
  j["transformer"] = ingest_json(t);
  j["cache_ratio_transformer_over_yoco"] = static_cast<double>(t.cache_bytes) / static_cast<double>(y.cache_bytes);
  j["runtime"] = {{"ingest_frames_per_s", runtime_fps}, {"questions", n_questions},
                  {"ttft_median_ms", quantile(ttft, 0.5)}, {"ttft_p99_ms", quantile(ttft, 0.99)},
                  {"answer_total_median_ms", quantile(total, 0.5)},
                  {"frames_ingested_during_questions", frames_during_questions}};
  j["summarize"] = sum;
  if (ap.has("json")) {
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("yoco bench stream — %s (dim %d, %d layers, %d tokens/frame), %d cores, %.0f min at %g fps = %lld "
              "frames\n",
              model_dir.c_str(), c.dim, c.n_layers, enc.tokens_per_frame(), cores, minutes, fps,
              static_cast<long long>(n_frames));
  std::printf("frames: %s\n\n", j["frames_source"].get<std::string>().c_str());
  std::printf("%-12s %14s %14s %8s %12s %14s\n", "ingest", "first ms/frm", "last ms/frm", "growth", "tokens",
              "cache MB @end");
  for (const char* k : {"yoco", "transformer"}) {
    const auto& r = j[k];
    std::printf("%-12s %14.3f %14.3f %7.2fx %12lld %14.2f\n", k, r["first_ms"].get<double>(),
                r["last_ms"].get<double>(), r["growth"].get<double>(),
                static_cast<long long>(r["tokens"].get<int64_t>()), r["cache_bytes"].get<double>() / (1 << 20));
  }
  std::printf("\nYOCO ingest (direct): %.1f frames/s; through the runtime: %.1f frames/s\n",
              j["yoco"]["frames_per_s"].get<double>(), runtime_fps);
  std::printf("cache at the end: Transformer / YOCO = %.2fx\n", j["cache_ratio_transformer_over_yoco"].get<double>());
  std::printf("time to first answer token at %.0f min, ingest running: median %.1f ms, p99 %.1f ms (%d questions; "
              "%lld frames ingested meanwhile)\n",
              minutes, quantile(ttft, 0.5), quantile(ttft, 0.99), n_questions,
              static_cast<long long>(frames_during_questions));
  if (!sum.is_null()) {
    print_summarize(sum);
  }
  return 0;
}

}  // namespace

YOCO_BENCH("stream", "long-stream ingest cost, TTFT at 1 h, cache at 1 h, summarise vs ffmpeg decode", run_bench_stream);

}  // namespace yoco::app
