#include "llm/session_log.h"

#include <cstring>
#include <filesystem>
#include <map>

#include "kernels/error.h"
#include "llm/session_log_scan.h"

namespace yoco::llm {

using namespace detail;

namespace {
std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

template <typename T>
void put(std::vector<uint8_t>& out, T v) {
  const size_t at = out.size();
  out.resize(at + sizeof v);
  std::memcpy(out.data() + at, &v, sizeof v);
}

nlohmann::json make_header(const Session& s, const nlohmann::json& meta) {
  nlohmann::json caches = nlohmann::json::array();
  for (const auto& c : s.caches()) caches.push_back({{"n_kv_heads", c.n_kv_heads()}, {"head_dim", c.head_dim()}});
  const SessionOptions& o = s.options();
  return {{"format", kStateFormat},
          {"version", kStateVersion},
          {"model", s.model().identity()},
          {"model_dir", s.model().dir()},
          {"session",
           {{"cache_dtype", kernels::dtype_name(o.cache_dtype)},
            {"page_tokens", o.page_tokens},
            {"max_batch", o.max_batch},
            {"retention_chunk", o.retention_chunk}}},
          {"caches", caches},
          {"self_state_bytes", s.self_state_image_bytes()},
          {"meta", meta}};
}

void write_page(RecordFileWriter& f, const PagedKvCache& c, uint32_t cache, int64_t held_index) {
  std::vector<uint8_t> head;
  put<uint32_t>(head, cache);
  put<int64_t>(head, c.page_number(held_index));
  f.append(kPageRecord, {head, std::span<const uint8_t>(c.page_data(held_index), c.page_bytes())});
}

// One parsed CHECKPOINT record (pointers into the mapped file).

}  // namespace

SessionLog::SessionLog(RecordFileWriter file, nlohmann::json header, const SessionLogOptions& options)
    : file_(std::move(file)), header_(std::move(header)), opts_(options) {}

SessionLog SessionLog::write_fresh(const std::string& path, nlohmann::json header, const Session& session,
                                   const nlohmann::json& state, const SessionLogOptions& options) {
  SessionLog log(RecordFileWriter::create(path, options.fsync), std::move(header), options);
  try {
    log.file_.append(kHeaderRecord, {bytes_of(log.header_.dump())});
    log.next_page_.assign(session.caches().size(), 0);
    log.append_pages(session);  // nothing written yet: every held full page
    log.write_checkpoint_record(session, state);
  } catch (...) {
    std::filesystem::remove(path);
    throw;
  }
  return log;
}

void SessionLog::mark_pages_written(const Session& session) {
  const auto& caches = session.caches();
  next_page_.assign(caches.size(), 0);
  for (size_t ci = 0; ci < caches.size(); ++ci)
    if (caches[ci].n_full_pages() > 0) next_page_[ci] = caches[ci].page_number(caches[ci].n_full_pages() - 1) + 1;
}

std::unique_ptr<SessionLog> SessionLog::create(const std::string& path, const Session& session,
                                               const nlohmann::json& meta, const nlohmann::json& state,
                                               const SessionLogOptions& options) {
  return std::unique_ptr<SessionLog>(new SessionLog(write_fresh(path, make_header(session, meta), session, state, options)));
}

void SessionLog::append_pages(const Session& session) {
  const auto& caches = session.caches();
  YOCO_CHECK(caches.size() == next_page_.size());
  for (size_t ci = 0; ci < caches.size(); ++ci) {
    const PagedKvCache& c = caches[ci];
    int64_t first = c.n_full_pages();
    while (first > 0 && c.page_number(first - 1) >= next_page_[ci]) first--;
    for (int64_t i = first; i < c.n_full_pages(); ++i) write_page(file_, c, static_cast<uint32_t>(ci), i);
    if (c.n_full_pages() > first) next_page_[ci] = c.page_number(c.n_full_pages() - 1) + 1;
  }
}

void SessionLog::write_checkpoint_record(const Session& session, const nlohmann::json& state) {
  const auto& caches = session.caches();
  std::vector<uint8_t> fixed;
  put<int64_t>(fixed, session.n_tokens());
  put<uint32_t>(fixed, static_cast<uint32_t>(caches.size()));
  std::vector<std::span<const uint8_t>> parts;
  std::vector<std::span<const uint8_t>> tails;
  for (const auto& c : caches) {
    const bool tail = c.n_tokens() % c.page_tokens() != 0;
    put<int64_t>(fixed, c.n_tokens());
    put<int64_t>(fixed, c.n_evicted());
    put<int64_t>(fixed, c.gap_begin());
    put<uint8_t>(fixed, tail ? 1 : 0);
    if (tail) {  // only the tokens written so far: K rows, then V rows
      const uint8_t* page = c.page_data(c.n_pages() - 1);
      const size_t rows = static_cast<size_t>(c.n_tokens() % c.page_tokens()) * (c.page_bytes() / 2 / c.page_tokens());
      tails.emplace_back(page, rows);
      tails.emplace_back(page + c.page_bytes() / 2, rows);
    }
  }
  const std::vector<uint8_t> self = session.self_state_image();
  const std::string js = state.dump();
  put<uint64_t>(fixed, self.size());
  put<uint64_t>(fixed, js.size());
  parts.emplace_back(fixed);
  parts.push_back(bytes_of(js));
  for (const auto& t : tails) parts.push_back(t);
  parts.emplace_back(self);
  file_.append(kCheckpointRecord, parts);
  if (file_.fsync_policy() == FsyncPolicy::kCheckpoint) file_.sync();
  checkpoints_++;
}

uint64_t SessionLog::live_bytes(const Session& session) const {
  uint64_t b = 4096 + session.self_state_image_bytes();
  for (const auto& c : session.caches()) b += static_cast<uint64_t>(c.n_pages()) * (c.page_bytes() + 40);
  return b;
}

void SessionLog::checkpoint(const Session& session, const nlohmann::json& state) {
  append_pages(session);
  write_checkpoint_record(session, state);
  if (file_.size() > 2 * live_bytes(session) + opts_.compact_slack_bytes) compact(session, state);
}

void SessionLog::compact(const Session& session, const nlohmann::json& state) {
  const std::string tmp = file_.path() + ".compact";
  std::filesystem::remove(tmp);
  SessionLog fresh = write_fresh(tmp, header_, session, state, opts_);
  try {
    fresh.file_.rename_to(file_.path());
  } catch (...) {
    std::filesystem::remove(tmp);
    throw;
  }
  fresh.checkpoints_ = checkpoints_ + 1;
  *this = std::move(fresh);
}

void SessionLog::export_to(const std::string& out, const Session& session, const nlohmann::json& state) const {
  SessionLogOptions o = opts_;
  o.fsync = FsyncPolicy::kCheckpoint;  // a snapshot is synced once written, whatever the live file's policy
  (void)write_fresh(out, header_, session, state, o);
}

SessionLog::Recovered SessionLog::recover(const std::string& path, std::shared_ptr<const Model> model,
                                          bool for_append, const SessionLogOptions& options, int max_batch) {
  YOCO_REQUIRE(model != nullptr, "recover: no model");
  const std::string where = "state file '" + path + "'";
  Recovered out;
  {
    RecordFileReader rd(path);
    Scan s = scan(rd, path);
    const std::string saved_model = s.header.value("model", "");
    YOCO_REQUIRE(saved_model == model->identity(),
                 where + " was written by another model (" + saved_model + " from '" +
                     s.header.value("model_dir", "") + "'); this model is " + model->identity() + " ('" +
                     model->dir() + "')");
    SessionOptions so;
    try {
      const auto& j = s.header.at("session");
      so.cache_dtype = dtype_from_name(j.at("cache_dtype").get<std::string>(), where);
      so.page_tokens = j.at("page_tokens").get<int>();
      so.max_batch = max_batch > 0 ? max_batch : j.at("max_batch").get<int>();
      so.retention_chunk = j.at("retention_chunk").get<int>();
    } catch (const nlohmann::json::exception& e) {
      throw Error(where + ": bad header: " + e.what());
    }
    std::vector<PagedKvCache> caches;
    std::vector<std::vector<uint8_t>> tail_pages(s.page_bytes.size());
    const auto& hc = s.header.at("caches");
    for (size_t ci = 0; ci < s.page_bytes.size(); ++ci) {
      const CheckpointView::Cache& c = s.last.caches[ci];
      const int64_t pt = s.page_tokens[ci];
      const int64_t n_pages = (c.held + pt - 1) / pt;
      const int64_t full = c.held / pt;
      const int64_t sink = c.evicted > 0 ? c.gap_begin / pt : 0;
      YOCO_REQUIRE(c.evicted % pt == 0 && c.gap_begin % pt == 0, where + ": evicted gap off page boundaries");
      std::vector<const uint8_t*> pages;
      for (int64_t i = 0; i < n_pages; ++i) {
        if (i >= full) {
          YOCO_REQUIRE(c.tail_k != nullptr, where + ": the checkpoint lacks cache " + std::to_string(ci) + "'s last page");
          std::vector<uint8_t>& tp = tail_pages[ci];
          tp.assign(s.page_bytes[ci], 0);
          std::memcpy(tp.data(), c.tail_k, c.tail_bytes);
          std::memcpy(tp.data() + s.page_bytes[ci] / 2, c.tail_v, c.tail_bytes);
          pages.push_back(tp.data());
          continue;
        }
        const int64_t number = i < sink ? i : i + c.evicted / pt;
        auto it = s.pages_at_last[ci].find(number);
        YOCO_REQUIRE(it != s.pages_at_last[ci].end(),
                     where + ": page " + std::to_string(number) + " of cache " + std::to_string(ci) + " is missing");
        pages.push_back(it->second);
      }
      out.report.pages += static_cast<int64_t>(pages.size());
      caches.push_back(PagedKvCache::from_pages(hc[ci].at("n_kv_heads").get<int>(), hc[ci].at("head_dim").get<int>(),
                                                so.cache_dtype, so.page_tokens, pages, c.held, c.evicted, c.gap_begin));
    }
    std::vector<uint8_t> self(s.last.self, s.last.self + s.last.self_len);
    out.session = std::make_unique<Session>(Session::restore(model, so, s.last.n_tokens, self, std::move(caches)));
    out.meta = s.header.value("meta", nlohmann::json::object());
    out.state = s.last.state;
    const int64_t pages = out.report.pages;
    out.report = s.report;
    out.report.pages = pages;
    if (for_append) {
      RecordFileWriter f = RecordFileWriter::append_to(path, s.report.kept_bytes, options.fsync);
      out.log.reset(new SessionLog(std::move(f), s.header, options));
      out.log->mark_pages_written(*out.session);
    }
  }  // the reader's mapping is released here; the session holds copies
  return out;
}

}  // namespace yoco::llm
