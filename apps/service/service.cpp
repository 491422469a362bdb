#include "apps/service/service.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "apps/service/request.h"
#include "apps/service/security.h"
#include "apps/stream_cli.h"
#include "kernels/error.h"
#include "pipeline/instruction.h"
#include "pipeline/state_dir.h"

namespace yoco::app {

namespace {

using nlohmann::json;

bool valid_stream_id(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == ':')) return false;
  return true;
}

const json& field(const json& req, const char* name, json::value_t type, const char* type_name) {
  YOCO_REQUIRE(req.contains(name), std::string("missing field '") + name + "'");
  const json& v = req[name];
  const bool ok = type == json::value_t::number_float ? v.is_number() : v.type() == type ||
                  (type == json::value_t::number_integer && v.is_number_integer());
  YOCO_REQUIRE(ok, std::string("field '") + name + "' must be " + type_name);
  return v;
}

std::string string_field(const json& req, const char* name) {
  return field(req, name, json::value_t::string, "a string").get<std::string>();
}

bool bool_opt(const json& req, const char* name, bool def) {
  if (!req.contains(name) || req[name].is_null()) return def;
  YOCO_REQUIRE(req[name].is_boolean(), std::string("field '") + name + "' must be true or false");
  return req[name].get<bool>();
}

std::string curve_key_text(const std::string& key) {
  YOCO_REQUIRE(key.size() == 40, "a CURVE key is 40 Z85 characters");
  return key;
}

}  // namespace

Service::Service(std::shared_ptr<const llm::Model> model, const ServiceOptions& options) : opts_(options) {
  pipeline::RuntimeOptions ro;
  ro.max_streams = opts_.max_streams;
  ro.max_questions = opts_.max_questions;
  ro.on_event = [this](const pipeline::StreamEvent& e) { queue_event(e); };
  runtime_ = std::make_unique<pipeline::StreamRuntime>(std::move(model), ro);
  if (!opts_.curve_secret.empty()) {
    (void)curve_key_text(opts_.curve_secret);
    YOCO_REQUIRE(zmq_has("curve"), "this libzmq was built without CURVE support");
  }
}

Service::~Service() {
  bus_stop_ = true;
  if (bus_thread_.joinable()) bus_thread_.join();
  runtime_.reset();  // stops streams, waits for questions (their callbacks only touch the outbox)
}

std::string Service::bound_endpoint() const {
  std::lock_guard<std::mutex> lock(out_mu_);
  return bound_;
}

ServiceCounters Service::counters() const {
  std::lock_guard<std::mutex> lock(counters_mu_);
  ServiceCounters c = counters_;
  if (zap_) c.curve_refused = zap_->refused();
  return c;
}

void Service::queue_reply(const std::vector<std::string>& envelope, const json& reply) {
  Outgoing o;
  o.envelope = envelope;
  o.body = dump_json(reply);
  std::lock_guard<std::mutex> lock(out_mu_);
  outbox_.push_back(std::move(o));
}

void Service::queue_event(const pipeline::StreamEvent& e) {
  if (opts_.events.empty()) return;
  json j = {{"v", 1}, {"stream", e.stream}, {"kind", e.kind}, {"pts", e.pts}, {"text", e.text}};
  if (e.extra.is_object())
    for (auto it = e.extra.begin(); it != e.extra.end(); ++it)
      if (!j.contains(it.key())) j[it.key()] = it.value();
  Outgoing o;
  o.is_event = true;
  o.topic = e.stream + "/" + e.kind;
  o.body = dump_json(j);
  std::lock_guard<std::mutex> lock(out_mu_);
  outbox_.push_back(std::move(o));
}

std::shared_ptr<pipeline::Stream> Service::stream_of(const json& req) {
  const std::string id = string_field(req, "stream");
  auto s = runtime_->find(id);
  YOCO_REQUIRE(s != nullptr, "no stream '" + id + "'");
  return s;
}

