#include "apps/eval/eval_summary.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <set>
#include <sstream>

#include "apps/eval/eval_score.h"
#include "apps/eval/eval_world.h"
#include "apps/world/world_qa.h"
#include "kernels/error.h"
#include "llm/model.h"
#include "pipeline/summary.h"

namespace yoco::eval {

std::vector<EventItem> parse_event_items(const std::string& text, int* unparsed) {
  std::vector<EventItem> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t semi = text.find(';', pos);
    if (semi == std::string::npos) semi = text.size();
    const std::string piece = normalize_answer(text.substr(pos, semi - pos));
    pos = semi + 1;
    if (piece.empty()) continue;
    const size_t sp = piece.find(' ');
    const auto t = parse_timestamp(piece.substr(0, sp));
    const std::string rest = sp == std::string::npos ? "" : normalize_answer(piece.substr(sp + 1));
    if (!t || rest.empty()) {
      if (unparsed) ++*unparsed;
      continue;
    }
    out.push_back({*t, rest});
  }
  return out;
}

EventMatch match_events(const std::vector<EventItem>& truth, std::vector<EventItem> predicted, double tolerance) {
  std::sort(predicted.begin(), predicted.end(),
            [](const EventItem& a, const EventItem& b) { return a.t != b.t ? a.t < b.t : a.text < b.text; });
  predicted.erase(std::unique(predicted.begin(), predicted.end(),
                              [](const EventItem& a, const EventItem& b) { return a.t == b.t && a.text == b.text; }),
                  predicted.end());
  EventMatch m;
  m.truth = static_cast<int>(truth.size());
  m.predicted = static_cast<int>(predicted.size());
  auto pair_up = [&](double tol, std::vector<double>* dts) {
    std::vector<bool> used(truth.size(), false);
    int n = 0;
    for (const auto& p : predicted) {
      size_t best = truth.size();
      double best_dt = std::numeric_limits<double>::infinity();
      for (size_t i = 0; i < truth.size(); ++i) {
        if (used[i] || truth[i].text != p.text) continue;
        const double dt = std::fabs(truth[i].t - p.t);
        if (dt <= tol && dt < best_dt) {
          best = i;
          best_dt = dt;
        }
      }
      if (best == truth.size()) continue;
      used[best] = true;
      ++n;
      if (dts) dts->push_back(best_dt);
    }
    return n;
  };
  m.matched = pair_up(tolerance, &m.abs_dt);
  m.matched_text = pair_up(std::numeric_limits<double>::infinity(), nullptr);
  return m;
}

void EventMatch::add(const EventMatch& o) {
  truth += o.truth;
  predicted += o.predicted;
  matched += o.matched;
  matched_text += o.matched_text;
  abs_dt.insert(abs_dt.end(), o.abs_dt.begin(), o.abs_dt.end());
}

namespace {

double ratio(int a, int b) { return b > 0 ? double(a) / b : 0.0; }

}  // namespace

double SummaryReport::recall() const { return total.truth > 0 ? double(total.matched) / total.truth : 0.0; }
double SummaryReport::precision() const {
  return total.predicted > 0 ? double(total.matched) / total.predicted : 0.0;
}

nlohmann::ordered_json SummaryReport::to_json() const {
  nlohmann::ordered_json j;
  j["model"] = model;
  j["seconds"] = seconds;
  j["tolerance"] = tolerance;
  j["every"] = every;
  j["caption_context"] = context;
  j["covers"] = prompt_covers;
  j["events"] = {{"truth", total.truth}, {"predicted", total.predicted}, {"matched", total.matched},
                 {"matched_any_time", total.matched_text}};
  j["recall"] = recall();
  j["precision"] = precision();
  j["recall_any_time"] = ratio(total.matched_text, total.truth);
  j["stray_items_dropped"] = stray;
  j["without_stray_filter"] = {{"predicted", raw_total.predicted}, {"matched", raw_total.matched},
                               {"recall", ratio(raw_total.matched, raw_total.truth)},
                               {"precision", ratio(raw_total.matched, raw_total.predicted)}};
  j["abs_dt"] = {{"mean", mean(total.abs_dt)}, {"p50", percentile(total.abs_dt, 50)},
                 {"max", percentile(total.abs_dt, 100)}};
  j["videos"] = nlohmann::ordered_json::array();
  for (const auto& v : videos)
    j["videos"].push_back({{"seed", v.seed}, {"truth", v.match.truth}, {"predicted", v.match.predicted},
                           {"matched", v.match.matched}, {"stray_dropped", v.stray},
                           {"matched_without_filter", v.raw.matched}, {"captions", v.captions},
                           {"unparsed", v.unparsed},
                           {"wall_s", v.wall_s}});
  j["wall_s"] = wall_s;
  j["x_realtime"] = wall_s > 0 ? video_s / wall_s : 0.0;
  return j;
}

