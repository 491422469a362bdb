// DeviceSession (llm/device_session.h) against the CPU Session on random models: YOCO (gated retention) and the
// GQA Transformer, f32 weights and cache (f32 tolerance) and bf16 (bf16 tolerance), with batches and pages
// small enough that prefill crosses several of each; bad input leaves the session unchanged. Skips without a
// device, except the architecture check, which needs none.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "kernels/error.h"
#include "llm/device_session.h"
#include "llm/random_model.h"
#include "llm/session.h"
#include "tests/cuda/cuda_test_util.h"

namespace yoco::llm {
namespace {

namespace fs = std::filesystem;
using kernels::DType;
using kernels::cuda::test::ctx;

struct TempModel {
  fs::path dir;
  std::shared_ptr<const Model> model;
  TempModel(const ModelConfig& c, const std::string& name) {
    dir = fs::temp_directory_path() / ("yoco-cuda-session-" + name + "-" + std::to_string(::getpid()));
    write_random_model(dir.string(), c, 5);
    model = Model::load(dir.string());
  }
  ~TempModel() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

ModelConfig small_config(Arch arch) {
  ModelConfig c;
  c.arch = arch;
  c.dim = 128;
  c.n_layers = 4;
  c.hidden_dim = 352;
  c.n_self_heads = c.n_attn_heads = 4;
  c.n_attn_kv_heads = 2;
  c.vocab_size = 300;
  if (arch == Arch::Transformer) {
    c.rope_style = kernels::RopeStyle::Neox;
    c.embed_scale = false;
  }
  c.validate();
  return c;
}

double rel_err(const std::vector<float>& a, const std::vector<float>& b) { return kernels::test::rel_err(a.data(), b); }

std::vector<int32_t> random_ids(int n, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = static_cast<int32_t>(rng() % static_cast<uint32_t>(vocab));
  return t;
}

// Prefill 300 tokens, logits at 37 more, then 5 decode steps: CPU vs device.
void compare(Arch arch, DType weights, DType cache, double tol) {
  TempModel m(small_config(arch), arch == Arch::Yoco ? "yoco" : "transformer");
  const int V = m.model->config().vocab_size;
  const auto prompt = random_ids(300, V, 1), probe = random_ids(37, V, 2), steps = random_ids(5, V, 3);

  SessionOptions so;  // an int8 cache on both sides (the other narrow caches compare against f32)
  so.cache_dtype = cache == DType::Q8 ? DType::Q8 : DType::F32;
  Session cpu(m.model, so);
  cpu.prefill(prompt);
  std::vector<float> want(probe.size() * V);
  cpu.forward_all(probe, want.data());

  DeviceOptions o;
  o.weight_dtype = weights;
  o.cache_dtype = cache;
  o.page_tokens = 32;  // 300 tokens cross 10 pages
  o.max_batch = 64;    // and 5 batches
  o.max_tokens = 1024;
  auto dm = std::make_shared<const DeviceModel>(m.model, weights);
  DeviceSession dev(dm, ctx(), o);
  dev.prefill(prompt);
  std::vector<float> got(probe.size() * V);
  dev.forward_all(probe, got.data());
  EXPECT_LE(rel_err(got, want), tol) << "forward_all after prefill";
  for (int32_t t : steps) {
    const auto c = cpu.step(t);
    const auto d = dev.forward(std::span<const int32_t>(&t, 1));
    EXPECT_LE(rel_err({d.begin(), d.end()}, {c.begin(), c.end()}), tol) << "decode step";
  }
  EXPECT_EQ(dev.n_tokens(), cpu.n_tokens());
}

TEST(DeviceSession, YocoMatchesCpuF32) {
  YOCO_SKIP_WITHOUT_DEVICE();
  compare(Arch::Yoco, DType::F32, DType::F32, 1e-4);
}

TEST(DeviceSession, TransformerMatchesCpuF32) {
  YOCO_SKIP_WITHOUT_DEVICE();
  compare(Arch::Transformer, DType::F32, DType::F32, 1e-4);
}

// bf16 weights and cache: 8 mantissa bits, errors of a few 2^-8 relative through 4 layers.
TEST(DeviceSession, YocoMatchesCpuBf16) {
  YOCO_SKIP_WITHOUT_DEVICE();
  compare(Arch::Yoco, DType::BF16, DType::BF16, 5e-2);
}

TEST(DeviceSession, TransformerMatchesCpuBf16) {
  YOCO_SKIP_WITHOUT_DEVICE();
  compare(Arch::Transformer, DType::BF16, DType::BF16, 5e-2);
}

// int8 cache on both sides, f32 weights: the device quantises the K/V rows it computed (within ~1e-6 of the
// CPU's), so a value on a rounding boundary may land one step (max|head| / 127) apart; that moves the logits
// by ~1e-3 at most, while a layout error in the int8 pages would be O(1).
TEST(DeviceSession, YocoMatchesCpuInt8Cache) {
  YOCO_SKIP_WITHOUT_DEVICE();
  compare(Arch::Yoco, DType::F32, DType::Q8, 1e-2);
}

TEST(DeviceSession, TransformerMatchesCpuInt8Cache) {
  YOCO_SKIP_WITHOUT_DEVICE();
  compare(Arch::Transformer, DType::F32, DType::Q8, 1e-2);
}

// The vision seam: rows of embeddings between text, from host and from device memory, across batches.
TEST(DeviceSession, EmbeddingRowsMatchCpu) {
  YOCO_SKIP_WITHOUT_DEVICE();
  TempModel m(small_config(Arch::Yoco), "embeddings");
  const int V = m.model->config().vocab_size, D = m.model->config().dim;
  std::mt19937 rng(9);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> rows(70 * D);
  for (auto& x : rows) x = nd(rng);
  const auto head = random_ids(10, V, 7), probe = random_ids(12, V, 8);
  Session cpu(m.model);
  cpu.prefill(head);
  cpu.prefill_embeddings(rows.data(), 70);
  std::vector<float> want(probe.size() * V);
  cpu.forward_all(probe, want.data());
  DeviceOptions o;
  o.weight_dtype = o.cache_dtype = DType::F32;
  o.page_tokens = 32;
  o.max_batch = 32;  // 70 rows: three batches
  o.max_tokens = 256;
  auto dm = std::make_shared<const DeviceModel>(m.model, DType::F32);
  for (bool on_device : {false, true}) {
    SCOPED_TRACE(on_device);
    DeviceSession dev(dm, ctx(), o);
    dev.prefill(head);
    kernels::cuda::DeviceBuffer<float> drows(rows);
    dev.prefill_embeddings(on_device ? drows.data() : rows.data(), 70, on_device);
    EXPECT_EQ(dev.n_tokens(), 80);
    std::vector<float> got(probe.size() * V);
    dev.forward_all(probe, got.data());
    EXPECT_LE(rel_err(got, want), 1e-4);
    EXPECT_THROW(dev.prefill_embeddings(rows.data(), 200), Error);  // past max_tokens
    EXPECT_THROW(dev.prefill_embeddings(nullptr, 3), Error);
    EXPECT_EQ(dev.n_tokens(), 80 + static_cast<int64_t>(probe.size()));
  }
}

TEST(DeviceSession, BadInputLeavesTheSessionUnchanged) {
  YOCO_SKIP_WITHOUT_DEVICE();
  TempModel m(small_config(Arch::Yoco), "bad");
  DeviceOptions o;
  o.max_tokens = 64;
  o.page_tokens = 32;
  DeviceSession dev(std::make_shared<const DeviceModel>(m.model, DType::F32), ctx(), o);
  dev.prefill(random_ids(10, 300, 4));
  const std::vector<int32_t> bad = {1, 2, 300};
  EXPECT_THROW(dev.prefill(bad), Error);
  EXPECT_THROW(dev.forward(std::vector<int32_t>{-1}), Error);
  EXPECT_THROW(dev.prefill(random_ids(60, 300, 5)), Error);  // past max_tokens
  EXPECT_EQ(dev.n_tokens(), 10);
  EXPECT_NO_THROW(dev.forward(random_ids(3, 300, 6)));
  EXPECT_EQ(dev.n_tokens(), 13);
}

TEST(DeviceSession, RefusesArchitecturesItDoesNotRun) {
  ModelConfig c = small_config(Arch::Yoco);
  c.sliding_window = 16;
  c.validate();
  TempModel m(c, "swa");
  EXPECT_THROW(DeviceModel(m.model, DType::F32), Error);  // before any CUDA call: needs no device
}

}  // namespace
}  // namespace yoco::llm