json Service::handle(const std::string& body, const std::vector<std::string>& envelope) {
  {
    std::lock_guard<std::mutex> lock(counters_mu_);
    counters_.requests++;
  }
  json id = nullptr;
  auto fail = [&](const std::string& msg, int64_t ServiceCounters::*counter) {
    std::lock_guard<std::mutex> lock(counters_mu_);
    counters_.errors++;
    if (counter) (counters_.*counter)++;
    return json{{"v", 1}, {"id", id}, {"ok", false}, {"error", msg}};
  };
  // Size, JSON, v, op and field types (apps/service/request.h); what needs the runtime is checked by the ops.
  ParsedRequest parsed = parse_request(body, opts_.max_request_bytes);
  id = parsed.id;
  if (!parsed.ok()) {
    std::lock_guard<std::mutex> lock(counters_mu_);
    counters_.errors++;
    if (parsed.status == ParsedRequest::Status::kTooLarge) counters_.too_large++;
    else if (parsed.status == ParsedRequest::Status::kUnknownOp) counters_.unknown_op++;
    else counters_.malformed++;
    return parsed.error;
  }
  const json& req = parsed.body;
  const std::string& op = parsed.op;
  try {
    json reply;
    if (op == "open") reply = op_open(req);
    else if (op == "close") reply = op_close(req);
    else if (op == "ask") reply = op_ask(req, envelope);
    else if (op == "instruct") reply = op_instruct(req);
    else if (op == "status") reply = op_status(req);
    else if (op == "stats") reply = op_stats(req);
    else return fail("unknown op '" + op + "'", &ServiceCounters::unknown_op);
    if (reply.is_null()) return reply;  // answered asynchronously
    reply["v"] = 1;
    reply["id"] = id;
    reply["ok"] = true;
    std::lock_guard<std::mutex> lock(counters_mu_);
    counters_.ok++;
    return reply;
  } catch (const std::exception& e) {
    return fail(e.what(), nullptr);
  }
}

