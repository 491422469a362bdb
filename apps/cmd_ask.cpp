// yoco ask VIDEO --question Q [--at SECONDS]: ingest the video up to that moment (all of it by default),
// then answer the question over everything seen (docs/STREAM-FORMAT.md). --json prints
// {"answer": …, "pts": seconds, …}; outside scripts call it exactly so.
#include <cstdio>

#include "apps/args.h"
#include "apps/command.h"
#include "apps/common.h"
#include "apps/stream_cli.h"
#include "kernels/error.h"
#include "llm/model.h"
#include "pipeline/stream_runtime.h"

namespace yoco::app {

static int run_ask(const std::vector<std::string>& args) {
  ArgParser ap("ask", "yoco ask VIDEO --question Q [--at SECONDS] [--model DIR] [--json]",
               "Ingests VIDEO (a file or any source spec) up to --at seconds (default: to its end) and answers\n"
               "the question over everything seen. Prints \"[mm:ss] answer\", or JSON with --json:\n"
               "{\"answer\": text, \"pts\": seconds of the last frame seen, \"frames\": n, ...}.");
  ap.positionals("VIDEO", 1, 1, "video file or source spec");
  ap.option("model", "DIR", "model directory", default_model_dir());
  ap.option("question", "Q", "the question");
  ap.option("at", "SECONDS", "stream time to ask at: frames with pts <= SECONDS are seen");
  ap.option("max-tokens", "N", "answer length cap (default: the model's stream.max_answer_tokens)", "0");
  declare_stream_options(ap);
  ap.flag("json", "machine-readable output");
  if (!ap.parse(args)) return 0;

  const std::string question = ap.get("question");
  pipeline::StreamOptions so = stream_options_from(ap);
  if (ap.get_opt("at")) {
    so.stop_at = ap.get_double("at");
    YOCO_REQUIRE(so.stop_at >= 0.0, "--at must be >= 0");
  }
  pipeline::AskOptions ao;
  ao.max_tokens = static_cast<int>(ap.get_int("max-tokens"));
  YOCO_REQUIRE(ao.max_tokens >= 0 && ao.max_tokens <= 4096, "--max-tokens must be in 0..4096");

  pipeline::StreamRuntime rt(llm::Model::load(ap.get("model")));
  auto stream = rt.open("ask", ap.positional()[0], so);
  while (!stream->wait_ended(3600.0)) {
  }
  const auto st = stream->stats();
  YOCO_REQUIRE(st.error.empty(), st.error);
  const pipeline::Answer a = stream->ask(question, ao);
  if (ap.has("json")) {
    nlohmann::ordered_json j;
    j["answer"] = a.text;
    j["pts"] = a.pts;
    j["frames"] = a.frames;
    j["tokens"] = a.position;
    j["first_token_ms"] = a.first_token_ms;
    j["total_ms"] = a.total_ms;
    std::printf("%s\n", dump_json(j).c_str());
  } else {
    std::printf("[%s] %s\n", format_mmss(a.pts).c_str(), a.text.c_str());
  }
  return 0;
}

YOCO_COMMAND("ask", "answer a question about a video up to a moment", run_ask);

}  // namespace yoco::app
