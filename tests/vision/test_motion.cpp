// Vision encoder with the motion input (config `motion`): parity with the PyTorch reference on a moving clip
// (tests/data/vision-motion, tools/vision/write_golden.py), the previous image kept per scratch, reset_motion(),
// and the tensor / config checks.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/error.h"
#include "llm/safetensors.h"
#include "tests/kernels/test_util.h"
#include "vision/encoder.h"

namespace yoco::vision {
namespace {

const std::string kDir = std::string(YOCO_TEST_DATA) + "/vision-motion";

nlohmann::json motion_json() {
  std::ifstream f(kDir + "/vision.json");
  return nlohmann::json::parse(f);
}

struct Clip {
  llm::SafeTensors weights{kDir + "/vision.safetensors"};
  llm::SafeTensors golden{kDir + "/golden.safetensors"};
  VisionEncoder enc{motion_json(), weights};
  int n_frames() const {
    int n = 0;
    while (golden.find("frame." + std::to_string(n))) ++n;
    return n;
  }
  std::vector<float> encode(int i, VisionScratch& s) const {
    const auto& f = golden.get("frame." + std::to_string(i));
    const int h = static_cast<int>(f.shape[0]), w = static_cast<int>(f.shape[1]);
    std::vector<float> out(static_cast<size_t>(enc.tokens_per_frame()) * enc.out_dim(),
                           std::numeric_limits<float>::quiet_NaN());
    enc.encode(f.data, w, h, 3 * w, out.data(), s);
    return out;
  }
  std::vector<float> ref(const std::string& name, int i) const {
    return llm::to_f32(golden.get(name + "." + std::to_string(i)));
  }
};

using kernels::test::rel_err;

TEST(VisionMotion, ConfigAndTensors) {
  Clip c;
  EXPECT_TRUE(c.enc.config().motion);
  EXPECT_NE(c.enc.weights().motion_embed, nullptr);
  EXPECT_EQ(VisionConfig::from_json(c.enc.config().to_json()).motion, true);
  const auto names = VisionEncoder::expected_tensors(c.enc.config());
  EXPECT_EQ(names[1].first, "vision.motion_embed.weight");
  auto j = motion_json();
  j["motion"] = 1;
  EXPECT_THROW(VisionConfig::from_json(j), Error);  // a boolean, not a number
  j.erase("motion");
  EXPECT_FALSE(VisionConfig::from_json(j).motion);
  EXPECT_FALSE(VisionConfig::from_json(j).to_json().contains("motion"));
}

TEST(VisionMotion, MatchesReferenceOverAClip) {
  Clip c;
  const int n = c.n_frames();
  ASSERT_GE(n, 3);
  auto s = c.enc.make_scratch();
  EXPECT_FALSE(s.has_previous());
  for (int i = 0; i < n; ++i) {
    const auto out = c.encode(i, s);
    const double e = rel_err(out.data(), c.ref("embeddings", i));
    const double from_still = rel_err(out.data(), c.ref("still", i));
    std::printf("frame %d: rel err %.3g (vs the still-image output %.3g)\n", i, e, from_still);
    EXPECT_LE(e, 1e-4) << "frame " << i;
    if (i > 0) {
      EXPECT_GT(from_still, 1e-2) << "frame " << i << ": the motion input has no effect";
    }
    EXPECT_TRUE(s.has_previous());
  }
}

TEST(VisionMotion, ResetMakesTheNextFrameAStreamStart) {
  Clip c;
  auto s = c.enc.make_scratch();
  c.encode(0, s);
  c.encode(1, s);
  s.reset_motion();
  EXPECT_FALSE(s.has_previous());
  EXPECT_LE(rel_err(c.encode(2, s).data(), c.ref("still", 2)), 1e-4);
  EXPECT_LE(rel_err(c.encode(3, s).data(), c.ref("embeddings", 3)), 1e-4);  // 2 then 3: as in the clip
}

TEST(VisionMotion, ScratchesKeepSeparateStreams) {
  Clip c;
  // Two streams interleaved: a sees 0, 1, 2 and b sees 0, 1 in between; each matches the clip on its own.
  auto a = c.enc.make_scratch(), b = c.enc.make_scratch();
  c.encode(0, a);
  c.encode(0, b);
  c.encode(1, a);
  EXPECT_LE(rel_err(c.encode(1, b).data(), c.ref("embeddings", 1)), 1e-4);
  EXPECT_LE(rel_err(c.encode(2, a).data(), c.ref("embeddings", 2)), 1e-4);
}

TEST(VisionMotion, MissingMotionTensorIsNamed) {
  // The still-image test model's tensors under a motion config: the error names the missing tensor.
  llm::SafeTensors st(std::string(YOCO_TEST_DATA) + "/vision/model.safetensors");
  std::ifstream f(std::string(YOCO_TEST_DATA) + "/vision/config.json");
  auto vision = nlohmann::json::parse(f)["vision"];
  vision["motion"] = true;
  try {
    VisionEncoder enc(vision, st);
    FAIL() << "loaded a motion encoder without vision.motion_embed.weight";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("vision.motion_embed.weight"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace yoco::vision
