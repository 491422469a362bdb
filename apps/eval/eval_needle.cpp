#include "apps/eval/eval_needle.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <future>

#include "apps/eval/eval_stream.h"
#include "apps/eval/eval_world.h"
#include "kernels/error.h"
#include "llm/model.h"

namespace yoco::eval {
namespace {

using Clock = std::chrono::steady_clock;

std::string pct(const Tally& t) {
  if (t.n == 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f%% (%d/%d)", 100.0 * *t.accuracy(), t.correct, t.n);
  return buf;
}

std::string minutes_label(double m) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g min", m);
  return buf;
}

nlohmann::json acc(const Tally& t) {
  if (t.n == 0) return nullptr;
  return *t.accuracy();
}

// Answers of an untrained model can be any bytes: keep progress lines printable.
std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  return out;
}

struct Job {
  size_t length = 0;
  int depth = -1;  // index into depths; -1: control
  uint64_t seed = 0;
};

}  // namespace

Tally NeedleReport::absent() const {
  Tally t;
  for (const auto& l : lengths) {
    t.n += l.absent.n;
    t.correct += l.absent.correct;
  }
  return t;
}

Tally NeedleReport::ts_within_2s() const {
  Tally t;
  for (const auto& l : lengths) {
    const Tally one = timestamps_within(l.ts_error_s, l.ts_unparsed, 2.0);
    t.n += one.n;
    t.correct += one.correct;
  }
  return t;
}

nlohmann::ordered_json NeedleReport::to_json() const {
  nlohmann::ordered_json j;
  j["model"] = model;
  j["depths_pct"] = depths_pct;
  j["distractors"] = distractors;
  nlohmann::ordered_json ls = nlohmann::ordered_json::array();
  for (const auto& l : lengths) {
    nlohmann::ordered_json x;
    x["minutes"] = l.minutes;
    nlohmann::ordered_json d = nlohmann::ordered_json::array();
    for (const auto& t : l.depth) d.push_back({{"n", t.n}, {"correct", t.correct}, {"accuracy", acc(t)}});
    x["by_depth"] = d;
    x["present"] = {{"n", l.present.n}, {"correct", l.present.correct}, {"accuracy", acc(l.present)}};
    x["absent"] = {{"n", l.absent.n}, {"correct", l.absent.correct}, {"accuracy", acc(l.absent)}};
    x["timestamp_error_s"] = {{"parsed", l.ts_error_s.size()},
                              {"unparsed", l.ts_unparsed},
                              {"mean", mean(l.ts_error_s)},
                              {"p50", percentile(l.ts_error_s, 50)},
                              {"max", percentile(l.ts_error_s, 100)}};
    x["answer_ms"] = {
        {"mean", mean(l.total_ms)}, {"p50", percentile(l.total_ms, 50)}, {"p99", percentile(l.total_ms, 99)}};
    x["cache_bytes_end"] = mean(l.cache_bytes);
    x["frames"] = l.frames;
    x["ingest_fps"] = l.ingest_s > 0 ? static_cast<double>(l.frames) / l.ingest_s : 0.0;
    x["ingest_s"] = l.ingest_s;
    x["write_s"] = l.write_s;
    ls.push_back(x);
  }
  j["lengths"] = ls;
  const Tally a = absent(), ts = ts_within_2s();
  j["absent"] = {{"n", a.n}, {"correct", a.correct}, {"accuracy", acc(a)}};
  j["timestamp_within_2s"] = {{"n", ts.n}, {"correct", ts.correct}, {"accuracy", acc(ts)}};
  nlohmann::ordered_json tr = nlohmann::ordered_json::array();
  for (const auto& t : trials) {
    nlohmann::ordered_json x = {{"seed", t.seed}, {"minutes", t.minutes}};
    x["depth_pct"] = t.depth_pct < 0 ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(t.depth_pct);
    x["truth"] = t.truth;
    x["answer"] = t.answer;
    x["correct"] = t.correct;
    if (t.depth_pct >= 0) {
      x["needle_at"] = t.needle_at;
      x["when_answer"] = t.when_answer;
    }
    tr.push_back(x);
  }
  j["trials"] = tr;
  j["wall_s"] = wall_s;
  return j;
}

