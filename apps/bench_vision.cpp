// yoco bench vision: encode time per frame of the vision encoder on random weights, split into
// preprocessing (letterbox + normalise) and the encoder + projector, for one input frame size.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/args.h"
#include "apps/bench.h"
#include "apps/bench_util.h"
#include "apps/common.h"
#include "kernels/error.h"
#include "kernels/thread_pool.h"
#include "llm/safetensors.h"
#include "vision/encoder.h"
#ifdef YOCO_APP_HAVE_CUDA
#include "apps/bench_vision_cuda.h"
#endif

namespace yoco::app {
namespace {


// Multiply-adds ×2 of one encode (GEMMs and attention; elementwise work ignored).
double encode_flops(const vision::VisionConfig& c) {
  const double N = c.n_patches(), W = c.width, M = c.mlp_dim, T = c.tokens_per_frame;
  const double per_block = N * (4 * W * W + 3 * W * M) + 2 * N * N * W;
  return 2 * (N * c.patch_dim() * W + c.n_layers * per_block + T * (W * c.proj_dim + c.proj_dim * c.lm_dim));
}

int run_bench_vision(const std::vector<std::string>& args) {
  ArgParser ap("bench vision", "yoco bench vision [options]",
               "Vision encoder time per frame on random weights (written to a temp dir and loaded as a model\n"
               "would be): preprocessing and encoder + projector medians over --reps runs.");
  ap.option("input", "WxH", "input frame size", "224x224");
  ap.option("image-size", "S", "letterbox square", "224");
  ap.option("patch", "P", "patch size", "16");
  ap.option("width", "W", "encoder width", "192");
  ap.option("layers", "L", "encoder blocks", "4");
  ap.option("heads", "N", "attention heads", "3");
  ap.option("mlp", "M", "SwiGLU inner width", "512");
  ap.option("tokens", "T", "tokens per frame (a square)", "16");
  ap.option("proj", "P", "projector hidden width", "512");
  ap.option("dim", "D", "LM width", "512");
  ap.option("reps", "N", "timed repetitions (median reported)", "20");
  ap.option("device", "D", "cpu, or cuda: also the GPU encoder on batches of --batch frames, in the same run", "cpu");
  ap.option("batch", "F", "frames per GPU batch (--device cuda)", "32");
  ap.flag("json", "print the result as JSON");
  if (!ap.parse(args)) return 0;

  int in_w = 0, in_h = 0;
  YOCO_REQUIRE(std::sscanf(ap.get("input").c_str(), "%dx%d", &in_w, &in_h) == 2 && in_w > 0 && in_h > 0,
               "--input must be WxH, e.g. 224x224");
  nlohmann::json vj = {{"image_size", ap.get_int("image-size")}, {"patch_size", ap.get_int("patch")},
                       {"width", ap.get_int("width")},           {"n_layers", ap.get_int("layers")},
                       {"n_heads", ap.get_int("heads")},         {"mlp_dim", ap.get_int("mlp")},
                       {"tokens_per_frame", ap.get_int("tokens")}, {"proj_dim", ap.get_int("proj")},
                       {"lm_dim", ap.get_int("dim")}};
  const auto cfg = vision::VisionConfig::from_json(vj);
  const int reps = static_cast<int>(std::max<long long>(1, ap.get_int("reps")));
  const std::string device = ap.get("device");
  YOCO_REQUIRE(device == "cpu" || device == "cuda", "--device must be cpu or cuda (got '" + device + "')");
#ifndef YOCO_APP_HAVE_CUDA
  if (device == "cuda") exec_cuda_build("bench vision --device cuda");
#endif
  const long long batch = ap.get_int("batch");
  YOCO_REQUIRE(batch >= 1 && batch <= 4096, "--batch must be in 1..4096");

  // Random weights, std 1/sqrt(fan_in), written and mapped the way a model directory is.
  namespace fs = std::filesystem;
  const fs::path path = fs::temp_directory_path() / ("yoco-bench-vision-" + std::to_string(::getpid()) + ".safetensors");
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code ec;
      fs::remove(p, ec);
    }
  } cleanup{path};
  {
    std::mt19937 rng(5);
    std::normal_distribution<float> nd;
    std::vector<std::vector<float>> store;
    std::vector<llm::TensorToWrite> ts;
    const auto expected = vision::VisionEncoder::expected_tensors(cfg);
    store.reserve(expected.size());
    for (const auto& [name, shape] : expected) {
      int64_t n = 1;
      for (auto d : shape) n *= d;
      const float sc = shape.size() == 1 ? 0.0f : 1.0f / std::sqrt(static_cast<float>(shape.back()));
      std::vector<float> v(n);
      for (auto& x : v) x = shape.size() == 1 ? 1.0f : sc * nd(rng);
      store.push_back(std::move(v));
      ts.push_back({name, llm::TensorDType::F32, shape, store.back().data(), store.back().size() * 4});
    }
    llm::write_safetensors(path.string(), ts);
  }
  llm::SafeTensors st(path.string());
  const vision::VisionEncoder enc(vj, st);
  auto scratch = enc.make_scratch();