pipeline::StreamOptions Service::stream_options(const json& opts) const {
  YOCO_REQUIRE(opts.is_object(), "field 'options' must be an object");
  pipeline::StreamOptions so;
  if (opts.contains("pace")) {
    const json& p = opts["pace"];
    YOCO_REQUIRE(p.is_string() && (p == "realtime" || p == "fast"), "options.pace must be \"realtime\" or \"fast\"");
    so.realtime = p == "realtime";
  }
  if (opts.contains("fps")) {
    YOCO_REQUIRE(opts["fps"].is_number() && opts["fps"].get<double>() >= 0 && opts["fps"].get<double>() <= 1000,
                 "options.fps must be a number in 0..1000");
    so.fps = opts["fps"].get<double>();
  }
  if (opts.contains("budget")) {
    const json& b = opts["budget"];
    YOCO_REQUIRE(b.is_string() || (b.is_number() && b.get<double>() >= 0), "options.budget must be bytes");
    so.budget.max_bytes = b.is_string() ? pipeline::parse_byte_size(b.get<std::string>())
                                        : static_cast<size_t>(b.get<double>());
  }
  if (opts.contains("budget_mb")) {
    YOCO_REQUIRE(!opts.contains("budget"), "give options.budget or options.budget_mb, not both");
    const json& b = opts["budget_mb"];
    YOCO_REQUIRE(b.is_number() && b.get<double>() >= 0 && b.get<double>() <= 1e9,
                 "options.budget_mb must be a number of MiB >= 0");
    so.budget.max_bytes = static_cast<size_t>(b.get<double>() * 1024.0 * 1024.0);
  }
  for (const char* key : {"budget_policy", "memory_policy"}) {  // memory_policy: the older name
    if (!opts.contains(key)) continue;
    YOCO_REQUIRE(opts[key].is_string(), std::string("options.") + key + " must be a string");
    so.budget.policy = pipeline::parse_budget_policy(opts[key].get<std::string>());
  }
  if (opts.contains("sink_pages")) {
    YOCO_REQUIRE(opts["sink_pages"].is_number_integer() && opts["sink_pages"].get<int64_t>() >= 0 &&
                     opts["sink_pages"].get<int64_t>() <= 65536,
                 "options.sink_pages must be an integer in 0..65536");
    so.budget.sink_pages = opts["sink_pages"].get<int>();
  }
  if (opts.contains("spill_dir")) {
    YOCO_REQUIRE(opts["spill_dir"].is_string() && !opts["spill_dir"].get<std::string>().empty(),
                 "options.spill_dir must be a directory path");
    so.budget.spill_dir = opts["spill_dir"].get<std::string>();
  }
  if (opts.contains("page_tokens")) {
    YOCO_REQUIRE(opts["page_tokens"].is_number_integer() && opts["page_tokens"].get<int>() >= 1 &&
                     opts["page_tokens"].get<int>() <= 65536,
                 "options.page_tokens must be an integer in 1..65536");
    so.session.page_tokens = opts["page_tokens"].get<int>();
  }
  if (opts.contains("cache_dtype")) {
    YOCO_REQUIRE(opts["cache_dtype"].is_string(), "options.cache_dtype must be f32, f16, bf16 or int8");
    so.session.cache_dtype = parse_cache_dtype(opts["cache_dtype"].get<std::string>(), "options.cache_dtype");
  }
  if (opts.contains("stats_every")) {
    YOCO_REQUIRE(opts["stats_every"].is_number() && opts["stats_every"].get<double>() >= 0,
                 "options.stats_every must be seconds >= 0");
    so.stats_every = opts["stats_every"].get<double>();
  }
  if (opts.contains("instruction") && opts["instruction"].is_string())
    so.instruction = pipeline::parse_instruction(opts["instruction"].get<std::string>());
  if (so.budget.policy == pipeline::BudgetPolicy::kSpill && !so.budget.spill_dir.empty())
    check_writable_dir(so.budget.spill_dir, opts_.security);
  so.budget.validate();
  so.persist.checkpoint_every = opts_.checkpoint_every;
  so.persist.log.fsync = opts_.fsync;
  return so;
}

// The source spec a request's `source` stands for ("bus": this service's frames, filtered by stream id).
std::string Service::source_spec(const std::string& source, const std::string& id) const {
  if (source != "bus") return source;
  YOCO_REQUIRE(!bus_internal_.empty(), "this service has no frames endpoint (yoco serve --frames)");
  return "zmq:" + bus_internal_ + "#" + id;
}

json Service::op_open(const json& req) {
  const std::string id = string_field(req, "stream");
  YOCO_REQUIRE(valid_stream_id(id), "a stream id is 1..64 characters of letters, digits, '_', '-', '.', ':'");
  const std::string source = string_field(req, "source");
  const json opts = req.contains("options") && !req["options"].is_null() ? req["options"] : json::object();
  pipeline::StreamOptions so = stream_options(opts);
  pipeline::SourceOptions src_opts;
  if (source != "bus") check_source(source, opts_.security, &src_opts);
  check_client_streams();
  if (!opts_.state_dir.empty()) {
    so.persist.path = pipeline::state_file_for(opts_.state_dir, id);
    YOCO_REQUIRE(!std::filesystem::exists(so.persist.path),
                 "stream '" + id + "' has a saved state that was not resumed (" + so.persist.path +
                     "); remove it to start the stream anew");
    so.persist.meta = {{"stream", id}, {"source", source}, {"options", opts}};
  }
  auto s = runtime_->open(id, pipeline::open_stream_source(source_spec(source, id), so.realtime, src_opts), so);
  note_owner(id);
  return {{"stream", id}, {"source", s->stats().source}};
}

json Service::op_close(const json& req) {
  const std::string id = string_field(req, "stream");
  YOCO_REQUIRE(runtime_->close(id), "no stream '" + id + "'");
  forget_owner(id);
  if (!opts_.state_dir.empty()) {
    // Closed by its client: the stream is over, its saved state goes with it.
    std::error_code ec;
    std::filesystem::remove(pipeline::state_file_for(opts_.state_dir, id), ec);
  }
  return {{"stream", id}};
}

