#include "apps/eval/eval_qa.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <future>
#include <optional>

#include "apps/eval/eval_stream.h"
#include "apps/eval/eval_world.h"
#include "kernels/error.h"
#include "llm/model.h"

namespace yoco::eval {
namespace {

using Clock = std::chrono::steady_clock;

std::string fmt_acc(const Tally& t) {
  char buf[64];
  if (t.n == 0) return "-";
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * *t.accuracy());
  return buf;
}

nlohmann::json acc_json(const Tally& t) {
  if (t.n == 0) return nullptr;
  return *t.accuracy();
}

nlohmann::ordered_json when_timing_json(const QaReport& r) {
  return {{"timestamps", r.when_abs_err.size()},
          {"not_timestamps", r.when_not_timestamp},
          {"within_2s", timestamps_within(r.when_abs_err, r.when_not_timestamp, 2.0).correct},
          {"median_abs_err_s", r.when_abs_err.empty() ? nlohmann::json(nullptr)
                                                      : nlohmann::json(percentile(r.when_abs_err, 50))}};
}

}  // namespace

bool QaReport::meets_targets() const {
  if (overall.n == 0 || *overall.accuracy() < 0.90) return false;
  for (const auto& [type, t] : per_type)
    if (t.n > 0 && *t.accuracy() < 0.70) return false;
  return true;
}

nlohmann::ordered_json QaReport::to_json() const {
  nlohmann::ordered_json j;
  j["model"] = model;
  j["seeds"] = seeds;
  j["seconds"] = seconds;
  nlohmann::ordered_json types = nlohmann::ordered_json::object();
  for (const auto& type : qa_types()) {
    const Tally& t = per_type.at(type);
    types[type] = {{"n", t.n}, {"correct", t.correct}, {"accuracy", acc_json(t)}};
  }
  j["per_type"] = types;
  j["overall"] = {{"n", overall.n}, {"correct", overall.correct}, {"accuracy", acc_json(overall)}};
  j["meets_targets"] = meets_targets();
  j["answer_ms"] = {{"mean", mean(total_ms)},
                    {"p50", percentile(total_ms, 50)},
                    {"p99", percentile(total_ms, 99)},
                    {"first_token_p50", percentile(first_token_ms, 50)}};
  j["cache_bytes_end"] = {{"mean", mean(cache_bytes)}, {"max", percentile(cache_bytes, 100)}};
  j["state_bytes"] = state_bytes;
  j["frames"] = frames;
  j["ingest_fps"] = ingest_s > 0 ? static_cast<double>(frames) / ingest_s : 0.0;
  j["ingest_s"] = ingest_s;
  j["write_s"] = write_s;
  j["wall_s"] = wall_s;
  j["context_mismatches"] = context_mismatches;
  j["when_timing"] = when_timing_json(*this);
  nlohmann::ordered_json m = nlohmann::ordered_json::array();
  for (const auto& x : misses)
    m.push_back({{"seed", x.seed},
                 {"at", x.at},
                 {"type", x.type},
                 {"question", x.question},
                 {"truth", x.truth},
                 {"answer", x.answer}});
  j["misses"] = m;
  return j;
}

std::string QaReport::table() const {
  std::string s;
  char buf[512];
  std::snprintf(buf, sizeof buf, "yoco eval qa — model %s, %zu videos of %.0f s, seeds %llu..%llu\n\n",
                model.c_str(), seeds.size(), seconds,
                static_cast<unsigned long long>(seeds.empty() ? 0 : seeds.front()),
                static_cast<unsigned long long>(seeds.empty() ? 0 : seeds.back()));
  s += buf;
  std::snprintf(buf, sizeof buf, "%-10s %6s %8s %9s\n", "type", "n", "correct", "accuracy");
  s += buf;
  for (const auto& type : qa_types()) {
    const Tally& t = per_type.at(type);
    std::snprintf(buf, sizeof buf, "%-10s %6d %8d %9s\n", type.c_str(), t.n, t.correct, fmt_acc(t).c_str());
    s += buf;
  }
  std::snprintf(buf, sizeof buf, "%-10s %6d %8d %9s\n\n", "overall", overall.n, overall.correct,
                fmt_acc(overall).c_str());
  s += buf;
  const Tally when = timestamps_within(when_abs_err, when_not_timestamp, 2.0);
  if (when.n > 0) {
    std::snprintf(buf, sizeof buf, "when: %d of %d answers within 2 s of the truth, median error %s (%d not a time)\n",
                  when.correct, when.n,
                  when_abs_err.empty() ? "-" : (std::to_string(std::lround(percentile(when_abs_err, 50))) + " s").c_str(),
                  when_not_timestamp);
    s += buf;
  }
  std::snprintf(buf, sizeof buf,
                "answer latency: mean %.1f ms, p50 %.1f ms, p99 %.1f ms (first token p50 %.1f ms)\n"
                "cache at the end of a video: %.1f KiB mean, %.1f KiB max (+ %.1f KiB self-decoder state)\n"
                "ingest: %lld frames, %.1f frames/s; videos written in %.1f s; wall %.1f s\n",
                mean(total_ms), percentile(total_ms, 50), percentile(total_ms, 99),
                percentile(first_token_ms, 50), mean(cache_bytes) / 1024.0,
                percentile(cache_bytes, 100) / 1024.0, state_bytes / 1024.0, static_cast<long long>(frames),
                ingest_s > 0 ? static_cast<double>(frames) / ingest_s : 0.0, write_s, wall_s);
  s += buf;
  std::snprintf(buf, sizeof buf, "targets (overall >= 90%%, every type >= 70%%): %s\n",
                meets_targets() ? "met" : "NOT met");
  s += buf;
  if (context_mismatches > 0) {
    std::snprintf(buf, sizeof buf, "WARNING: %d answers had a context not ending on their frame\n",
                  context_mismatches);
    s += buf;
  }
  return s;
}