std::string NeedleReport::table() const {
  std::string s;
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "yoco eval needle — model %s, %d distractors per stream, seeds %llu..%llu\n\n", model.c_str(),
                distractors, static_cast<unsigned long long>(trials.empty() ? 0 : trials.front().seed),
                static_cast<unsigned long long>(trials.empty() ? 0 : trials.back().seed));
  s += buf;
  std::snprintf(buf, sizeof buf, "%-8s", "length");
  s += buf;
  for (double d : depths_pct) {
    std::snprintf(buf, sizeof buf, " %14s", (std::to_string(static_cast<int>(d)) + "%").c_str());
    s += buf;
  }
  std::snprintf(buf, sizeof buf, " %14s %14s %12s %14s\n", "all depths", "absent", "ts err p50", "ts <= 2 s");
  s += buf;
  for (const auto& l : lengths) {
    std::snprintf(buf, sizeof buf, "%-8s", minutes_label(l.minutes).c_str());
    s += buf;
    for (const auto& t : l.depth) {
      std::snprintf(buf, sizeof buf, " %14s", pct(t).c_str());
      s += buf;
    }
    const Tally ts = timestamps_within(l.ts_error_s, l.ts_unparsed, 2.0);
    char err[32] = "-";
    if (!l.ts_error_s.empty()) std::snprintf(err, sizeof err, "%.1f s", percentile(l.ts_error_s, 50));
    std::snprintf(buf, sizeof buf, " %14s %14s %12s %14s\n", pct(l.present).c_str(), pct(l.absent).c_str(),
                  err, pct(ts).c_str());
    s += buf;
  }
  s += "\n";
  for (const auto& l : lengths) {
    std::snprintf(
        buf, sizeof buf,
        "%-8s ingest %.1f frames/s (%.0f× real time at 1 fps), cache at end %.1f KiB, answer p50 %.1f ms "
        "p99 %.1f ms, %d timestamp answers unparsed\n",
        minutes_label(l.minutes).c_str(), l.ingest_s > 0 ? static_cast<double>(l.frames) / l.ingest_s : 0.0,
        l.ingest_s > 0 ? static_cast<double>(l.frames) / l.ingest_s : 0.0, mean(l.cache_bytes) / 1024.0,
        percentile(l.total_ms, 50), percentile(l.total_ms, 99), l.ts_unparsed);
    s += buf;
  }
  const Tally a = absent(), ts = ts_within_2s();
  std::snprintf(buf, sizeof buf,
                "\nneedle-absent answered \"%s\": %s; timestamps within 2 s: %s; wall %.1f s\n",
                kNoCodeAnswer, pct(a).c_str(), pct(ts).c_str(), wall_s);
  s += buf;
  std::string targets;
  for (const auto& l : lengths) {
    if (l.minutes == 10 && l.present.n > 0)
      targets += std::string(" 10 min >= 95%: ") + (*l.present.accuracy() >= 0.95 ? "met" : "NOT met") + ";";
    if (l.minutes == 60 && l.present.n > 0)
      targets += std::string(" 60 min >= 90%: ") + (*l.present.accuracy() >= 0.90 ? "met" : "NOT met") + ";";
  }
  if (a.n > 0) targets += std::string(" absent >= 90%: ") + (*a.accuracy() >= 0.90 ? "met" : "NOT met") + ";";
  if (ts.n > 0) targets += std::string(" timestamps within 2 s: ") + (ts.correct == ts.n ? "met" : "NOT met");
  s += "targets:" + targets + "\n";
  return s;
}

Heatmap NeedleReport::heatmap() const {
  Heatmap h;
  h.title = "needle retrieval: " + model;
  h.row_axis = "length";
  h.col_axis = "needle depth (share of the stream before it)";
  for (double d : depths_pct) h.cols.push_back(std::to_string(static_cast<int>(d)) + "%");
  h.cols.push_back("absent");
  for (const auto& l : lengths) {
    h.rows.push_back(minutes_label(l.minutes));
    std::vector<std::optional<double>> row;
    for (const auto& t : l.depth) row.push_back(t.accuracy());
    row.push_back(l.absent.accuracy());
    h.cells.push_back(row);
  }
  return h;
}

