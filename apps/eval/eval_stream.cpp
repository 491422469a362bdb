#include "apps/eval/eval_stream.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <limits>
#include <memory>
#include <mutex>
#include <numeric>
#include <thread>

#include "kernels/error.h"
#include "pipeline/frame_sampler.h"

namespace yoco::eval {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Shared between the gate (on the stream's capture thread) and the evaluation loop.
struct GateState {
  std::mutex mu;
  std::condition_variable cv;
  double open_until = -std::numeric_limits<double>::infinity();
  bool holding = false;  // a frame waits in read() ...
  double held_pts = 0;   // ... with this pts
  bool ended = false;    // the inner source is done
  bool interrupted = false;
  double held_ms_total = 0;  // time frames waited at the gate (not ingest time)

  void open(double t) {
    {
      std::lock_guard<std::mutex> lock(mu);
      open_until = t;
    }
    cv.notify_all();
  }
  // Until a frame past open_until waits at the gate or the source has ended. (A frame still held after
  // open() raised open_until past it is about to be released and does not count.)
  void wait_blocked() {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] {
      return (holding && held_pts > open_until + pipeline::FrameSampler::kPtsTolerance) || ended ||
             interrupted;
    });
  }
};

// A FrameSource that passes frames with pts <= open_until and holds the next one until the gate opens
// further.
class GatedSource final : public pipeline::FrameSource {
 public:
  GatedSource(std::unique_ptr<pipeline::FrameSource> inner, std::shared_ptr<GateState> gate)
      : inner_(std::move(inner)), gate_(std::move(gate)) {}

  bool read(pipeline::Frame& out, const pipeline::PtsFilter& want) override {
    if (!inner_->read(out, want)) {
      std::lock_guard<std::mutex> lock(gate_->mu);
      gate_->ended = true;
      gate_->cv.notify_all();
      return false;
    }
    std::unique_lock<std::mutex> lock(gate_->mu);
    const double tol = pipeline::FrameSampler::kPtsTolerance;
    if (out.pts > gate_->open_until + tol && !gate_->interrupted) {
      const auto t0 = Clock::now();
      gate_->holding = true;
      gate_->held_pts = out.pts;
      gate_->cv.notify_all();
      gate_->cv.wait(lock, [&] { return out.pts <= gate_->open_until + tol || gate_->interrupted; });
      gate_->holding = false;
      gate_->held_ms_total += seconds_since(t0) * 1000.0;
    }
    return !gate_->interrupted;
  }
  void interrupt() override {
    {
      std::lock_guard<std::mutex> lock(gate_->mu);
      gate_->interrupted = true;
    }
    gate_->cv.notify_all();
    inner_->interrupt();
  }
  pipeline::SourceInfo info() const override { return inner_->info(); }
  pipeline::SourceStats stats() const override { return inner_->stats(); }

 private:
  std::unique_ptr<pipeline::FrameSource> inner_;
  std::shared_ptr<GateState> gate_;
};

// Until the stream has ingested every frame the sampler kept (the gate holds the next one or the file ended),
// or the stream has ended.
void wait_caught_up(pipeline::Stream& stream, GateState& gate) {
  gate.wait_blocked();
  for (;;) {
    const pipeline::StreamStats st = stream.stats();
    YOCO_REQUIRE(st.error.empty(), "stream " + stream.id() + ": " + st.error);
    if (st.state == "ended" || st.frames >= st.capture.sampler.kept) return;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

}  // namespace

ClipRun run_clip(pipeline::StreamRuntime& rt, const std::string& id, const std::string& video,
                 const std::vector<TimedQuestion>& questions, const pipeline::StreamOptions& options) {
  const auto t0 = Clock::now();
  std::vector<size_t> order(questions.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return questions[a].at < questions[b].at; });

  auto gate = std::make_shared<GateState>();
  if (!order.empty())
    gate->open_until = questions[order.front()].at;
  else
    gate->open_until = std::numeric_limits<double>::infinity();
  auto source =
      std::make_unique<GatedSource>(pipeline::open_stream_source(video, false, {}, pipeline::LiveOpen::kToTheEnd), gate);
  std::shared_ptr<pipeline::Stream> stream = rt.open(id, std::move(source), options);

  ClipRun run;
  run.answers.resize(questions.size());
  double answering_s = 0;
  for (size_t i = 0; i < order.size();) {
    const double at = questions[order[i]].at;
    gate->open(at);
    wait_caught_up(*stream, *gate);
    const auto a0 = Clock::now();
    for (; i < order.size() && questions[order[i]].at == at; ++i) {
      const TimedQuestion& q = questions[order[i]];
      pipeline::AskOptions ao;
      ao.max_tokens = q.max_tokens;
      const pipeline::Answer a = stream->ask(q.question, ao);
      run.answers[order[i]] = {a.text, a.pts, a.frames, a.first_token_ms, a.total_ms};
    }
    answering_s += seconds_since(a0);
  }
  gate->open(std::numeric_limits<double>::infinity());
  while (!stream->wait_ended(3600.0)) {
  }
  const pipeline::StreamStats st = stream->stats();
  rt.close(id);
  YOCO_REQUIRE(st.error.empty(), "stream " + id + ": " + st.error);
  run.frames = st.frames;
  run.last_pts = st.pts;
  run.cache_bytes = st.cache_bytes;
  run.state_bytes = st.state_bytes;
  run.ingest_ms_mean = st.ingest_ms_mean;
  run.wall_s = seconds_since(t0);
  run.ingest_s = run.wall_s - answering_s;
  return run;
}

}  // namespace yoco::eval