std::string SummaryReport::table() const {
  std::ostringstream o;
  char buf[256];
  char reads[64] = "reading everything";
  if (context > 0) std::snprintf(reads, sizeof reads, "reading the last %g s", context);
  std::snprintf(buf, sizeof buf, "yoco eval summary — %s, %zu videos of %.0f s, a caption every %.0f s (%s, %s)\n",
                model.c_str(), videos.size(), seconds, every, prompt_covers.c_str(), reads);
  o << buf;
  o << "| events | truth | told | matched (±" << tolerance << " s) | recall | precision | recall, any time |\n";
  o << "|---|---|---|---|---|---|---|\n";
  std::snprintf(buf, sizeof buf, "| all | %d | %d | %d | %.1f%% | %.1f%% | %.1f%% |\n", total.truth, total.predicted,
                total.matched, 100 * recall(), 100 * precision(),
                100 * ratio(total.matched_text, total.truth));
  o << buf;
  const EventMatch& raw = raw_total;
  std::snprintf(buf, sizeof buf,
                "| captions as said (%d stray items kept) | %d | %d | %d | %.1f%% | %.1f%% | %.1f%% |\n", stray,
                raw.truth, raw.predicted, raw.matched, 100 * ratio(raw.matched, raw.truth),
                100 * ratio(raw.matched, raw.predicted), 100 * ratio(raw.matched_text, raw.truth));
  o << buf;
  std::snprintf(buf, sizeof buf, "timestamp error of matched events: mean %.2f s, max %.0f s; %.1fx real time\n",
                mean(total.abs_dt), percentile(total.abs_dt, 100), wall_s > 0 ? video_s / wall_s : 0.0);
  o << buf;
  return o.str();
}

SummaryReport run_summary_eval(const SummaryEvalOptions& options) {
  YOCO_REQUIRE(options.videos >= 1 && options.videos <= 10000, "--videos must be in 1..10000");
  YOCO_REQUIRE(options.seconds >= 2 && options.seconds <= 24 * 3600, "--seconds must be in 2..86400");
  YOCO_REQUIRE(options.tolerance >= 0 && options.tolerance <= 3600, "--tolerance must be in 0..3600 s");
  YOCO_REQUIRE(options.seed_start + static_cast<uint64_t>(options.videos) <= kFirstTrainingSeed,
               "evaluation seeds must stay below " + std::to_string(kFirstTrainingSeed));
  std::filesystem::create_directories(options.work_dir);
  std::shared_ptr<const llm::Model> model = llm::Model::load(options.model);
  SummaryReport r;
  r.model = options.model;
  r.seconds = options.seconds;
  r.tolerance = options.tolerance;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < options.videos; ++i) {
    world::WorldOptions wo;
    wo.seed = options.seed_start + static_cast<uint64_t>(i);
    wo.seconds = options.seconds;
    const std::string name = "summary-" + std::to_string(wo.seed);
    const WorldClip clip = write_world_clip(wo, options.work_dir, name);
    const std::vector<EventItem> truth = parse_event_items(clip.events);
    pipeline::SummaryOptions so;
    so.context = options.caption_context;
    const pipeline::Summary sum = pipeline::summarize_video(model, clip.video, so);
    SummaryVideo v;
    v.seed = wo.seed;
    v.captions = static_cast<int>(sum.captions.size());
    v.wall_s = sum.wall_s;
    std::vector<EventItem> told, said;
    for (const auto& e : sum.events) {
      auto items = parse_event_items(e.text, &v.unparsed);
      told.insert(told.end(), items.begin(), items.end());
    }
    for (const auto& [pts, text] : sum.captions) {
      auto items = parse_event_items(text);
      said.insert(said.end(), items.begin(), items.end());
    }
    v.match = match_events(truth, told, options.tolerance);
    v.raw = match_events(truth, said, options.tolerance);
    v.stray = sum.stray_items;
    r.every = sum.every;
    r.context = sum.context;
    r.prompt_covers = sum.preceding ? "preceding" : "following";
    r.total.add(v.match);
    r.raw_total.add(v.raw);
    r.stray += v.stray;
    r.video_s += sum.duration;
    r.videos.push_back(v);
    if (!options.keep_files) {
      std::error_code ec;
      std::filesystem::remove(clip.video, ec);
      std::filesystem::remove(clip.truth, ec);
    }
    if (options.progress) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "seed %llu: %d of %d events told (±%.0f s), %d told, %.1f s",
                    static_cast<unsigned long long>(wo.seed), v.match.matched, v.match.truth, options.tolerance,
                    v.match.predicted, v.wall_s);
      options.progress(buf);
    }
  }
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace yoco::eval
