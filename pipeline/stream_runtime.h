// StreamRuntime: one process, one immutable model, many streams (DESIGN.md). Owns the model's vision
// encoder, the priority gate shared by the streams, and the threads of asynchronous questions.
//
// Thread safety: every method may be called from any thread. Destruction stops every stream and waits for
// the questions in flight.
#pragma once

#include <condition_variable>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/frame_source.h"
#include "pipeline/stream.h"

namespace yoco::pipeline {

struct RuntimeOptions {
  int max_streams = 64;
  int max_questions = 32;        // questions in flight over all streams; more are refused (busy)
  bool question_priority = true; // ingest yields to prefilling questions (PriorityGate)
  EventFn on_event;              // every stream's events
};

// How a live source (camera, RTSP, a GStreamer pipeline without filesrc, ZeroMQ) is opened and kept going:
enum class LiveOpen {
  kRetry,    // first open on the stream's first read; every failure and end is retried with backoff, forever
             // (the service, resumed streams: a camera may come back after a restart)
  kNow,      // the first connection is opened here, so a camera that is not there or a server that refuses
             // throws yoco::Error now, as a missing file does; then as kRetry (yoco live)
  kToTheEnd  // kNow, and the source's end is the stream's end; kToTheEndAttempts failed reopenings in a row
             // after an error end it too (ask, summarize, eval: they read a source to its end)
};
inline constexpr int kToTheEndAttempts = 4;  // 0.25 + 0.5 + 1 + 2 s of backoff

// How a spec string becomes a stream's source: parse_source_spec + open_source; live sources are wrapped in
// a ReconnectingSource kept going as `live` says; with `realtime`, a file is paced at real time.
std::unique_ptr<FrameSource> open_stream_source(const std::string& spec, bool realtime,
                                                const SourceOptions& options = {}, LiveOpen live = LiveOpen::kRetry);

class StreamRuntime {
 public:
  // Throws yoco::Error when the model has no vision block or no tokenizer.
  StreamRuntime(std::shared_ptr<const llm::Model> model, const RuntimeOptions& options = {});
  ~StreamRuntime();
  StreamRuntime(const StreamRuntime&) = delete;
  StreamRuntime& operator=(const StreamRuntime&) = delete;

  // Opens a stream; `options.gate` and `options.on_event` are filled in by the runtime when unset.
  // Throws yoco::Error for a duplicate or empty id, too many streams, or a source that cannot be opened.
  std::shared_ptr<Stream> open(const std::string& id, std::unique_ptr<FrameSource> source, StreamOptions options);
  // By spec: open_stream_source with LiveOpen::kToTheEnd (a live source that cannot be opened throws here too).
  std::shared_ptr<Stream> open(const std::string& id, const std::string& spec, StreamOptions options,
                               const SourceOptions& source_options = {});
  // Stops and forgets the stream (its in-flight questions finish). False when there is no such stream.
  bool close(const std::string& id);
  std::shared_ptr<Stream> find(const std::string& id) const;
  std::vector<std::shared_ptr<Stream>> streams() const;

  // Answers on a thread of its own; exactly one of `done` / `fail` is called, on that thread. Throws
  // yoco::Error at once when max_questions are already in flight.
  void ask_async(std::shared_ptr<Stream> stream, const std::string& question, const AskOptions& options,
                 TextFn on_text, std::function<void(const Answer&)> done,
                 std::function<void(const std::string& error)> fail);
  int questions_in_flight() const;
  void wait_questions();  // until no question is in flight

  const llm::Model& model() const { return *model_; }
  std::shared_ptr<const llm::Model> model_ptr() const { return model_; }
  std::shared_ptr<const vision::VisionEncoder> encoder() const { return encoder_; }
  const StreamFormat& format() const { return format_; }

 private:
  std::shared_ptr<const llm::Model> model_;
  std::shared_ptr<const vision::VisionEncoder> encoder_;
  StreamFormat format_;
  RuntimeOptions opts_;
  std::shared_ptr<PriorityGate> gate_;

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Stream>> streams_;

  mutable std::mutex q_mu_;
  std::condition_variable q_cv_;
  int in_flight_ = 0;
  std::list<std::thread> finished_;  // question threads that are done, joined lazily
  std::list<std::thread> threads_;
  void reap_locked();
};

}  // namespace yoco::pipeline
