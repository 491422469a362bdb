// The `yoco score` / `yoco generate` contract of DESIGN.md, run as a process on the golden models.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "tests/apps/run_yoco.h"

#include "llm/safetensors.h"

namespace {

namespace fs = std::filesystem;
const std::string kData = YOCO_TEST_DATA;

using Result = yoco::test::CommandResult;
Result run(const std::string& args) { return yoco::test::run_yoco(args); }

std::string write_tokens(const std::vector<int32_t>& t, const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("yoco-cli-" + std::to_string(::getpid()) + "-" + name);
  std::ofstream out(p);
  for (auto x : t) out << x << (x % 7 ? ' ' : '\n');
  return p.string();
}

TEST(CliLlm, ScoreEqualsTheReferenceNll) {
  yoco::llm::SafeTensors g(kData + "/yoco_gret/golden.safetensors");
  const auto tokens = yoco::llm::to_i32(g.get("tokens"));
  const auto logits = yoco::llm::to_f32(g.get("logits"));
  const int64_t V = g.get("logits").shape[1], T = static_cast<int64_t>(tokens.size());
  const std::string file = write_tokens(tokens, "score.txt");
  const Result r = run("score --model " + kData + "/yoco_gret --tokens " + file + " --json");
  fs::remove(file);
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["n_tokens"].get<int64_t>(), T);
  ASSERT_EQ(j["nll"].size(), static_cast<size_t>(T - 1));
  double mean = 0;
  for (int64_t i = 0; i + 1 < T; ++i) {
    double mx = -1e30, sum = 0;
    for (int64_t v = 0; v < V; ++v) mx = std::max<double>(mx, logits[i * V + v]);
    for (int64_t v = 0; v < V; ++v) sum += std::exp(logits[i * V + v] - mx);
    const double want = -(logits[i * V + tokens[i + 1]] - mx - std::log(sum));
    ASSERT_NEAR(j["nll"][i].get<double>(), want, 1e-4 * std::max(1.0, want)) << i;
    mean += want;
  }
  EXPECT_NEAR(j["mean_nll"].get<double>(), mean / (T - 1), 1e-4);
}

TEST(CliLlm, GreedyGenerateFollowsTheReferenceArgmax) {
  yoco::llm::SafeTensors g(kData + "/transformer/golden.safetensors");
  const auto tokens = yoco::llm::to_i32(g.get("tokens"));
  const auto logits = yoco::llm::to_f32(g.get("logits"));
  const int64_t V = g.get("logits").shape[1];
  const int64_t n = 100;
  const std::string file = write_tokens(std::vector<int32_t>(tokens.begin(), tokens.begin() + n), "gen.txt");
  const Result r = run("generate --model " + kData + "/transformer --tokens " + file + " --max-new 5 --greedy");
  const Result again = run("generate --model " + kData + "/transformer --tokens " + file + " --max-new 5");
  const Result s1 = run("generate --model " + kData + "/transformer --tokens " + file +
                        " --max-new 6 --temperature 1.5 --top-k 20 --seed 4");
  const Result s2 = run("generate --model " + kData + "/transformer --tokens " + file +
                        " --max-new 6 --temperature 1.5 --top-k 20 --seed 4");
  fs::remove(file);
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["tokens"].size(), 5u);
  int64_t best = 0;
  for (int64_t v = 1; v < V; ++v)
    if (logits[(n - 1) * V + v] > logits[(n - 1) * V + best]) best = v;
  EXPECT_EQ(j["tokens"][0].get<int64_t>(), best);
  EXPECT_EQ(r.out, again.out);  // greedy is the default
  EXPECT_EQ(s1.rc, 0) << s1.out;
  EXPECT_EQ(s1.out, s2.out);  // seeded sampling is deterministic
}

