// yoco generate --model DIR --tokens FILE --max-new K [--greedy | sampling flags]: continue a token sequence.
#include <algorithm>
#include <cstdio>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/args.h"
#include "apps/command.h"
#include "apps/common.h"
#include "kernels/error.h"
#include "kernels/ops.h"
#include "llm/session.h"
#include "llm/tokenizer.h"

namespace yoco::app {

static int run_generate(const std::vector<std::string>& args) {
  ArgParser ap("generate", "yoco generate [--model DIR] --tokens FILE --max-new K [--greedy | sampling flags]",
               "Continues the token sequence in FILE. Prints JSON {\"tokens\": [new token ids]}.\n"
               "Greedy unless a sampling flag (--temperature, --top-k, --top-p) is given.");
  ap.option("model", "DIR", "model directory", default_model_dir());
  ap.option("tokens", "FILE", "whitespace-separated prompt token ids");
  ap.option("max-new", "K", "number of tokens to generate");
  ap.flag("greedy", "always take the most likely token");
  ap.option("temperature", "T", "sampling temperature (> 0)");
  ap.option("top-k", "K", "sample among the K most likely tokens");
  ap.option("top-p", "P", "nucleus sampling: the smallest set of tokens with probability mass >= P");
  ap.option("repetition-penalty", "R", "CTRL-style penalty on recently generated tokens (1 = off)", "1");
  ap.option("seed", "S", "random seed for sampling", "0");
  ap.option("stop", "ID", "stop after generating this token id (default: the tokenizer's </s>, if any)");
  ap.flag("json", "machine-readable output (the default for this command)");
  if (!ap.parse(args)) return 0;

  const std::vector<int32_t> prompt = read_token_file(ap.get("tokens"));
  YOCO_REQUIRE(!prompt.empty(), "the prompt has no tokens");
  const long long max_new = ap.get_int("max-new");
  YOCO_REQUIRE(max_new >= 0 && max_new <= 1000000, "--max-new must be in 0..1000000");
  kernels::SamplingParams sp;
  const bool sampling = ap.get_opt("temperature") || ap.get_opt("top-k") || ap.get_opt("top-p");
  YOCO_REQUIRE(!(sampling && ap.get_opt("greedy")), "--greedy cannot be combined with sampling flags");
  sp.greedy = !sampling;
  if (auto t = ap.get_opt("temperature")) {
    sp.temperature = static_cast<float>(ap.get_double("temperature"));
    YOCO_REQUIRE(sp.temperature > 0.0f, "--temperature must be > 0");
  }
  if (ap.get_opt("top-k")) {
    sp.top_k = static_cast<int>(ap.get_int("top-k"));
    YOCO_REQUIRE(sp.top_k >= 0, "--top-k must be >= 0");
  }
  if (ap.get_opt("top-p")) {
    sp.top_p = static_cast<float>(ap.get_double("top-p"));
    YOCO_REQUIRE(sp.top_p > 0.0f && sp.top_p <= 1.0f, "--top-p must be in (0, 1]");
  }
  sp.repetition_penalty = static_cast<float>(ap.get_double("repetition-penalty"));
  YOCO_REQUIRE(sp.repetition_penalty > 0.0f, "--repetition-penalty must be > 0");
  sp.seed = static_cast<uint64_t>(ap.get_int("seed"));

  auto model = llm::Model::load(ap.get("model"));
  const int64_t V = model->config().vocab_size;
  int32_t stop = -1;
  if (ap.get_opt("stop")) stop = static_cast<int32_t>(ap.get_int("stop"));
  else if (model->tokenizer()) stop = model->tokenizer()->eos();

  llm::Session s(model);
  kernels::Sampler sampler(sp);
  std::vector<int32_t> history = prompt, out;
  std::vector<float> logits(V);
  if (max_new > 0) {
    auto l = s.forward(prompt);
    std::copy(l.begin(), l.end(), logits.begin());
  }
  for (long long i = 0; i < max_new; ++i) {
    const int32_t t = sampler.sample(logits.data(), V, history);
    out.push_back(t);
    history.push_back(t);
    if (t == stop || i + 1 == max_new) break;
    auto l = s.step(t);
    std::copy(l.begin(), l.end(), logits.begin());
  }
  nlohmann::ordered_json j;  // keys in the documented order
  j["tokens"] = out;
  std::printf("%s\n", j.dump().c_str());
  return 0;
}

YOCO_COMMAND("generate", "continue a token sequence (JSON)", run_generate);

}  // namespace yoco::app