std::vector<std::string> Service::resume_saved_streams() {
  std::vector<std::string> log;
  if (opts_.state_dir.empty()) return log;
  pipeline::prepare_state_dir(opts_.state_dir);
  llm::SessionLogOptions lo;
  lo.fsync = opts_.fsync;
  for (const std::string& path : pipeline::list_state_files(opts_.state_dir)) {
    try {
      pipeline::SavedStream saved = pipeline::recover_saved_stream(path, runtime_->model_ptr(), lo);
      const std::string id = saved.meta.value("stream", "");
      const std::string source = saved.meta.value("source", "");
      YOCO_REQUIRE(valid_stream_id(id) && pipeline::state_file_for(opts_.state_dir, id) == path,
                   "the state names stream '" + id + "', not this file's");
      const json opts = saved.meta.contains("options") ? saved.meta["options"] : json::object();
      pipeline::StreamOptions so = stream_options(opts);
      so.persist.meta = saved.meta;
      so.resume = saved.resume;
      std::unique_ptr<pipeline::FrameSource> src;
      if (!saved.end_reason.empty()) {
        src = pipeline::make_ended_source(source);
      } else {
        pipeline::SourceOptions src_opts;
        if (source != "bus") check_source(source, opts_.security, &src_opts);
        src = pipeline::open_stream_source(source_spec(source, id), so.realtime, src_opts);
      }
      const auto& st = saved.resume->state;
      runtime_->open(id, std::move(src), so);
      log.push_back("resumed stream '" + id + "' at " + std::to_string(st.value("frames", 0)) + " frames, pts " +
                    std::to_string(st.value("pts", 0.0)) +
                    (saved.end_reason.empty() ? "" : " (ended: " + saved.end_reason + ")") +
                    (saved.resume->report.damage.empty() ? "" : "; dropped a damaged tail: " + saved.resume->report.damage));
    } catch (const std::exception& e) {
      // Left in place for the operator (another model, damaged header...): never deleted automatically.
      std::lock_guard<std::mutex> lock(counters_mu_);
      counters_.resume_failures++;
      log.push_back("cannot resume " + path + ": " + e.what());
    }
  }
  return log;
}

json Service::op_ask(const json& req, const std::vector<std::string>& envelope) {
  auto s = stream_of(req);
  const std::string question = string_field(req, "question");
  YOCO_REQUIRE(question.size() <= 4096, "question too long (4096 bytes at most)");
  pipeline::AskOptions ao;
  ao.keep_dialogue = bool_opt(req, "keep_dialogue", false);
  if (req.contains("max_tokens")) {
    YOCO_REQUIRE(req["max_tokens"].is_number_integer() && req["max_tokens"].get<int>() >= 0 &&
                     req["max_tokens"].get<int>() <= 4096,
                 "field 'max_tokens' must be an integer in 0..4096");
    ao.max_tokens = req["max_tokens"].get<int>();
  }
  const bool partial = bool_opt(req, "stream_reply", false);
  const json id = req.contains("id") ? req["id"] : json(nullptr);
  const std::string stream_id = s->id();
  pipeline::TextFn on_text;
  if (partial)
    on_text = [this, envelope, id](const std::string& piece) {
      queue_reply(envelope, {{"v", 1}, {"id", id}, {"partial", piece}});
    };
  runtime_->ask_async(
      s, question, ao, on_text,
      [this, envelope, id, stream_id](const pipeline::Answer& a) {
        {
          std::lock_guard<std::mutex> lock(counters_mu_);
          counters_.ok++;
        }
        queue_reply(envelope, {{"v", 1}, {"id", id}, {"ok", true}, {"stream", stream_id}, {"answer", a.text},
                               {"pts", a.pts}, {"frames", a.frames}, {"first_token_ms", a.first_token_ms},
                               {"total_ms", a.total_ms}});
      },
      [this, envelope, id](const std::string& err) {
        {
          std::lock_guard<std::mutex> lock(counters_mu_);
          counters_.errors++;
        }
        queue_reply(envelope, {{"v", 1}, {"id", id}, {"ok", false}, {"error", err}});
      });
  return nullptr;
}

