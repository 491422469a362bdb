#include "llm/session_log_scan.h"

#include "kernels/error.h"
#include "llm/json_bounded.h"

namespace yoco::llm {
namespace detail {

namespace {
constexpr int kMaxJsonDepth = 32;  // a state's JSON is the service's request options at most a few levels deep
}

kernels::DType dtype_from_name(const std::string& n, const std::string& where) {
  if (auto t = kernels::dtype_from_name(n)) return *t;
  throw Error(where + ": unknown cache dtype '" + n + "'");
}

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
  try {
    v.state = parse_json_bounded(std::string_view(reinterpret_cast<const char*>(js), json_len), kMaxJsonDepth);
  } catch (const Error& e) {
    throw Error(where + ": checkpoint: " + e.what());
  }
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

Scan scan(RecordFileReader& rd, const std::string& path) {
  Scan s;
  RecordView r;
  const std::string where = "state file '" + path + "'";
  YOCO_REQUIRE(rd.next(r) && r.type == kHeaderRecord,
               where + ": no intact header record" + (rd.stop_reason().empty() ? "" : " (" + rd.stop_reason() + ")"));
  try {
    s.header = parse_json_bounded(std::string_view(reinterpret_cast<const char*>(r.data), r.size), kMaxJsonDepth);
  } catch (const Error& e) {
    throw Error(where + ": header: " + e.what());
  }
  YOCO_REQUIRE(s.header.is_object() && s.header.value("format", "") == kStateFormat,
               where + ": the header is not a yoco stream state");
  YOCO_REQUIRE(s.header.value("version", 0) == kStateVersion,
               where + ": state version " + s.header.value("version", nlohmann::json(0)).dump() + ", this build reads " +
                   std::to_string(kStateVersion));
  try {
    const auto& so = s.header.at("session");
    const kernels::DType dt = dtype_from_name(so.at("cache_dtype").get<std::string>(), where);
    const int pt = so.at("page_tokens").get<int>();
    YOCO_REQUIRE(pt > 0 && pt <= (1 << 20), where + ": bad page_tokens");
    for (const auto& c : s.header.at("caches")) {
      const int64_t kv = c.at("n_kv_heads").get<int64_t>(), hd = c.at("head_dim").get<int64_t>();
      YOCO_REQUIRE(kv > 0 && hd > 0 && kv * hd <= (1 << 20), where + ": bad cache geometry");
      s.page_bytes.push_back(static_cast<size_t>(pt) * 2 * kernels::kv_row_bytes(dt, kv, hd));
      s.page_tokens.push_back(pt);
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + ": bad header: " + e.what());
  }
  s.pages.resize(s.page_bytes.size());
  uint64_t kept = r.end;
  while (rd.next(r)) {
    if (r.type == kPageRecord) {
      Cursor cur{r.data, r.size, where};
      const uint32_t cache = cur.get<uint32_t>();
      const int64_t number = cur.get<int64_t>();
      YOCO_REQUIRE(cache < s.pages.size() && number >= 0, where + ": page record for an unknown cache");
      YOCO_REQUIRE(cur.left == s.page_bytes[cache], where + ": page record of the wrong size");
      s.pages[cache][number] = cur.p;
    } else if (r.type == kCheckpointRecord) {
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

}  // namespace detail

nlohmann::json RecoveryReport::to_json() const {
  nlohmann::json j = {{"file_bytes", file_bytes}, {"kept_bytes", kept_bytes}, {"dropped_bytes", dropped_bytes},
                      {"checkpoints", checkpoints}, {"pages", pages}};
  if (!damage.empty()) j["damage"] = damage;
  return j;
}

SessionLogInfo SessionLog::info(const std::string& path) {
  RecordFileReader rd(path);
  detail::Scan s = detail::scan(rd, path);
  SessionLogInfo i;
  i.header = s.header;
  i.checkpoint = s.last.state;
  i.n_tokens = s.last.n_tokens;
  i.report = s.report;
  for (size_t ci = 0; ci < s.last.caches.size(); ++ci)
    i.report.pages += (s.last.caches[ci].held + s.page_tokens[ci] - 1) / s.page_tokens[ci];
  return i;
}

}  // namespace yoco::llm