QaReport run_qa_eval(const QaEvalOptions& o) {
  YOCO_REQUIRE(o.videos >= 1 && o.videos <= 100000, "--videos must be in 1..100000");
  YOCO_REQUIRE(std::isfinite(o.seconds) && o.seconds >= 5 && o.seconds <= 36000,
               "--seconds must be in 5..36000");
  YOCO_REQUIRE(o.seed_start + static_cast<uint64_t>(o.videos) <= kFirstTrainingSeed,
               "evaluation seeds must stay below " + std::to_string(kFirstTrainingSeed) +
                   " (training uses the seeds from there on)");
  YOCO_REQUIRE(o.summary_tokens >= 1 && o.summary_tokens <= 4096, "--summary-tokens must be in 1..4096");
  YOCO_REQUIRE(o.misses_per_type >= 0 && o.misses_per_type <= 1000000, "--misses must be in 0..1000000");
  if (o.progress)  // after the checks: a refused run names no seeds
    o.progress("yoco eval qa: seeds " + std::to_string(o.seed_start) + ".." +
               std::to_string(o.seed_start + static_cast<uint64_t>(o.videos) - 1) + ", videos in " +
               o.work_dir);
  const auto t0 = Clock::now();
  namespace fs = std::filesystem;
  fs::create_directories(o.work_dir);

  QaReport r;
  r.model = o.model;
  r.seconds = o.seconds;
  for (const auto& type : qa_types()) r.per_type[type] = Tally{};
  std::map<std::string, int> misses_of;  // r.misses per type, so that keeping all of them stays linear
  pipeline::StreamRuntime rt(llm::Model::load(o.model));
  // Timestamped summaries outgrow a small default answer cap; never lower the model's own.
  const int summary_cap = std::max(o.summary_tokens, rt.format().max_answer_tokens);

  auto make = [&](int i) {
    world::WorldOptions wo;
    wo.seed = o.seed_start + static_cast<uint64_t>(i);
    wo.seconds = o.seconds;
    return write_world_clip(wo, o.work_dir, "qa-" + std::to_string(wo.seed));
  };
  // The next video is rendered and encoded while the current one streams.
  std::future<WorldClip> next = std::async(std::launch::async, make, 0);
  for (int i = 0; i < o.videos; ++i) {
    WorldClip clip = next.get();
    if (i + 1 < o.videos) next = std::async(std::launch::async, make, i + 1);
    r.seeds.push_back(clip.options.seed);
    r.write_s += clip.write_s;

    std::vector<TimedQuestion> qs;
    for (const auto& q : clip.qa) qs.push_back({q.at, q.question, q.type == "summary" ? summary_cap : 0});
    const ClipRun run = run_clip(rt, "qa-" + std::to_string(clip.options.seed), clip.video, qs);
    Tally video_tally;
    for (size_t k = 0; k < clip.qa.size(); ++k) {
      const auto& q = clip.qa[k];
      const TimedAnswer& a = run.answers[k];
      const bool ok = exact_match(a.text, q.answer);
      auto it = r.per_type.find(q.type);
      YOCO_REQUIRE(it != r.per_type.end(), "unknown question type " + q.type);
      it->second.add(ok);
      r.overall.add(ok);
      video_tally.add(ok);
      if (std::floor(a.pts + 1e-6) != q.at) ++r.context_mismatches;
      if (q.type == "when") {
        const auto want = parse_timestamp(q.answer), got = parse_timestamp(a.text);
        if (want && got)
          r.when_abs_err.push_back(std::fabs(*got - *want));
        else if (want)
          ++r.when_not_timestamp;
      }
      r.total_ms.push_back(a.total_ms);
      r.first_token_ms.push_back(a.first_token_ms);
      if (!ok && misses_of[q.type] < o.misses_per_type) {
        ++misses_of[q.type];
        r.misses.push_back({clip.options.seed, q.at, q.type, q.question, q.answer, a.text});
      }
    }
    r.cache_bytes.push_back(static_cast<double>(run.cache_bytes));
    r.state_bytes = static_cast<double>(run.state_bytes);
    r.frames += run.frames;
    r.ingest_s += run.ingest_s;
    if (!o.keep_files) {
      std::error_code ec;
      fs::remove(clip.video, ec);
      fs::remove(clip.truth, ec);
    }
    if (o.progress) {
      char buf[256];
      std::snprintf(buf, sizeof buf, "video %d/%d seed %llu: %d/%d correct, %lld frames in %.1f s", i + 1,
                    o.videos, static_cast<unsigned long long>(clip.options.seed), video_tally.correct,
                    video_tally.n, static_cast<long long>(run.frames), run.wall_s);
      o.progress(buf);
    }
  }
  r.wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
  return r;
}

}  // namespace yoco::eval
