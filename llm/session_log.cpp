#include "llm/session_log.h"

#include <cstring>
#include <filesystem>
#include <map>

#include "kernels/error.h"

namespace yoco::llm {

namespace {
constexpr uint32_t kHeader = 1, kPage = 2, kCheckpoint = 3;
constexpr const char* kFormat = "yoco-stream-state";
constexpr int kVersion = 1;

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

template <typename T>
void put(std::vector<uint8_t>& out, T v) {
  const size_t at = out.size();
  out.resize(at + sizeof v);
  std::memcpy(out.data() + at, &v, sizeof v);
}

// Bounds-checked reads from a record payload.
struct Cursor {
  const uint8_t* p;
  uint64_t left;
  const std::string& where;
  template <typename T>
  T get() {
    YOCO_REQUIRE(left >= sizeof(T), where + ": record too short");
    T v;
    std::memcpy(&v, p, sizeof v);
    p += sizeof v;
    left -= sizeof v;
    return v;
  }
  const uint8_t* take(uint64_t n) {
    YOCO_REQUIRE(left >= n, where + ": record too short");
    const uint8_t* q = p;
    p += n;
    left -= n;
    return q;
  }
};

kernels::DType dtype_from_name(const std::string& n, const std::string& where) {
  for (kernels::DType t : {kernels::DType::F32, kernels::DType::F16, kernels::DType::BF16})
    if (n == kernels::dtype_name(t)) return t;
  throw Error(where + ": unknown cache dtype '" + n + "'");
}

nlohmann::json make_header(const Session& s, const nlohmann::json& meta) {
  nlohmann::json caches = nlohmann::json::array();
  for (const auto& c : s.caches()) caches.push_back({{"n_kv_heads", c.n_kv_heads()}, {"head_dim", c.head_dim()}});
  const SessionOptions& o = s.options();
  return {{"format", kFormat},
          {"version", kVersion},
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
  f.append(kPage, {head, std::span<const uint8_t>(c.page_data(held_index), c.page_bytes())});
}

// One parsed CHECKPOINT record (pointers into the mapped file).
struct CheckpointView {
  int64_t n_tokens = 0;
  struct Cache {
    int64_t held = 0, evicted = 0, gap_begin = 0;
    const uint8_t* tail_k = nullptr;  // the partial last page's tokens: K rows, then V rows
    const uint8_t* tail_v = nullptr;
    uint64_t tail_bytes = 0;          // of each
  };
  std::vector<Cache> caches;
  const uint8_t* self = nullptr;
  uint64_t self_len = 0;
  nlohmann::json state;
};

CheckpointView parse_checkpoint(const RecordView& r, const std::vector<size_t>& page_bytes,
                                const std::vector<int>& page_tokens, const std::string& where) {
  CheckpointView v;
  Cursor cur{r.data, r.size, where};
  v.n_tokens = cur.get<int64_t>();
  const uint32_t n = cur.get<uint32_t>();
  YOCO_REQUIRE(n == page_bytes.size(), where + ": checkpoint has " + std::to_string(n) + " caches, header " +
                                           std::to_string(page_bytes.size()));
  std::vector<bool> tail(n);
  for (uint32_t i = 0; i < n; ++i) {
    CheckpointView::Cache c;
    c.held = cur.get<int64_t>();
    c.evicted = cur.get<int64_t>();
    c.gap_begin = cur.get<int64_t>();
    tail[i] = cur.get<uint8_t>() != 0;
    YOCO_REQUIRE(c.held >= 0 && c.evicted >= 0 && c.gap_begin >= 0 && c.held + c.evicted == v.n_tokens,
                 where + ": inconsistent cache lengths in a checkpoint");
    v.caches.push_back(c);
  }
  v.self_len = cur.get<uint64_t>();
  const uint64_t json_len = cur.get<uint64_t>();
  const uint8_t* js = cur.take(json_len);
  v.state = nlohmann::json::parse(js, js + json_len, nullptr, /*allow_exceptions=*/false);
  YOCO_REQUIRE(!v.state.is_discarded(), where + ": checkpoint JSON does not parse");
  for (uint32_t i = 0; i < n; ++i) {
    if (!tail[i]) continue;
    CheckpointView::Cache& c = v.caches[i];
    const uint64_t t = static_cast<uint64_t>(c.held % page_tokens[i]);
    YOCO_REQUIRE(t > 0, where + ": a checkpoint tail for a cache that ends on a page boundary");
    c.tail_bytes = t * (page_bytes[i] / 2 / page_tokens[i]);
    c.tail_k = cur.take(c.tail_bytes);
    c.tail_v = cur.take(c.tail_bytes);
  }
  v.self = cur.take(v.self_len);
  YOCO_REQUIRE(cur.left == 0, where + ": trailing bytes in a checkpoint");
  return v;
}

// The walk over a state file shared by recover() and info().
struct Scan {
  nlohmann::json header;
  std::vector<size_t> page_bytes;
  std::vector<int> page_tokens;
  std::vector<std::map<int64_t, const uint8_t*>> pages;  // per cache: page number -> bytes (latest write)
  bool have_checkpoint = false;
  CheckpointView last;
  std::vector<std::map<int64_t, const uint8_t*>> pages_at_last;
  RecoveryReport report;
};

Scan scan(RecordFileReader& rd, const std::string& path) {
  Scan s;
  RecordView r;
  const std::string where = "state file '" + path + "'";
  YOCO_REQUIRE(rd.next(r) && r.type == kHeader,
               where + ": no intact header record" + (rd.stop_reason().empty() ? "" : " (" + rd.stop_reason() + ")"));
  s.header = nlohmann::json::parse(r.data, r.data + r.size, nullptr, false);
  YOCO_REQUIRE(s.header.is_object() && s.header.value("format", "") == kFormat,
               where + ": the header is not a yoco stream state");
  YOCO_REQUIRE(s.header.value("version", 0) == kVersion,
               where + ": state version " + s.header.value("version", nlohmann::json(0)).dump() + ", this build reads " +
                   std::to_string(kVersion));
  try {
    const auto& so = s.header.at("session");
    const kernels::DType dt = dtype_from_name(so.at("cache_dtype").get<std::string>(), where);
    const int pt = so.at("page_tokens").get<int>();
    YOCO_REQUIRE(pt > 0 && pt <= (1 << 20), where + ": bad page_tokens");
    for (const auto& c : s.header.at("caches")) {
      const int64_t kv = c.at("n_kv_heads").get<int64_t>(), hd = c.at("head_dim").get<int64_t>();
      YOCO_REQUIRE(kv > 0 && hd > 0 && kv * hd <= (1 << 20), where + ": bad cache geometry");
      s.page_bytes.push_back(static_cast<size_t>(pt) * 2 * kv * hd * kernels::dtype_size(dt));
      s.page_tokens.push_back(pt);
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + ": bad header: " + e.what());
  }
  s.pages.resize(s.page_bytes.size());
  uint64_t kept = r.end;
  while (rd.next(r)) {
    if (r.type == kPage) {
      Cursor cur{r.data, r.size, where};
      const uint32_t cache = cur.get<uint32_t>();
      const int64_t number = cur.get<int64_t>();
      YOCO_REQUIRE(cache < s.pages.size() && number >= 0, where + ": page record for an unknown cache");
      YOCO_REQUIRE(cur.left == s.page_bytes[cache], where + ": page record of the wrong size");
      s.pages[cache][number] = cur.p;
    } else if (r.type == kCheckpoint) {
      s.last = parse_checkpoint(r, s.page_bytes, s.page_tokens, where);
      s.pages_at_last = s.pages;  // copies pointers only
      s.have_checkpoint = true;
      s.report.checkpoints++;
      kept = r.end;
    } else {
      throw Error(where + ": unknown record type " + std::to_string(r.type));
    }
  }
  YOCO_REQUIRE(s.have_checkpoint, where + ": no intact checkpoint" +
                                      (rd.stop_reason().empty() ? "" : " (" + rd.stop_reason() + ")"));
  s.report.file_bytes = rd.file_size();
  s.report.kept_bytes = kept;
  s.report.dropped_bytes = rd.file_size() - kept;
  s.report.damage = rd.stop_reason();
  return s;
}
}  // namespace

nlohmann::json RecoveryReport::to_json() const {
  nlohmann::json j = {{"file_bytes", file_bytes}, {"kept_bytes", kept_bytes}, {"dropped_bytes", dropped_bytes},
                      {"checkpoints", checkpoints}, {"pages", pages}};
  if (!damage.empty()) j["damage"] = damage;
  return j;
}

SessionLog::SessionLog(RecordFileWriter file, nlohmann::json header, const SessionLogOptions& options)
    : file_(std::move(file)), header_(std::move(header)), opts_(options) {}

void SessionLog::write_image(RecordFileWriter& f, const nlohmann::json& header, const Session& session,
                             std::vector<int64_t>* next_page) {
  f.append(kHeader, {bytes_of(header.dump())});
  const auto& caches = session.caches();
  next_page->assign(caches.size(), 0);
  for (size_t ci = 0; ci < caches.size(); ++ci) {
    const PagedKvCache& c = caches[ci];
    for (int64_t i = 0; i < c.n_full_pages(); ++i) write_page(f, c, static_cast<uint32_t>(ci), i);
    if (c.n_full_pages() > 0) (*next_page)[ci] = c.page_number(c.n_full_pages() - 1) + 1;
  }
}

std::unique_ptr<SessionLog> SessionLog::create(const std::string& path, const Session& session,
                                               const nlohmann::json& meta, const nlohmann::json& state,
                                               const SessionLogOptions& options) {
  nlohmann::json header = make_header(session, meta);
  RecordFileWriter f = RecordFileWriter::create(path, options.fsync);
  std::unique_ptr<SessionLog> log(new SessionLog(std::move(f), header, options));
  try {
    write_image(log->file_, log->header_, session, &log->next_page_);
    log->write_checkpoint_record(session, state);
  } catch (...) {
    std::filesystem::remove(path);
    throw;
  }
  return log;
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
  file_.append(kCheckpoint, parts);
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
  RecordFileWriter f = RecordFileWriter::create(tmp, opts_.fsync);
  SessionLog fresh(std::move(f), header_, opts_);
  try {
    write_image(fresh.file_, fresh.header_, session, &fresh.next_page_);
    fresh.write_checkpoint_record(session, state);
    fresh.file_.rename_to(file_.path());
  } catch (...) {
    std::filesystem::remove(tmp);
    throw;
  }
  fresh.checkpoints_ = checkpoints_ + 1;
  *this = std::move(fresh);
}

void SessionLog::export_to(const std::string& out, const Session& session, const nlohmann::json& state) const {
  RecordFileWriter f = RecordFileWriter::create(out, FsyncPolicy::kCheckpoint);
  SessionLog copy(std::move(f), header_, opts_);
  try {
    write_image(copy.file_, copy.header_, session, &copy.next_page_);
    copy.write_checkpoint_record(session, state);
  } catch (...) {
    std::filesystem::remove(out);
    throw;
  }
}

SessionLogInfo SessionLog::info(const std::string& path) {
  RecordFileReader rd(path);
  Scan s = scan(rd, path);
  SessionLogInfo i;
  i.header = s.header;
  i.checkpoint = s.last.state;
  i.n_tokens = s.last.n_tokens;
  i.report = s.report;
  for (size_t ci = 0; ci < s.last.caches.size(); ++ci)
    i.report.pages += (s.last.caches[ci].held + s.page_tokens[ci] - 1) / s.page_tokens[ci];
  return i;
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
      out.log->next_page_.assign(out.session->caches().size(), 0);
      for (size_t ci = 0; ci < out.session->caches().size(); ++ci) {
        const PagedKvCache& c = out.session->caches()[ci];
        if (c.n_full_pages() > 0) out.log->next_page_[ci] = c.page_number(c.n_full_pages() - 1) + 1;
      }
    }
  }  // the reader's mapping is released here; the session holds copies
  return out;
}

}  // namespace yoco::llm