NeedleReport run_needle_eval(const NeedleEvalOptions& o) {
  YOCO_REQUIRE(!o.lengths_min.empty() && !o.depths_pct.empty(), "--lengths and --depths must not be empty");
  for (double m : o.lengths_min)
    YOCO_REQUIRE(std::isfinite(m) && m * 60 >= 10 && m <= 600, "--lengths must be in 1/6..600 minutes");
  for (double d : o.depths_pct) YOCO_REQUIRE(d >= 0 && d <= 100, "--depths must be in 0..100");
  YOCO_REQUIRE(o.trials >= 1 && o.trials <= 1000, "--trials must be in 1..1000");
  YOCO_REQUIRE(o.distractors >= 0 && o.distractors <= 100, "--distractors must be in 0..100");
  const int controls = o.controls < 0 ? o.trials : o.controls;
  if (o.progress)  // after the checks: a refused run names no seeds
    o.progress("yoco eval needle: seeds from " + std::to_string(o.seed_start) + ", videos in " + o.work_dir);

  std::vector<Job> jobs;
  uint64_t seed = o.seed_start;
  for (size_t l = 0; l < o.lengths_min.size(); ++l) {
    for (size_t d = 0; d < o.depths_pct.size(); ++d)
      for (int k = 0; k < o.trials; ++k) jobs.push_back({l, static_cast<int>(d), seed++});
    for (int k = 0; k < controls; ++k) jobs.push_back({l, -1, seed++});
  }
  YOCO_REQUIRE(seed <= kFirstTrainingSeed, "evaluation seeds must stay below " +
                                               std::to_string(kFirstTrainingSeed) +
                                               " (training uses the seeds from there on)");
  const auto t0 = Clock::now();
  namespace fs = std::filesystem;
  fs::create_directories(o.work_dir);

  NeedleReport r;
  r.model = o.model;
  r.depths_pct = o.depths_pct;
  r.distractors = o.distractors;
  for (double m : o.lengths_min) {
    NeedleLengthStats s;
    s.minutes = m;
    s.depth.resize(o.depths_pct.size());
    r.lengths.push_back(s);
  }
  pipeline::StreamRuntime rt(llm::Model::load(o.model));

  auto make = [&](size_t i) {
    const Job& j = jobs[i];
    const double seconds = o.lengths_min[j.length] * 60.0;
    const double depth = j.depth < 0 ? 0.0 : o.depths_pct[static_cast<size_t>(j.depth)] / 100.0;
    const auto wo =
        needle_options(j.seed, seconds, depth, needle_code_for(j.seed), o.distractors, j.depth < 0);
    return write_world_clip(wo, o.work_dir, "needle-" + std::to_string(j.seed));
  };
  std::future<WorldClip> next = std::async(std::launch::async, make, 0);
  for (size_t i = 0; i < jobs.size(); ++i) {
    WorldClip clip = next.get();
    if (i + 1 < jobs.size()) next = std::async(std::launch::async, make, i + 1);
    const Job& job = jobs[i];
    NeedleLengthStats& ls = r.lengths[job.length];
    const bool present = job.depth >= 0;
    const double end = std::floor(clip.last_pts + 1e-9);
    std::vector<TimedQuestion> qs = {{end, kNeedleQuestion, 0}};
    if (present) qs.push_back({end, kNeedleWhenQuestion, 0});
    const ClipRun run = run_clip(rt, "needle-" + std::to_string(job.seed), clip.video, qs);

    NeedleTrial t;
    t.seed = job.seed;
    t.minutes = ls.minutes;
    t.depth_pct = present ? o.depths_pct[static_cast<size_t>(job.depth)] : -1;
    t.truth = clip.needle.value_or(kNoCodeAnswer);
    t.answer = run.answers[0].text;
    t.correct = exact_match(t.answer, t.truth);
    if (present) {
      YOCO_CHECK(clip.needle.has_value());
      ls.depth[static_cast<size_t>(job.depth)].add(t.correct);
      ls.present.add(t.correct);
      t.needle_at = clip.needle_at;
      t.when_answer = run.answers[1].text;
      if (const auto ts = parse_timestamp(t.when_answer))
        ls.ts_error_s.push_back(std::fabs(*ts - clip.needle_at));
      else
        ++ls.ts_unparsed;
    } else {
      ls.absent.add(t.correct);
    }
    for (const auto& a : run.answers) ls.total_ms.push_back(a.total_ms);
    ls.cache_bytes.push_back(static_cast<double>(run.cache_bytes));
    ls.frames += run.frames;
    ls.ingest_s += run.ingest_s;
    ls.write_s += clip.write_s;
    r.trials.push_back(t);
    if (!o.keep_files) {
      std::error_code ec;
      fs::remove(clip.video, ec);
      fs::remove(clip.truth, ec);
    }
    if (o.progress) {
      char buf[320];
      std::snprintf(
          buf, sizeof buf, "stream %zu/%zu seed %llu, %g min, %s: \"%s\" vs \"%s\" %s; %lld frames in %.1f s",
          i + 1, jobs.size(), static_cast<unsigned long long>(job.seed), ls.minutes,
          present ? ("depth " + std::to_string(static_cast<int>(t.depth_pct)) + "%").c_str() : "absent",
          printable(t.answer).c_str(), t.truth.c_str(), t.correct ? "ok" : "miss",
          static_cast<long long>(run.frames), run.wall_s);
      o.progress(buf);
    }
  }
  r.wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
  return r;
}

}  // namespace yoco::eval