TEST(CliLlm, BadInputIsAOneLineErrorAndNonZeroExit) {
  const std::string good = write_tokens({1, 2, 3}, "good.txt");
  const std::string bad = write_tokens({1, 2, 100000}, "bad.txt");
  const fs::path words = fs::temp_directory_path() / ("yoco-cli-words-" + std::to_string(::getpid()));
  std::ofstream(words) << "1 2 three";
  for (const std::string& args : std::vector<std::string>{"score --model " + kData + "/yoco_gret --tokens " + bad, "score --model " + kData + "/yoco_gret --tokens " +
            words.string(), "score --model /nonexistent --tokens " + good,
        "score --model " + kData + "/yoco_gret --tokens /nonexistent", "score --model " + kData + "/yoco_gret",
        "generate --model " + kData + "/yoco_gret --tokens " + good + " --max-new -3",
        "generate --model " + kData + "/yoco_gret --tokens " + good + " --max-new 2 --top-p 7",
        "score --bogus-flag", "no-such-command"}) {
    const Result r = run(args);
    EXPECT_NE(r.rc, 0) << args;
    EXPECT_NE(r.rc, -1) << args << " crashed: " << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << args << ": " << r.out;
  }
  EXPECT_EQ(run("score --help").rc, 0);
  EXPECT_EQ(run("generate --help").rc, 0);
  fs::remove(good);
  fs::remove(bad);
  fs::remove(words);
}

// yoco bench llm compares cache storages in one run: a row per (cache dtype, arch, context), the int8 cache
// 2·n_kv·(hd + 4) bytes a token against f32's 2·n_kv·hd·4, the summary on the first dtype.
TEST(CliLlm, BenchLlmComparesCacheDtypesInOneRun) {
  const Result r = run("bench llm --dim 64 --layers 2 --hidden 128 --heads 4 --kv-heads 2 --vocab 256 "
                       "--contexts 512 --prefill-chunk 16 --decode-steps 2 --question 4 --reps 1 --python none "
                       "--cache-dtype f32,int8 --json");
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["rows"].size(), 4u) << r.out;
  double f32 = 0, int8 = 0;
  for (const auto& row : j["rows"]) {
    if (row["arch"] != "yoco") continue;
    (row["cache_dtype"] == "f32" ? f32 : int8) = row["cache_bytes_per_token"].get<double>();
  }
  EXPECT_EQ(f32, 2.0 * 2 * 16 * 4);
  EXPECT_EQ(int8, 2.0 * 2 * (16 + 4));
  const Result bad = run("bench llm --cache-dtype f32,int4 --reps 1");
  EXPECT_EQ(bad.rc, 1);
  EXPECT_NE(bad.out.find("(got 'int4')"), std::string::npos) << bad.out;
}

// build/bin/yoco hands `--device cuda` over to build/bin/yoco-cuda (apps/common.h): where that program was
// built, the CUDA benchmark's own help comes back through yoco; where it was not, one line says so. yoco
// itself never loads cuBLAS (its start-up would pay for it on every command).
TEST(CliLlm, CudaCommandsAreHandedToYocoCuda) {
  const bool helper = fs::exists(fs::path(YOCO_BIN_DIR) / "yoco-cuda");
  for (const std::string& args : {std::string("bench llm --device cuda --help"), std::string("bench vision --device cuda --reps 1 --input 64x64")}) {
    const Result r = run(args);
    if (helper) {
      if (args.find("--help") != std::string::npos) {
        EXPECT_EQ(r.rc, 0) << r.out;
        EXPECT_NE(r.out.find("usage: yoco bench llm --device cuda"), std::string::npos) << r.out;
      } else {  // no GPU here (or one): either way it ran in yoco-cuda and ended cleanly
        EXPECT_NE(r.rc, -1) << r.out;
      }
    } else {
      EXPECT_EQ(r.rc, 1) << r.out;
      EXPECT_NE(r.out.find("built without the CUDA backend"), std::string::npos) << r.out;
      EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
    }
  }
  FILE* maps = popen(("LD_TRACE_LOADED_OBJECTS=1 " + std::string(YOCO_BIN_DIR) + "/yoco").c_str(), "r");
  ASSERT_NE(maps, nullptr);
  std::string libs;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, maps)) libs.append(buf, n);
  pclose(maps);
  EXPECT_NE(libs.find("libc.so"), std::string::npos) << libs;
  EXPECT_EQ(libs.find("libcublas"), std::string::npos) << "yoco links cuBLAS";
  EXPECT_EQ(libs.find("libcudart"), std::string::npos) << "yoco links the CUDA runtime";
}

}  // namespace
