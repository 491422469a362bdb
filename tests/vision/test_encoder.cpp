// Vision encoder: parity with the PyTorch reference (tests/data/vision, tools/vision/write_golden.py), bad
// weights, determinism and concurrent use.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/error.h"
#include "llm/model.h"
#include "tests/kernels/test_util.h"
#include "llm/safetensors.h"
#include "vision/encoder.h"

namespace yoco::vision {
namespace {

const std::string kDir = std::string(YOCO_TEST_DATA) + "/vision";

struct Golden {
  llm::SafeTensors file{kDir + "/golden.safetensors"};
  int n_frames() const {
    int n = 0;
    while (file.find("frame." + std::to_string(n))) ++n;
    return n;
  }
};

nlohmann::json vision_json() {
  std::ifstream f(kDir + "/config.json");
  return nlohmann::json::parse(f)["vision"];
}

using kernels::test::rel_err;

std::vector<float> encode_frame(const VisionEncoder& enc, const llm::TensorInfo& frame, VisionScratch& s) {
  const int h = static_cast<int>(frame.shape[0]), w = static_cast<int>(frame.shape[1]);
  std::vector<float> out(static_cast<size_t>(enc.tokens_per_frame()) * enc.out_dim(),
                         std::numeric_limits<float>::quiet_NaN());  // poisoned
  enc.encode(frame.data, w, h, 3 * w, out.data(), s);
  return out;
}

TEST(VisionEncoder, MatchesReferencePerFrame) {
  auto model = llm::Model::load(kDir);
  VisionEncoder enc(*model);
  Golden g;
  ASSERT_GE(g.n_frames(), 3);
  VisionScratch s = enc.make_scratch();
  for (int i = 0; i < g.n_frames(); ++i) {
    const auto& frame = g.file.get("frame." + std::to_string(i));
    const auto img_ref = llm::to_f32(g.file.get("image." + std::to_string(i)));
    const auto emb_ref = llm::to_f32(g.file.get("embeddings." + std::to_string(i)));
    ASSERT_EQ(frame.dtype, llm::TensorDType::U8);
    const auto out = encode_frame(enc, frame, s);
    ASSERT_EQ(out.size(), emb_ref.size());
    const double e_img = rel_err(s.preprocessor().image(), img_ref);
    const double e_emb = rel_err(out.data(), emb_ref);
    std::printf("frame %d %lldx%lld: image rel %.3g, embeddings rel %.3g\n", i,
                static_cast<long long>(frame.shape[1]), static_cast<long long>(frame.shape[0]), e_img, e_emb);
    EXPECT_LE(e_img, 1e-5) << "frame " << i;
    EXPECT_LE(e_emb, 1e-4) << "frame " << i;
  }
}

TEST(VisionEncoder, FromJsonAndSafeTensorsMatchesModel) {
  auto model = llm::Model::load(kDir);
  VisionEncoder a(*model);
  llm::SafeTensors st(kDir + "/model.safetensors");
  VisionEncoder b(vision_json(), st);
  Golden g;
  auto sa = a.make_scratch(), sb = b.make_scratch();
  const auto& frame = g.file.get("frame.1");
  EXPECT_EQ(encode_frame(a, frame, sa), encode_frame(b, frame, sb));
}

TEST(VisionEncoder, DeterministicAcrossCallsAndScratch) {
  auto model = llm::Model::load(kDir);
  VisionEncoder enc(*model);
  Golden g;
  auto s1 = enc.make_scratch(), s2 = enc.make_scratch();
  const auto& f0 = g.file.get("frame.0");
  const auto& f2 = g.file.get("frame.2");
  const auto first = encode_frame(enc, f0, s1);
  encode_frame(enc, f2, s1);  // a different size in between: buffers reused
  EXPECT_EQ(first, encode_frame(enc, f0, s1));
  EXPECT_EQ(first, encode_frame(enc, f0, s2));
}

TEST(VisionEncoder, ThreadsWithSeparateScratchAgree) {
  auto model = llm::Model::load(kDir);
  const VisionEncoder enc(*model);
  Golden g;
  const int n = g.n_frames();
  std::vector<std::vector<float>> expected;
  {
    auto s = enc.make_scratch();
    for (int i = 0; i < n; ++i) expected.push_back(encode_frame(enc, g.file.get("frame." + std::to_string(i)), s));
  }
  std::vector<int> mismatches(2, 0);
  auto worker = [&](int id) {
    auto s = enc.make_scratch();
    for (int rep = 0; rep < 20; ++rep)
      for (int i = 0; i < n; ++i) {
        const int k = (i + id) % n;
        if (encode_frame(enc, g.file.get("frame." + std::to_string(k)), s) != expected[k]) ++mismatches[id];
      }
  };
  std::thread t0(worker, 0), t1(worker, 1);
  t0.join();
  t1.join();
  EXPECT_EQ(mismatches[0], 0);
  EXPECT_EQ(mismatches[1], 0);
}

TEST(VisionEncoder, RejectsBadInput) {
  auto model = llm::Model::load(kDir);
  VisionEncoder enc(*model);
  auto s = enc.make_scratch();
  std::vector<float> out(static_cast<size_t>(enc.tokens_per_frame()) * enc.out_dim());
  std::vector<uint8_t> px(12 * 3);
  EXPECT_THROW(enc.encode(nullptr, 4, 3, 12, out.data(), s), Error);
  EXPECT_THROW(enc.encode(px.data(), 0, 3, 12, out.data(), s), Error);
  EXPECT_THROW(enc.encode(px.data(), 4, -1, 12, out.data(), s), Error);
  EXPECT_THROW(enc.encode(px.data(), 4, 3, 11, out.data(), s), Error);
  EXPECT_NO_THROW(enc.encode(px.data(), 4, 3, 12, out.data(), s));
  // A scratch for another config.
  auto cfg = enc.config();
  cfg.image_size = 64;
  VisionScratch other(cfg);
  EXPECT_THROW(enc.encode(px.data(), 4, 3, 12, out.data(), other), Error);
}

// ---- bad weights ------------------------------------------------------------------------------------------

enum class Damage { Missing, Misshaped, NaN };

// Rewrites model.safetensors' vision tensors with `name` damaged; returns the path.
std::string write_damaged(const std::string& name, Damage d) {
  llm::SafeTensors src(kDir + "/model.safetensors");
  std::vector<std::vector<float>> store;
  std::vector<llm::TensorToWrite> out;
  store.reserve(src.size());
  for (const auto& t : src.tensors()) {
    if (t.name.rfind("vision.", 0) != 0) continue;
    if (t.name == name && d == Damage::Missing) continue;
    store.push_back(llm::to_f32(t));
    auto shape = t.shape;
    if (t.name == name && d == Damage::Misshaped) {
      shape = {t.numel()};
      if (t.shape.size() == 1) shape = {1, t.numel()};
    }
    if (t.name == name && d == Damage::NaN) store.back()[store.back().size() / 2] = std::nanf("");
    out.push_back({t.name, llm::TensorDType::F32, shape, store.back().data(), store.back().size() * 4});
  }
  const auto path = std::filesystem::temp_directory_path() /
                    ("yoco-vision-bad-" + std::to_string(static_cast<int>(d)) + ".safetensors");
  llm::write_safetensors(path.string(), out);
  return path.string();
}

TEST(VisionEncoder, BadWeightsNameTheTensor) {
  const std::vector<std::string> names = {"vision.patch_embed.weight", "vision.pos_embed",
                                          "vision.blocks.1.mlp.up.weight", "vision.blocks.0.norm1.weight",
                                          "vision.proj.fc2.weight"};
  for (const auto& name : names)
    for (Damage d : {Damage::Missing, Damage::Misshaped, Damage::NaN}) {
      const std::string path = write_damaged(name, d);
      llm::SafeTensors st(path);
      try {
        VisionEncoder enc(vision_json(), st);
        ADD_FAILURE() << "no error for " << name << " damage " << static_cast<int>(d);
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("'" + name + "'"), std::string::npos) << e.what();
      }
      std::filesystem::remove(path);
    }
}

TEST(VisionEncoder, BadConfigIsAnError) {
  llm::SafeTensors st(kDir + "/model.safetensors");
  auto j = vision_json();
  j["tokens_per_frame"] = 8;  // not a square
  EXPECT_THROW((void)VisionEncoder(j, st), Error);
  j = vision_json();
  j["tokens_per_frame"] = 49;  // 7 x 7 tokens from a 6 x 6 grid
  EXPECT_THROW((void)VisionEncoder(j, st), Error);
  j = vision_json();
  j.erase("width");
  try {
    VisionEncoder enc(j, st);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("width"), std::string::npos);
  }
  j = vision_json();
  j["lm_dim"] = 64;  // the projector tensor no longer fits
  EXPECT_THROW((void)VisionEncoder(j, st), Error);
  // Numbers past their C++ type: a float field of 1e300 (inf as a float) and a pad colour of 2^32 + 10 (10 once
  // wrapped to int) are errors, not a silently different model; 0.0 is still a pad colour.
  const std::vector<std::pair<std::string, nlohmann::json>> bad = {
      {"norm_eps", 1e300}, {"mean", {0.5, 1e300, 0.5}}, {"std", {0.5, 0.5, -1e300}},
      {"pad_rgb", {0, 4294967306LL, 0}}, {"pad_rgb", {0, 1e300, 0}}, {"pad_rgb", {0.5, 0, 0}}};
  for (const auto& [key, value] : bad) {
    j = vision_json();
    j[key] = value;
    try {
      VisionEncoder enc(j, st);
      ADD_FAILURE() << key << " = " << value.dump() << " loaded";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  }
  j = vision_json();
  j["pad_rgb"] = {0.0, 0, 0};
  EXPECT_NO_THROW((void)VisionEncoder(j, st));
}

// ---- time tags --------------------------------------------------------------------------------------------

TEST(TimeTag, Formats) {
  EXPECT_EQ(format_time_tag(0.0), "[00:00]");
  EXPECT_EQ(format_time_tag(83.9), "[01:23]");
  EXPECT_EQ(format_time_tag(3599.999), "[59:59]");
  EXPECT_EQ(format_time_tag(3600.0), "[1:00:00]");
  EXPECT_EQ(format_time_tag(3725.5), "[1:02:05]");
  EXPECT_EQ(format_time_tag(36000.0 + 61), "[10:01:01]");
  EXPECT_THROW(format_time_tag(-0.5), Error);
  EXPECT_THROW(format_time_tag(std::nan("")), Error);
  EXPECT_THROW(format_time_tag(std::numeric_limits<double>::infinity()), Error);
}

}  // namespace
}  // namespace yoco::vision
