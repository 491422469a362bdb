// yoco score --model DIR --tokens FILE: teacher-forced negative log-likelihood of a token sequence.
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

namespace yoco::app {

static int run_score(const std::vector<std::string>& args) {
  ArgParser ap("score", "yoco score [--model DIR] --tokens FILE [--json]",
               "Teacher-forced negative log-likelihood (nats) of each token given the ones before it.\n"
               "Prints JSON {\"n_tokens\": N, \"nll\": [N-1 numbers], \"mean_nll\": x}.");
  ap.option("model", "DIR", "model directory (config.json + model.safetensors)", default_model_dir());
  ap.option("tokens", "FILE", "whitespace-separated token ids");
  ap.option("batch", "N", "tokens per forward batch", "256");
  ap.flag("json", "machine-readable output (the default for this command)");
  if (!ap.parse(args)) return 0;
  const std::vector<int32_t> tokens = read_token_file(ap.get("tokens"));
  YOCO_REQUIRE(tokens.size() >= 2, "need at least 2 tokens to score, got " + std::to_string(tokens.size()));
  auto model = llm::Model::load(ap.get("model"));
  llm::SessionOptions so;
  so.max_batch = static_cast<int>(std::clamp<long long>(ap.get_int("batch"), 1, 4096));
  llm::Session s(model, so);
  const int64_t V = model->config().vocab_size, n = static_cast<int64_t>(tokens.size()) - 1;
  for (size_t i = 0; i < tokens.size(); ++i)
    YOCO_REQUIRE(tokens[i] < V, "token " + std::to_string(i) + " (id " + std::to_string(tokens[i]) +
                                    ") is outside the model's vocabulary of " + std::to_string(V));
  std::vector<float> logits(static_cast<size_t>(so.max_batch) * V), lsm(V);
  std::vector<double> nll(n);
  double sum = 0.0;
  for (int64_t done = 0; done < n;) {
    const int64_t b = std::min<int64_t>(so.max_batch, n - done);
    s.forward_all(std::span<const int32_t>(tokens.data() + done, b), logits.data());
    for (int64_t r = 0; r < b; ++r) {
      kernels::log_softmax(logits.data() + r * V, lsm.data(), V);
      nll[done + r] = -static_cast<double>(lsm[tokens[done + r + 1]]);
      sum += nll[done + r];
    }
    done += b;
  }
  nlohmann::ordered_json j;  // keys in the documented order
  j["n_tokens"] = tokens.size();
  j["nll"] = nll;
  j["mean_nll"] = sum / static_cast<double>(n);
  std::printf("%s\n", j.dump().c_str());
  return 0;
}

YOCO_COMMAND("score", "teacher-forced NLL of a token sequence (JSON)", run_score);

}  // namespace yoco::app