json Service::op_instruct(const json& req) {
  auto s = stream_of(req);
  YOCO_REQUIRE(req.contains("instruction"), "missing field 'instruction'");
  const json& text = req["instruction"];
  if (text.is_null() || (text.is_string() && text.get<std::string>().empty())) {
    s->set_instruction(std::nullopt);
    return {{"stream", s->id()}, {"instruction", nullptr}};
  }
  YOCO_REQUIRE(text.is_string(), "field 'instruction' must be a string or null");
  pipeline::Instruction ins = pipeline::parse_instruction(text.get<std::string>());
  if (req.contains("kind")) {
    const json& k = req["kind"];
    YOCO_REQUIRE(k.is_string() && (k == "caption" || k == "alert"), "field 'kind' must be \"caption\" or \"alert\"");
    ins.kind = k == "caption" ? pipeline::Instruction::Kind::kCaption : pipeline::Instruction::Kind::kAlert;
    if (ins.kind == pipeline::Instruction::Kind::kAlert) ins.prompt = ins.text;
    else if (ins.prompt == ins.text) ins.prompt.clear();
  }
  if (req.contains("every")) {
    YOCO_REQUIRE(req["every"].is_number() && req["every"].get<double>() >= 0, "field 'every' must be seconds >= 0");
    ins.every = req["every"].get<double>();
  }
  if (req.contains("prompt")) ins.prompt = string_field(req, "prompt");
  if (req.contains("context")) ins.context = req["context"].get<double>();
  ins = *s->set_instruction(ins);  // as the stream resolved it (its model's prompt and context), echoed
  return {{"stream", s->id()},
          {"instruction", {{"kind", pipeline::instruction_kind_name(ins.kind)}, {"prompt", ins.prompt}, {"every", ins.every},
                           {"context", ins.context}}}};
}

json Service::op_status(const json&) {
  json list = json::array();
  for (const auto& s : runtime_->streams()) {
    const auto st = s->stats();
    list.push_back({{"stream", s->id()}, {"frames", st.frames}, {"pts", st.pts}, {"state", st.state}});
  }
  return {{"streams", list}};
}

json Service::op_stats(const json& req) {
  if (req.contains("stream")) {
    auto s = stream_of(req);
    return {{"stream", s->id()}, {"stats", s->stats().to_json()}};
  }
  const ServiceCounters c = counters();
  json streams = json::object();
  for (const auto& s : runtime_->streams()) streams[s->id()] = s->stats().to_json();
  return {{"service",
           {{"requests", c.requests}, {"ok", c.ok}, {"errors", c.errors}, {"malformed", c.malformed},
            {"unknown_op", c.unknown_op}, {"too_large", c.too_large}, {"events", c.events},
            {"bus_messages", c.bus_messages}, {"rate_limited", c.rate_limited},
            {"resume_failures", c.resume_failures}, {"curve_refused", c.curve_refused},
            {"questions_in_flight", runtime_->questions_in_flight()}}},
          {"streams", streams}};
}

void Service::check_client_streams() const {
  const int limit = opts_.security.max_streams_per_client;
  if (limit <= 0) return;
  int n = 0;
  for (const auto& [id, owner] : owners_) n += owner == current_client_;
  YOCO_REQUIRE(n < limit, "this client has " + std::to_string(n) + " streams open, the most this service allows");
}

void Service::note_owner(const std::string& id) { owners_[id] = current_client_; }
void Service::forget_owner(const std::string& id) { owners_.erase(id); }

