// The soak run's report: the tables on stdout (or JSON) and the checks that make it fail (docs/RELIABILITY.md).
#include "apps/soak/soak.h"

namespace yoco::app::soak {

int Soak::report() {
  std::vector<std::string> fails = tally_.failures;
  if (service_gone_) fails.push_back("crash: the service ended during the run (" + service_end_ + ")");
  else if (service_end_ != "exit 0") fails.push_back("the service ended with " + service_end_ + " after SIGTERM (a leak report under LSan?)");
  if (tally_.answered == 0) fails.push_back("no question was answered");
  // Files: every ended generation accounted for.
  int file_budget_hits = 0;
  for (const auto& f : files_) {
    if (f.mismatches) fails.push_back("lost frames: " + f.last_mismatch);
    if (f.generation > 1 && !f.budget_hit) fails.push_back(f.id + " never reached its budget (" + f.policy + ")");
    file_budget_hits += f.budget_hit;
  }
  // Bus: ingested + dropped == published; budgets hit; the killed publisher's stream goes on.
  int bus_budget_hits = 0;
  for (const auto& b : buses_) {
    const bool hit = b.evicted_tokens > 0 || b.spilled_bytes > 0;
    bus_budget_hits += hit;
    if (b.state != "running")
      fails.push_back(b.id + " is not running at the end (" + b.state + ", " + b.end_reason + ")");
    else if (b.frames + b.dropped != b.published)
      fails.push_back("lost frames: " + b.id + " ingested " + std::to_string(b.frames) + " + dropped " +
                      std::to_string(b.dropped) + " != published " + std::to_string(b.published));
    if (b.corrupt) fails.push_back(b.id + ": " + std::to_string(b.corrupt) + " frames reported corrupt");
    if (!hit) fails.push_back(b.id + " never reached its budget (" + b.policy + ")");
  }
  int64_t victim_final = buses_.empty() ? 0 : buses_[0].frames;
  if (!buses_.empty() && restarted_frames_ >= 0 && victim_final <= restarted_frames_ + 5)
    fails.push_back("the restarted publisher's stream did not keep ingesting (" + std::to_string(restarted_frames_) +
                    " frames at the restart, " + std::to_string(victim_final) + " at the end)");
  if (!files_.empty() && std::none_of(files_.begin(), files_.end(), [](const FileStream& f) { return f.ended_eos > 0; }))
    fails.push_back("no file stream played to its end (run longer)");
  if (garbage_sent_ == 0) fails.push_back("the garbage client sent nothing");
  // RSS: growth over the last third, once budgets are reached.
  std::vector<std::pair<double, soak::Rss>> rss;
  {
    std::lock_guard<std::mutex> lock(rss_mu_);
    rss = rss_;  // from the load's start (the streams are open)
  }
  // Anonymous RSS over the last third against before it, peak against peak: a leak raises the peak, allocator
  // noise does not. File-backed RSS is left out: it is the spill files' mapped pages, reclaimable page cache
  // whose size the spill budget does not bound (docs/RELIABILITY.md).
  const double mib = 1048576.0;
  double growth_mb = 0, bound_mb = 0;
  if (rss.size() >= 6) {
    const size_t a = rss.size() * 2 / 3;
    size_t peak_before = 0, peak_after = 0;
    for (size_t i = 0; i < rss.size(); ++i) {
      size_t& peak = i < a ? peak_before : peak_after;
      peak = std::max(peak, rss[i].second.anon);
    }
    growth_mb = (static_cast<double>(peak_after) - static_cast<double>(peak_before)) / mib;
    // The floor: in a run shorter than a minute the last third is a few seconds of allocator warm-up (glibc
    // gives question threads new arenas as they first allocate: 5.6 MiB was seen in a 20 s run), so the quick
    // run only catches gross leaks; LeakSanitizer and long runs catch small ones.
    const double floor_mb = s_.seconds < 60 ? 16.0 : 4.0;
    bound_mb = std::max(floor_mb, 0.05 * static_cast<double>(peak_before) / mib);
    if (growth_mb > bound_mb)
      fails.push_back("anonymous RSS grew " + std::to_string(growth_mb).substr(0, 5) + " MiB over the last third (bound " +
                      std::to_string(bound_mb).substr(0, 5) + " MiB)");
  }
  const json svc = final_stats_.is_object() ? final_stats_.value("service", json::object()) : json::object();

  json out = {{"seconds", end_wall_s_}, {"streams", files_.size() + buses_.size()}, {"clients", s_.clients},
              {"budget_mb", s_.budget_mb}, {"questions", {{"answered", tally_.answered}, {"failed", tally_.failed},
              {"timeouts", tally_.timeouts}}},
              {"latency_ms", {{"first_token_p50", quantile(tally_.first_ms, 0.5)}, {"first_token_p99", quantile(tally_.first_ms, 0.99)},
                              {"total_p50", quantile(tally_.total_ms, 0.5)}, {"total_p99", quantile(tally_.total_ms, 0.99)},
                              {"round_trip_p50", quantile(tally_.round_trip_ms, 0.5)}, {"round_trip_p99", quantile(tally_.round_trip_ms, 0.99)}}},
              {"errors", tally_.errors}, {"service_counters", svc}, {"max_status_ms", max_status_ms_},
              {"garbage", {{"sent", garbage_sent_}, {"error_replies", garbage_errors_}, {"dropped", garbage_dropped_},
                           {"unanswered", garbage_unanswered_}, {"accepted", garbage_accepted_}}},
              {"slow_subscriber_events", slow_events_.load()},
              {"publisher_kill", {{"at_s", kill_at_}, {"restart_at_s", restart_at_}, {"frames_at_kill", killed_frames_},
                                  {"frames_at_restart", restarted_frames_}, {"frames_at_end", victim_final}}},
              {"rss", {{"anon_growth_last_third_mb", growth_mb}, {"bound_mb", bound_mb}}},
              {"service_end_", service_end_}, {"failures", fails}, {"ok", fails.empty()}};
  json rows = json::array();
  for (const auto& f : files_)
    rows.push_back({{"stream", f.id}, {"source", "file (realtime, looped)"}, {"policy", f.policy}, {"frames", f.frames_total},
                    {"generations", f.generation}, {"ended_eos", f.ended_eos}, {"ended_budget", f.ended_budget},
                    {"accounted", f.checked_ok}, {"expected_per_loop", f.expected},
                    {"budget_hit", f.budget_hit}});
  for (const auto& b : buses_)
    rows.push_back({{"stream", b.id}, {"source", "bus"}, {"policy", b.policy}, {"frames", b.frames}, {"dropped", b.dropped},
                    {"published", b.published}, {"restarts", b.restarts}, {"evicted_tokens", b.evicted_tokens},
                    {"spilled_bytes", b.spilled_bytes}});
  out["rows"] = rows;
  json timeline = json::array();
  for (int p = 0; p <= 10 && !rss.empty(); ++p) {
    const auto& r = rss[std::min(rss.size() - 1, static_cast<size_t>(p * (rss.size() - 1) / 10))];
    timeline.push_back({{"t_s", r.first}, {"rss_mb", static_cast<double>(r.second.total) / mib},
                        {"anon_mb", static_cast<double>(r.second.anon) / mib},
                        {"file_mb", static_cast<double>(r.second.file) / mib}});
  }
  out["rss"]["timeline"] = timeline;

  if (s_.json) {
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("soak: %.0f s, %zu file + %zu bus streams, %d clients, budget %.2f MiB per stream\n\n", end_wall_s_,
                files_.size(), buses_.size(), s_.clients, s_.budget_mb);
    std::printf("questions answered %lld, failed %lld (timeouts %lld)\n", (long long)tally_.answered,
                (long long)tally_.failed, (long long)tally_.timeouts);
    std::printf("answer ms       p50      p99\n");
    std::printf("first token %7.1f  %7.1f\n", quantile(tally_.first_ms, 0.5), quantile(tally_.first_ms, 0.99));
    std::printf("total       %7.1f  %7.1f\n", quantile(tally_.total_ms, 0.5), quantile(tally_.total_ms, 0.99));
    std::printf("round trip  %7.1f  %7.1f   (client side, includes queueing for the question threads)\n\n",
                quantile(tally_.round_trip_ms, 0.5), quantile(tally_.round_trip_ms, 0.99));
    std::printf("%-7s %-6s %-6s %8s %8s %10s %s\n", "stream", "source", "policy", "frames", "dropped", "expected",
                "accounting");
    for (const auto& f : files_)
      std::printf("%-7s %-6s %-6s %8lld %8s %10lld %d loops: %d to the end, %d stopped by the budget, %d/%d accounted\n",
                  f.id.c_str(), "file", f.policy.c_str(), (long long)f.frames_total, "-", (long long)f.expected,
                  f.generation, f.ended_eos, f.ended_budget, f.checked_ok, f.ended_eos + f.ended_budget);
    for (const auto& b : buses_)
      std::printf("%-7s %-6s %-6s %8lld %8lld %10lld %s%s\n", b.id.c_str(), "bus", b.policy.c_str(), (long long)b.frames,
                  (long long)b.dropped, (long long)b.published,
                  b.frames + b.dropped == b.published ? "ingested + dropped == published" : "MISMATCH",
                  b.restarts ? "  (publisher killed and restarted)" : "");
    std::printf("budgets reached: %d/%zu file streams, %d/%zu bus streams\n", file_budget_hits, files_.size(),
                bus_budget_hits, buses_.size());
    std::printf("\nservice RSS MiB, every 10%% of the run:\n%-9s", "VmRSS");
    for (const auto& r : timeline) std::printf(" %6.1f", r["rss_mb"].get<double>());
    std::printf("\n%-9s", "RssAnon");
    for (const auto& r : timeline) std::printf(" %6.1f", r["anon_mb"].get<double>());
    std::printf("\n%-9s", "RssFile");
    for (const auto& r : timeline) std::printf(" %6.1f", r["file_mb"].get<double>());
    std::printf("\nRssAnon growth over the last third (peak vs peak before): %+.1f MiB (bound %.1f MiB)\n",
                growth_mb, bound_mb);
    std::printf("publisher kill at %.0f s (bus0 at %lld frames), restart at %.0f s (%lld), end %lld\n", kill_at_,
                (long long)killed_frames_, restart_at_, (long long)restarted_frames_, (long long)victim_final);
    std::printf("garbage: sent %lld, error replies %lld, dropped with the connection %lld, unanswered %lld\n",
                (long long)garbage_sent_, (long long)garbage_errors_, (long long)garbage_dropped_,
                (long long)garbage_unanswered_);
    std::printf("slow subscriber: read %lld events; slowest status reply %.0f ms\n", (long long)slow_events_.load(),
                max_status_ms_);
    std::printf("errors by kind:\n");
    for (const auto& [k, v] : tally_.errors) std::printf("  %6lld  %s\n", (long long)v, k.c_str());
    std::printf("service: %s\n", service_end_.c_str());
    std::printf("\nsoak: %s\n", fails.empty() ? "ok" : "FAIL");
  }
  for (const auto& f : fails) std::fprintf(stderr, "soak: FAIL: %s\n", f.c_str());
  if (!fails.empty()) {
    std::lock_guard<std::mutex> lock(log_mu_);
    for (const auto& l : service_log_) std::fprintf(stderr, "  service: %s\n", l.c_str());
  }
  return fails.empty() ? 0 : 1;
}

}  // namespace yoco::app::soak
