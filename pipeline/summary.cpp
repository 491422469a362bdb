#include "pipeline/summary.h"

#include <algorithm>
#include <chrono>
#include <mutex>

#include "kernels/error.h"
#include "kernels/thread_pool.h"
#include "llm/model.h"
#include "pipeline/caption_items.h"
#include "pipeline/stream_runtime.h"

namespace yoco::pipeline {

int drop_stray_captions(std::vector<std::pair<double, std::string>>& captions, bool preceding) {
  if (!preceding) return 0;
  int dropped = 0;
  double prev = 0.0;
  for (auto& [pts, text] : captions) {
    StrayFilter f = drop_stray_items(text, prev, pts, kStraySlack);
    dropped += f.dropped;
    text = std::move(f.text);
    prev = std::max(prev, pts);
  }
  return dropped;
}

std::vector<SummaryEvent> compose_events(const std::vector<std::pair<double, std::string>>& captions, double end,
                                         bool preceding) {
  std::vector<SummaryEvent> out;
  if (preceding) {
    double prev = 0.0;
    bool first = true;
    for (const auto& [pts, text] : captions) {
      const double start = prev;
      prev = std::max(prev, pts);
      // A caption covers (previous caption, its time]; the first one, asked on the first frame, covers that
      // instant: [0, 0] (what happens there no later caption tells). Any other caption at or before the one
      // before it covers nothing.
      const bool first_instant = first && pts == start;
      first = false;
      if (text.empty() || (pts <= start && !first_instant)) continue;
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
  if (!out.empty() && out.back().end <= out.back().start) out.back().end = std::max(end, out.back().start);
  for (size_t i = 0; i + 1 < out.size(); ++i) out[i].end = out[i + 1].start;
  return out;
}

Summary summarize_video(std::shared_ptr<const llm::Model> model, const std::string& video,
                        const SummaryOptions& options) {
  YOCO_REQUIRE(model != nullptr, "summarize: no model");
  const StreamFormat fmt = StreamFormat::from_json(model->config().stream);
  Summary sum;
  sum.preceding = options.preceding.value_or(fmt.caption_covers_preceding);
  StreamOptions so = options.stream;
  so.policy = OverflowPolicy::kBlock;
  // Forks waiting for captions: ingest waits when they are all taken (a file loses nothing). Deep enough that
  // a caption running long, or its thread descheduled, does not stall decoding: a waiting fork holds its
  // self-decoder state (the demo model: 33 KB) and shares the cache pages.
  so.instruction_backlog = 32;

  std::unique_ptr<FrameSource> src = open_stream_source(video, false, {}, LiveOpen::kToTheEnd);
  const double duration = src->info().duration;
  sum.every = duration > 0 ? std::min(60.0, std::max(2.0, duration / 24.0)) : 10.0;
  if (fmt.caption_every > 0) sum.every = fmt.caption_every;
  if (options.every) sum.every = *options.every;
  YOCO_REQUIRE(sum.every > 0.0, "the caption period must be > 0 s");
  Instruction ins;
  ins.kind = Instruction::Kind::kCaption;
  ins.text = "caption every " + std::to_string(sum.every) + " s";
  ins.prompt = options.prompt.value_or(fmt.caption_prompt);
  ins.every = sum.every;
  ins.context = options.context.value_or(fmt.caption_context);
  YOCO_REQUIRE(ins.context >= 0.0, "the caption context must be >= 0 s");
  sum.context = ins.context;
  YOCO_REQUIRE(!ins.prompt.empty(), "the caption prompt must not be empty");
  const std::string overall_prompt = options.overall_prompt.value_or(fmt.summary_prompt);
  YOCO_REQUIRE(!overall_prompt.empty(), "the overall prompt must not be empty");
  so.instruction = ins;

  std::mutex mu;
  RuntimeOptions ro;
  ro.on_event = [&](const StreamEvent& e) {
    if (e.kind != "caption") return;
    std::lock_guard<std::mutex> lock(mu);
    sum.captions.emplace_back(e.pts, e.text);
  };
  const int pool_threads = kernels::num_threads();
  if (options.ingest_threads > 0) kernels::set_num_threads(options.ingest_threads);
  struct RestorePool {
    int n;
    ~RestorePool() { kernels::set_num_threads(n); }
  } restore_pool{pool_threads};
  StreamRuntime rt(std::move(model), ro);
  const auto t0 = std::chrono::steady_clock::now();
  auto wall = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  auto stream = rt.open("summary", std::move(src), so);
  while (!stream->wait_ended(0.25))
    if (options.on_progress) options.on_progress(stream->stats(), duration, wall());
  sum.ingest_s = wall();
  stream->wait_instructions_idle();
  sum.captions_s = wall() - sum.ingest_s;
  if (options.ingest_threads > 0) kernels::set_num_threads(pool_threads);  // nothing else runs now
  sum.stats = stream->stats();
  if (options.on_progress) options.on_progress(sum.stats, duration, wall());
  YOCO_REQUIRE(sum.stats.error.empty(), sum.stats.error);
  sum.duration = std::max(duration > 0 ? duration : 0.0, sum.stats.pts);
  double last_caption = 0.0;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& c : sum.captions) last_caption = std::max(last_caption, c.first);
  }
  const double tail0 = wall();
  if (sum.preceding && sum.duration > last_caption + 0.5) {
    AskOptions tail_options;
    tail_options.max_tokens = fmt.caption_max_tokens;
    tail_options.context = ins.context;
    const std::string tail = stream->ask(ins.prompt, tail_options).text;
    std::lock_guard<std::mutex> lock(mu);
    sum.captions.emplace_back(sum.duration, tail);
  }
  sum.tail_s = wall() - tail0;
  sum.overall = stream->ask(overall_prompt).text;
  sum.wall_s = wall();
  sum.overall_s = sum.wall_s - tail0 - sum.tail_s;
  std::lock_guard<std::mutex> lock(mu);
  std::sort(sum.captions.begin(), sum.captions.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::pair<double, std::string>> told = sum.captions;
  if (!options.keep_stray) {
    sum.stray_items = drop_stray_captions(told, sum.preceding);
    // The overall answer covers the whole video: what it stamps after the end never happened.
    StrayFilter overall = drop_stray_items(sum.overall, 0.0, sum.duration, kStraySlack);
    sum.overall_stray_items = overall.dropped;
    sum.overall = std::move(overall.text);
  }
  sum.events = compose_events(told, sum.duration, sum.preceding);
  return sum;
}

}  // namespace yoco::pipeline