void Service::run(const std::atomic<bool>& stop_flag) {
  zmq::context_t ctx;
  std::shared_ptr<ZapHandler> zap;
  if (!opts_.curve_secret.empty() && !opts_.security.client_keys.empty()) {
    zap = std::make_shared<ZapHandler>(ctx, opts_.security.client_keys);
    std::lock_guard<std::mutex> lock(counters_mu_);
    zap_ = zap;
  }
  auto secure = [&](zmq::socket_t& sock) {
    sock.set(zmq::sockopt::linger, 0);
    if (opts_.curve_secret.empty()) return;
    sock.set(zmq::sockopt::curve_server, 1);
    sock.set(zmq::sockopt::curve_secretkey, opts_.curve_secret);
    if (zap) sock.set(zmq::sockopt::zap_domain, "yoco");
  };
  auto bind = [](zmq::socket_t& sock, const std::string& ep, const char* what) {
    try {
      sock.bind(ep);
    } catch (const zmq::error_t& e) {
      throw Error(std::string("cannot bind the ") + what + " endpoint '" + ep + "': " + e.what());
    }
  };
  zmq::socket_t router(ctx, zmq::socket_type::router);
  secure(router);
  router.set(zmq::sockopt::maxmsgsize,
             static_cast<int64_t>(std::max<size_t>(4 * opts_.max_request_bytes, size_t{1} << 20)));
  bind(router, opts_.bind, "request");
  {
    std::lock_guard<std::mutex> lock(out_mu_);
    bound_ = router.get(zmq::sockopt::last_endpoint);
  }
  std::unique_ptr<zmq::socket_t> pub;
  if (!opts_.events.empty()) {
    pub = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::pub);
    secure(*pub);
    bind(*pub, opts_.events, "events");
  }
  // Frames from the bus: a forwarding loop between the public SUB/PULL endpoints and an internal XPUB.
  zmq::socket_t xsub(ctx, zmq::socket_type::xsub), pull(ctx, zmq::socket_type::pull), xpub(ctx, zmq::socket_type::xpub);
  const bool bus = !opts_.frames.empty() || !opts_.frames_pull.empty();
  if (bus) {
    for (auto* s : {&xsub, &pull}) {
      secure(*s);
      s->set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(opts_.max_message_bytes));
      s->set(zmq::sockopt::rcvhwm, 16);
    }
    xpub.set(zmq::sockopt::linger, 0);
    xpub.set(zmq::sockopt::sndhwm, 16);
    if (!opts_.frames.empty()) bind(xsub, opts_.frames, "frames");
    if (!opts_.frames_pull.empty()) bind(pull, opts_.frames_pull, "frames-pull");
    bind(xpub, "tcp://127.0.0.1:*", "internal bus");
    bus_internal_ = xpub.get(zmq::sockopt::last_endpoint);
    bus_thread_ = std::thread([&] {
      std::vector<zmq::pollitem_t> items = {{xsub.handle(), 0, ZMQ_POLLIN, 0},
                                            {pull.handle(), 0, ZMQ_POLLIN, 0},
                                            {xpub.handle(), 0, ZMQ_POLLIN, 0}};
      std::vector<zmq::message_t> parts;
      while (!bus_stop_) {
        try {
          zmq::poll(items.data(), items.size(), std::chrono::milliseconds(100));
          for (int i = 0; i < 3; ++i) {
            if (!(items[i].revents & ZMQ_POLLIN)) continue;
            zmq::socket_t& from = i == 0 ? xsub : i == 1 ? pull : xpub;
            zmq::socket_t& to = i == 2 ? xsub : xpub;
            parts.clear();
            if (!zmq::recv_multipart(from, std::back_inserter(parts), zmq::recv_flags::dontwait)) continue;
            if (i < 2) {
              std::lock_guard<std::mutex> lock(counters_mu_);
              counters_.bus_messages++;
            }
            if (i == 2 && opts_.frames.empty()) continue;  // subscriptions have nowhere to go without SUB
            (void)zmq::send_multipart(to, parts, zmq::send_flags::dontwait);
          }
        } catch (const zmq::error_t&) {
          // A bad message or a transient socket error loses one message, never the service.
        }
      }
    });
  }
  for (const std::string& line : resume_saved_streams()) std::fprintf(stderr, "yoco serve: %s\n", line.c_str());
  RateLimiter limiter(opts_.security.max_requests_per_second);
  std::fprintf(stderr, "yoco serve: ready on %s%s%s%s%s\n", bound_.c_str(), pub ? ", events " : "",
               pub ? opts_.events.c_str() : "", bus ? ", frames " : "",
               bus ? (opts_.frames.empty() ? opts_.frames_pull : opts_.frames).c_str() : "");
  std::fflush(stderr);

  std::vector<zmq::message_t> parts;
  while (!stop_flag) {
    // Drain the outbox: answers, partial answers and events produced on other threads.
    std::deque<Outgoing> out;
    {
      std::lock_guard<std::mutex> lock(out_mu_);
      out.swap(outbox_);
    }
    for (auto& o : out) {
      try {
        if (o.is_event) {
          if (!pub) continue;
          pub->send(zmq::buffer(o.topic), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
          pub->send(zmq::buffer(o.body), zmq::send_flags::dontwait);
          std::lock_guard<std::mutex> lock(counters_mu_);
          counters_.events++;
        } else {
          for (const auto& e : o.envelope) router.send(zmq::buffer(e), zmq::send_flags::sndmore);
          router.send(zmq::buffer(o.body), zmq::send_flags::dontwait);
        }
      } catch (const zmq::error_t&) {
        // The client went away: nothing to deliver to.
      }
    }
    const bool busy = runtime_->questions_in_flight() > 0;
    zmq::pollitem_t item{router.handle(), 0, ZMQ_POLLIN, 0};
    try {
      zmq::poll(&item, 1, std::chrono::milliseconds(busy ? 2 : 20));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      throw;
    }
    for (int n = 0; n < 64 && (item.revents & ZMQ_POLLIN); ++n) {
      parts.clear();
      std::optional<size_t> got;
      try {
        got = zmq::recv_multipart(router, std::back_inserter(parts), zmq::recv_flags::dontwait);
      } catch (const zmq::error_t&) {
        break;
      }
      if (!got) break;
      if (parts.size() < 2) continue;  // no routing id: cannot reply
      std::vector<std::string> envelope;
      for (size_t i = 0; i + 1 < parts.size(); ++i) envelope.push_back(parts[i].to_string());
      // The client: its CURVE key when the ZAP handler vouched for one, else its routing id.
      current_client_ = "id:" + envelope[0];
      if (zap) {
        try {
          if (const char* uid = parts.back().gets("User-Id")) current_client_ = std::string("key:") + uid;
        } catch (const zmq::error_t&) {
        }
      }
      const double now = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
      if (!limiter.allow(current_client_, now)) {
        {
          std::lock_guard<std::mutex> lock(counters_mu_);
          counters_.requests++;
          counters_.errors++;
          counters_.rate_limited++;
        }
        const json req = json::parse(parts.back().to_string(), nullptr, false);
        queue_reply(envelope, request_error_reply(req.is_object() && req.contains("id") ? req["id"] : json(nullptr),
                                                  "rate limit: at most " +
                                                      std::to_string(opts_.security.max_requests_per_second) +
                                                      " requests per second per client"));
        continue;
      }
      json reply;
      try {
        reply = handle(parts.back().to_string(), envelope);
      } catch (const std::exception& e) {
        reply = {{"v", 1}, {"id", nullptr}, {"ok", false}, {"error", std::string("internal error: ") + e.what()}};
      }
      if (!reply.is_null()) queue_reply(envelope, reply);
    }
  }
  bus_stop_ = true;
  if (bus_thread_.joinable()) bus_thread_.join();
  runtime_.reset();
  runtime_ = nullptr;
  if (zap) {
    std::lock_guard<std::mutex> lock(counters_mu_);
    zap_.reset();
  }
}

}  // namespace yoco::app
