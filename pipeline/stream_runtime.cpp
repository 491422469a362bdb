#include "pipeline/stream_runtime.h"

#include "kernels/error.h"
#include "llm/tokenizer.h"
#include "pipeline/open_source.h"
#include "pipeline/paced_source.h"
#include "pipeline/reconnecting_source.h"
#include "pipeline/source_spec.h"
#include "vision/encoder.h"

namespace yoco::pipeline {

std::unique_ptr<FrameSource> open_stream_source(const std::string& spec_text, bool realtime,
                                                const SourceOptions& options, LiveOpen live) {
  const SourceSpec spec = parse_source_spec(spec_text);
  if (spec.live) {
    auto factory = [spec, options] { return open_source(spec, options); };
    ReconnectOptions ro;
    if (live == LiveOpen::kToTheEnd) {
      ro.reconnect_on_eos = false;
      ro.max_attempts = kToTheEndAttempts;
    }
    return std::make_unique<ReconnectingSource>(factory, ro, live == LiveOpen::kRetry ? nullptr : factory());
  }
  std::unique_ptr<FrameSource> src = open_source(spec, options);
  if (realtime && !src->info().live) return std::make_unique<PacedSource>(std::move(src));
  return src;
}

StreamRuntime::StreamRuntime(std::shared_ptr<const llm::Model> model, const RuntimeOptions& options)
    : model_(std::move(model)), opts_(options) {
  YOCO_REQUIRE(model_ != nullptr, "no model");
  YOCO_REQUIRE(model_->tokenizer() != nullptr, "the model in " + model_->dir() + " has no tokenizer");
  YOCO_REQUIRE(!model_->config().vision.is_null(), "the model in " + model_->dir() + " has no vision block");
  encoder_ = std::make_shared<vision::VisionEncoder>(*model_);
  format_ = StreamFormat::from_json(model_->config().stream);
  if (opts_.question_priority) gate_ = std::make_shared<PriorityGate>();
}

StreamRuntime::~StreamRuntime() {
  std::map<std::string, std::shared_ptr<Stream>> streams;
  {
    std::lock_guard<std::mutex> lock(mu_);
    streams.swap(streams_);
  }
  for (auto& [id, s] : streams) s->stop();
  wait_questions();
  std::lock_guard<std::mutex> lock(q_mu_);
  reap_locked();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

std::shared_ptr<Stream> StreamRuntime::open(const std::string& id, std::unique_ptr<FrameSource> source,
                                            StreamOptions options) {
  YOCO_REQUIRE(!id.empty(), "a stream needs a non-empty id");
  {
    std::lock_guard<std::mutex> lock(mu_);
    YOCO_REQUIRE(streams_.count(id) == 0, "stream '" + id + "' is already open");
    YOCO_REQUIRE(static_cast<int>(streams_.size()) < opts_.max_streams,
                 "too many streams (" + std::to_string(opts_.max_streams) + ")");
  }
  if (!options.gate) options.gate = gate_;
  if (!options.on_event) options.on_event = opts_.on_event;
  auto stream = std::make_shared<Stream>(id, model_, encoder_, std::move(source), options);
  std::lock_guard<std::mutex> lock(mu_);
  if (!streams_.emplace(id, stream).second) {
    stream->stop();
    throw Error("stream '" + id + "' is already open");
  }
  return stream;
}

std::shared_ptr<Stream> StreamRuntime::open(const std::string& id, const std::string& spec, StreamOptions options,
                                            const SourceOptions& source_options) {
  YOCO_REQUIRE(!id.empty(), "a stream needs a non-empty id");
  {
    std::lock_guard<std::mutex> lock(mu_);
    YOCO_REQUIRE(streams_.count(id) == 0, "stream '" + id + "' is already open");
  }
  return open(id, open_stream_source(spec, options.realtime, source_options, LiveOpen::kToTheEnd),
              std::move(options));
}

bool StreamRuntime::close(const std::string& id) {
  std::shared_ptr<Stream> s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = streams_.find(id);
    if (it == streams_.end()) return false;
    s = it->second;
    streams_.erase(it);
  }
  s->stop();
  return true;  // the last shared_ptr (ours, or an in-flight question's) joins the threads
}

std::shared_ptr<Stream> StreamRuntime::find(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<Stream>> StreamRuntime::streams() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<Stream>> out;
  for (const auto& [id, s] : streams_) out.push_back(s);
  return out;
}

void StreamRuntime::reap_locked() {
  for (auto& t : finished_)
    if (t.joinable()) t.join();
  finished_.clear();
}

void StreamRuntime::ask_async(std::shared_ptr<Stream> stream, const std::string& question, const AskOptions& options,
                              TextFn on_text, std::function<void(const Answer&)> done,
                              std::function<void(const std::string&)> fail) {
  YOCO_REQUIRE(stream != nullptr, "no such stream");
  std::lock_guard<std::mutex> lock(q_mu_);
  reap_locked();
  YOCO_REQUIRE(in_flight_ < opts_.max_questions,
               "busy: " + std::to_string(in_flight_) + " questions in flight (limit " +
                   std::to_string(opts_.max_questions) + ")");
  in_flight_++;
  threads_.emplace_back();
  auto self = std::prev(threads_.end());
  *self = std::thread([this, self, stream = std::move(stream), question, options, on_text = std::move(on_text),
                       done = std::move(done), fail = std::move(fail)]() mutable {
    try {
      const Answer a = stream->ask(question, options, on_text);
      if (done) done(a);
    } catch (const std::exception& e) {
      if (fail) fail(e.what());
    }
    stream.reset();
    std::lock_guard<std::mutex> lk(q_mu_);
    finished_.splice(finished_.end(), threads_, self);
    in_flight_--;
    q_cv_.notify_all();
  });
}

int StreamRuntime::questions_in_flight() const {
  std::lock_guard<std::mutex> lock(q_mu_);
  return in_flight_;
}

void StreamRuntime::wait_questions() {
  std::unique_lock<std::mutex> lock(q_mu_);
  q_cv_.wait(lock, [&] { return in_flight_ == 0; });
}

}  // namespace yoco::pipeline
