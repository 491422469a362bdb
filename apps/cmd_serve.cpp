// yoco serve --bind ENDPOINT [--events ENDPOINT] [--frames ENDPOINT]: the ZeroMQ service (docs/PROTOCOL.md).
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <zmq.h>

#include "apps/args.h"
#include "apps/command.h"
#include "apps/common.h"
#include "apps/service/service.h"
#include "kernels/error.h"
#include "llm/model.h"
#include "pipeline/state_dir.h"

namespace yoco::app {

namespace {
std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop = true; }

bool is_loopback(const std::string& ep) {
  return ep.rfind("ipc://", 0) == 0 || ep.rfind("inproc://", 0) == 0 || ep.rfind("tcp://127.", 0) == 0 ||
         ep.rfind("tcp://localhost:", 0) == 0 || ep.rfind("tcp://[::1]:", 0) == 0 || ep.rfind("tcp://lo:", 0) == 0;
}

bool is_z85_key(const std::string& s) {
  static const std::string alphabet =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
  return s.size() == 40 && s.find_first_not_of(alphabet) == std::string::npos;
}

// A key given as 40 Z85 characters, or "@FILE" holding them (first line). '@' is itself a Z85 character, so an
// argument that is a whole 40-character key is taken as the key even when it starts with '@'.
std::string read_key(const std::string& arg) {
  if (arg.empty() || arg[0] != '@' || is_z85_key(arg)) return arg;
  std::ifstream f(arg.substr(1));
  YOCO_REQUIRE(f.good(), "cannot read key file " + arg.substr(1));
  std::string line;
  std::getline(f, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}
}  // namespace

static int run_serve(const std::vector<std::string>& args) {
  ArgParser ap("serve", "yoco serve [--bind ENDPOINT] [--events ENDPOINT] [--frames ENDPOINT] [--model DIR]",
               "The ZeroMQ service: requests on a ROUTER socket (JSON, docs/PROTOCOL.md), events on a PUB socket,\n"
               "frames from the bus on a SUB socket (publishers connect) and/or a PULL socket. Binds to loopback\n"
               "by default; with --curve-secret every socket uses CURVE encryption (clients need the public key).");
  ap.option("model", "DIR", "model directory", default_model_dir());
  ap.option("bind", "ENDPOINT", "request endpoint (ROUTER)", "tcp://127.0.0.1:5555");
  ap.option("events", "ENDPOINT", "event endpoint (PUB)");
  ap.option("frames", "ENDPOINT", "frames from the bus (SUB; publishers connect)");
  ap.option("frames-pull", "ENDPOINT", "frames from the bus (PULL; pushers connect)");
  ap.option("curve-secret", "KEY", "server secret key, 40 Z85 characters or @FILE (turns CURVE on)");
  ap.flag("curve-keygen", "print a new CURVE key pair as JSON and exit");
  ap.option("max-request-bytes", "N", "larger requests get an error reply", "65536");
  ap.option("max-streams", "N", "streams open at once", "64");
  ap.option("max-questions", "N", "questions in flight at once", "32");
  ap.option("state-dir", "DIR", "keep every stream's state in DIR and resume them at start (docs/PERSISTENCE.md)");
  ap.option("checkpoint-every", "SECONDS", "checkpoint interval of persisted streams", "1");
  ap.option("fsync", "POLICY", "none, checkpoint or always", "checkpoint");
  ap.option("allow-dir", "DIR[,DIR...]",
            "file sources (and spill directories) only under these (default: anywhere when every endpoint is "
            "loopback, nowhere otherwise)");
  ap.flag("allow-gst", "allow gst: pipeline sources (default: only when every endpoint is loopback)");
  ap.option("curve-clients", "FILE", "with CURVE: only the client public keys listed in FILE (one per line)");
  ap.option("max-streams-per-client", "N", "streams one client may have open (0: no limit)", "0");
  ap.option("max-request-rate", "R", "requests per second per client, bursts of 2R (0: no limit)", "0");
  if (!ap.parse(args)) return 0;

  if (ap.has("curve-keygen")) {
    char pub[41], sec[41];
    YOCO_REQUIRE(zmq_curve_keypair(pub, sec) == 0, "this libzmq cannot make CURVE keys (built without CURVE)");
    std::printf("{\"public\": \"%s\", \"secret\": \"%s\"}\n", pub, sec);
    return 0;
  }
  ServiceOptions so;
  so.bind = ap.get("bind");
  if (auto e = ap.get_opt("events")) so.events = *e;
  if (auto e = ap.get_opt("frames")) so.frames = *e;
  if (auto e = ap.get_opt("frames-pull")) so.frames_pull = *e;
  if (auto k = ap.get_opt("curve-secret")) so.curve_secret = read_key(*k);
  const long long mrb = ap.get_int("max-request-bytes");
  YOCO_REQUIRE(mrb >= 256 && mrb <= (1ll << 30), "--max-request-bytes must be in 256..2^30");
  so.max_request_bytes = static_cast<size_t>(mrb);
  so.max_streams = static_cast<int>(ap.get_int("max-streams"));
  so.max_questions = static_cast<int>(ap.get_int("max-questions"));
  YOCO_REQUIRE(so.max_streams >= 1 && so.max_questions >= 1, "--max-streams and --max-questions must be >= 1");
  bool all_loopback = true;
  for (const std::string* ep : {&so.bind, &so.events, &so.frames, &so.frames_pull}) {
    if (ep->empty() || is_loopback(*ep)) continue;
    all_loopback = false;
    if (so.curve_secret.empty())
      std::fprintf(stderr, "yoco serve: warning: %s is reachable from other hosts and CURVE is off\n", ep->c_str());
  }
  if (auto dirs = ap.get_opt("allow-dir")) {
    size_t at = 0;
    while (at <= dirs->size()) {
      const size_t comma = std::min(dirs->find(',', at), dirs->size());
      const std::string d = dirs->substr(at, comma - at);
      if (!d.empty()) {
        YOCO_REQUIRE(std::filesystem::is_directory(d), "--allow-dir: '" + d + "' is not a directory");
        so.security.allow_dirs.push_back(d);
      }
      at = comma + 1;
    }
  }
  so.security.allow_any_file = all_loopback && so.security.allow_dirs.empty();
  so.security.allow_gst = ap.has("allow-gst") || all_loopback;
  if (auto f = ap.get_opt("curve-clients")) {
    YOCO_REQUIRE(!so.curve_secret.empty(), "--curve-clients needs --curve-secret");
    std::ifstream in(*f);
    YOCO_REQUIRE(in.good(), "cannot read --curve-clients file " + *f);
    std::string line;
    while (std::getline(in, line)) {
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
      if (line.empty() || line[0] == '#') continue;
      YOCO_REQUIRE(line.size() == 40, "--curve-clients: '" + line + "' is not a 40-character Z85 public key");
      so.security.client_keys.push_back(line);
    }
    YOCO_REQUIRE(!so.security.client_keys.empty(), "--curve-clients: no key in " + *f);
  }
  so.security.max_streams_per_client = static_cast<int>(ap.get_int("max-streams-per-client"));
  so.security.max_requests_per_second = ap.get_double("max-request-rate");
  YOCO_REQUIRE(so.security.max_streams_per_client >= 0 && so.security.max_requests_per_second >= 0,
               "--max-streams-per-client and --max-request-rate must be >= 0");
  if (auto d = ap.get_opt("state-dir")) {
    so.state_dir = *d;
    pipeline::prepare_state_dir(so.state_dir);
  }
  so.checkpoint_every = ap.get_double("checkpoint-every");
  YOCO_REQUIRE(so.checkpoint_every > 0 && so.checkpoint_every <= 3600, "--checkpoint-every must be in (0, 3600] seconds");
  so.fsync = llm::parse_fsync_policy(ap.get("fsync"));

  Service service(llm::Model::load(ap.get("model")), so);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  service.run(g_stop);
  std::fprintf(stderr, "yoco serve: stopped\n");
  return 0;
}

YOCO_COMMAND("serve", "the ZeroMQ service: streams, questions, events", run_serve);

}  // namespace yoco::app