  std::vector<uint8_t> frame(static_cast<size_t>(in_w) * in_h * 3);
  std::mt19937 rng(9);
  for (auto& b : frame) b = static_cast<uint8_t>(rng());
  std::vector<float> out(static_cast<size_t>(cfg.tokens_per_frame) * cfg.lm_dim);

  const Stat pre = time_it(2, reps, [&] { scratch.preprocessor().process(frame.data(), in_w, in_h, 3 * in_w); });
  const Stat total = time_it(2, reps, [&] { enc.encode(frame.data(), in_w, in_h, 3 * in_w, out.data(), scratch); });
  const double gflops = encode_flops(cfg) / 1e9;
  nlohmann::json gpu = nullptr;
#ifdef YOCO_APP_HAVE_CUDA
  if (device == "cuda") {
    const float* image = scratch.preprocessor().process(frame.data(), in_w, in_h, 3 * in_w);
    const size_t isz = static_cast<size_t>(3) * cfg.image_size * cfg.image_size;
    std::vector<float> images(isz * static_cast<size_t>(batch));
    for (long long f = 0; f < batch; ++f) std::copy(image, image + isz, images.begin() + static_cast<long>(f * isz));
    const DeviceVisionTiming t = time_vision_cuda(enc, images, static_cast<int>(batch), reps);
    gpu = {{"batch", batch},
           {"batch_ms", {{"median", t.batch.median * 1e3}, {"min", t.batch.min * 1e3}, {"max", t.batch.max * 1e3}}},
           {"frames_per_s", batch / t.batch.median},
           {"gflop_per_s", gflops * batch / t.batch.median},
           {"device_mb", t.device_bytes / 1e6},
           {"rel_err_vs_cpu", t.max_rel_err}};
  }
#endif

  if (ap.has("json")) {
    nlohmann::json j = {{"input", {in_w, in_h}},
                        {"config", cfg.to_json()},
                        {"threads", kernels::num_threads()},
                        {"preprocess_ms", {{"median", pre.median * 1e3}, {"min", pre.min * 1e3}, {"max", pre.max * 1e3}}},
                        {"encode_ms", {{"median", total.median * 1e3}, {"min", total.min * 1e3}, {"max", total.max * 1e3}}},
                        {"gflop_per_frame", gflops},
                        {"frames_per_s", 1.0 / total.median},
                        {"cuda", gpu}};
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("yoco bench vision — input %dx%d → %d², patch %d (%d patches), width %d, %d layers, %d heads, "
              "MLP %d, T = %d, projector %d → %d; %d threads\n",
              in_w, in_h, cfg.image_size, cfg.patch_size, cfg.n_patches(), cfg.width, cfg.n_layers, cfg.n_heads,
              cfg.mlp_dim, cfg.tokens_per_frame, cfg.proj_dim, cfg.lm_dim, kernels::num_threads());
  std::printf("%-22s %10s %10s %10s\n", "stage", "median ms", "min ms", "max ms");
  std::printf("%-22s %10.3f %10.3f %10.3f\n", "preprocess", pre.median * 1e3, pre.min * 1e3, pre.max * 1e3);
  std::printf("%-22s %10.3f %10.3f %10.3f\n", "encode (incl. preproc)", total.median * 1e3, total.min * 1e3,
              total.max * 1e3);
  std::printf("%.3f GFLOP per frame, %.1f GFLOP/s, %.1f frames/s\n", gflops, gflops / total.median,
              1.0 / total.median);
  if (!gpu.is_null())
    std::printf("GPU, batches of %lld preprocessed frames (upload + encode + download): %.3f ms per batch, "
                "%.0f frames/s, %.1f GFLOP/s, %.1f MB on the device, rel. error vs CPU %.1e\n",
                batch, gpu["batch_ms"]["median"].get<double>(), gpu["frames_per_s"].get<double>(),
                gpu["gflop_per_s"].get<double>(), gpu["device_mb"].get<double>(),
                gpu["rel_err_vs_cpu"].get<double>());
  return 0;
}

}  // namespace

YOCO_BENCH("vision", "vision encoder time per frame (preprocess, encoder, projector) on random weights",
           run_bench_vision);

}  // namespace yoco::app
