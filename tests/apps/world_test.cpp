// yoco world: determinism, the MP4 through the pipeline's decoder, pixels where the truth says objects are,
// canonical answers, recounts, the needle options and one-line errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/apps/run_yoco.h"

#include "apps/world/world_qa.h"
#include "apps/world/world_render.h"
#include "apps/world/world_scenario.h"
#include "pipeline/ffmpeg_source.h"

namespace {

namespace fs = std::filesystem;
namespace w = yoco::world;
using nlohmann::json;

using Result = yoco::test::CommandResult;
Result run(const std::string& args) { return yoco::test::run_yoco(args); }

std::string tmp(const std::string& name) {
  return (fs::temp_directory_path() / ("yoco-world-" + std::to_string(::getpid()) + "-" + name)).string();
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string truth_of(const w::WorldOptions& o) {
  const auto sc = w::make_scenario(o);
  return w::truth_json(sc, w::make_qa(sc)).dump();
}

w::WorldOptions opts(uint64_t seed, double seconds) {
  w::WorldOptions o;
  o.seed = seed;
  o.seconds = seconds;
  return o;
}

struct Decoded {
  int width = 0, height = 0;
  std::vector<double> pts;
  std::vector<std::vector<uint8_t>> rgb;
};

Decoded decode(const std::string& path) {
  yoco::pipeline::FfmpegSource src(path);
  Decoded d;
  yoco::pipeline::Frame f;
  while (src.read(f)) {
    d.width = f.width;
    d.height = f.height;
    d.pts.push_back(f.pts);
    d.rgb.emplace_back(f.pixels.data(), f.pixels.data() + f.bytes());
  }
  return d;
}

TEST(World, SameSeedSameTruthDifferentSeedDifferentTruth) {
  EXPECT_EQ(truth_of(opts(7, 40)), truth_of(opts(7, 40)));
  EXPECT_NE(truth_of(opts(7, 40)), truth_of(opts(8, 40)));
  // Same seed, same rendered pixels.
  const auto sc = w::make_scenario(opts(7, 6));
  const w::WorldRenderer r1(sc), r2(sc);
  std::vector<uint8_t> a(128 * 128 * 3), b(a.size());
  for (int64_t k = 0; k < sc.n_frames; ++k) {
    r1.render(k, a.data());
    r2.render(k, b.data());
    ASSERT_EQ(a, b) << "frame " << k;
  }
}

TEST(World, ScenarioKeepsItsPromises) {
  for (uint64_t seed = 0; seed < 40; ++seed) {
    const auto sc = w::make_scenario(opts(seed, 60));
    for (const auto& e : sc.events) ASSERT_EQ(e.t, std::floor(e.t)) << "events start on whole seconds";
    for (const auto& ob : sc.objects) {
      EXPECT_GE(ob.leave - ob.enter, w::kMinVisible);
      const w::Rect r = ob.swept();  // includes a 2 px margin
      EXPECT_GE(r.x0 + 2, 0);
      EXPECT_GE(r.y0 + 2, 0);
      EXPECT_LE(r.x1 - 2, 128);
      EXPECT_LE(r.y1 - 2, 128);
    }
    for (double t = 0; t < 60; t += 0.25) {
      int n = 0;
      for (const auto& ob : sc.objects) n += ob.visible(t);
      ASSERT_LE(n, w::kMaxObjects);
    }
  }
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : "|") + x;
  return s;
}

TEST(World, EveryAnswerIsCanonical) {
  std::vector<std::string> colours(w::kColourNames.begin(), w::kColourNames.end());
  std::vector<std::string> shapes(w::kShapeNames.begin(), w::kShapeNames.end());
  std::vector<std::string> dirs(w::kDirectionNames.begin(), w::kDirectionNames.end());
  const std::string C = "(" + join(colours) + ")", S = "(" + join(shapes) + ")", D = "(" + join(dirs) + ")";
  const std::string obj = C + " " + S, mmss = "[0-9]{2}:[0-9]{2}";
  const std::string item = mmss + " (" + obj + " enters moving " + D + "|" + obj + " leaves|code [0-9]+|" +
                           "yellow code [0-9]+|flash)";
  const std::map<std::string, std::regex> forms = {
      {"count", std::regex("[0-9]+")},
      {"times", std::regex("[0-9]+")},
      {"now", std::regex("nothing|" + obj + "(, " + obj + ")*")},
      {"colour", std::regex(C)},
      {"shape", std::regex(S)},
      {"direction", std::regex(D)},
      {"first", std::regex(C + "|" + S + "|" + obj)},
      {"last", std::regex(C + "|" + obj)},
      {"when", std::regex(mmss)},
      {"code", std::regex("[0-9]{3,6}|no code was shown")},
      {"needle", std::regex("[0-9]{3,6}|no code was shown")},
      {"summary", std::regex("nothing happened|" + item + "(; " + item + ")*")},
  };
  std::map<std::string, int> per_type;
  for (uint64_t seed = 0; seed < 30; ++seed) {
    w::WorldOptions o = opts(seed, 60);
    if (seed % 3 == 1) o.needle_code = "4821", o.distractors = 2;
    if (seed % 3 == 2) o.no_code = true, o.distractors = 1;
    const auto sc = w::make_scenario(o);
    for (const auto& q : w::make_qa(sc)) {
      ASSERT_TRUE(forms.count(q.type)) << q.type;
      EXPECT_TRUE(std::regex_match(q.answer, forms.at(q.type))) << q.type << ": " << q.question << " -> '"
                                                                 << q.answer << "'";
      EXPECT_EQ(q.at, std::floor(q.at));
      EXPECT_LE(q.at, sc.last_pts());
      ++per_type[q.type];
    }
  }
  for (const auto& [type, re] : forms) EXPECT_GT(per_type[type], 0) << "no question of type " << type;
}

// "how many" answers recounted from the truth's event log alone.
TEST(World, CountsMatchARecountFromTheEventLog) {
  int checked = 0;
  for (uint64_t seed = 100; seed < 120; ++seed) {
    const auto sc = w::make_scenario(opts(seed, 60));
    const json j = json::parse(w::truth_json(sc, w::make_qa(sc)).dump());
    for (const auto& q : j["qa"]) {
      if (q["type"] != "count") continue;
      const double at = q["at"];
      const std::string text = q["question"];
      std::string colour, shape;
      for (const char* c : w::kColourNames)
        if (text.find(std::string(" ") + c + " ") != std::string::npos) colour = c;
      for (const char* s : w::kShapeNames)
        if (text.find(std::string(" ") + s + "s ") != std::string::npos) shape = s;
      std::map<int, bool> on;
      for (const auto& e : j["events"]) {
        if (e["at"].get<double>() > at) break;
        if (e["type"] == "enter" && (colour.empty() || e["colour"] == colour) && (shape.empty() || e["shape"] == shape))
          on[e["id"]] = true;
        if (e["type"] == "leave") on.erase(e["id"].get<int>());
      }
      EXPECT_EQ(q["answer"].get<std::string>(), std::to_string(on.size())) << text << " at " << at;
      ++checked;
    }
  }
  EXPECT_GT(checked, 50);
}

TEST(World, NeedleOptionsGiveExactlyOneNeedle) {
  w::WorldOptions o = opts(5, 40);
  o.needle_code = "4821";
  o.needle_at = 12;
  o.distractors = 4;
  const auto sc = w::make_scenario(o);
  int boxed = 0, distractors = 0;
  for (const auto& c : sc.codes) {
    if (c.boxed) {
      ++boxed;
      EXPECT_EQ(c.digits, "4821");
      EXPECT_EQ(c.start, 12);
    } else {
      ++distractors;
      ASSERT_EQ(c.digits.size(), 4u);
      int diff = 0;
      for (size_t i = 0; i < 4; ++i) diff += c.digits[i] != "4821"[i];
      EXPECT_EQ(diff, 1) << c.digits;
    }
  }
  EXPECT_EQ(boxed, 1);
  EXPECT_EQ(distractors, 4);
  int needles = 0;
  for (const auto& q : w::make_qa(sc)) {
    if (q.type != "needle") continue;
    ++needles;
    EXPECT_EQ(q.answer, "4821");
    EXPECT_EQ(q.question, "what code was shown in the white box?");
  }
  EXPECT_EQ(needles, 1);

  o.no_code = true;
  const auto ctrl = w::make_scenario(o);
  for (const auto& c : ctrl.codes) EXPECT_FALSE(c.boxed);
  EXPECT_EQ(ctrl.codes.size(), 4u);
  for (const auto& q : w::make_qa(ctrl)) {
    if (q.type == "needle") {
      EXPECT_EQ(q.answer, "no code was shown");
    }
  }
}

// The CLI end to end: the MP4 decodes through pipeline/FfmpegSource with the expected frames, the same seed
// gives the same truth and decoded frames, and colours are where the truth says objects are.
TEST(World, CliVideoDecodesAndShowsTheTruth) {
  const std::string v1 = tmp("a.mp4"), t1 = tmp("a.json"), v2 = tmp("b.mp4"), t2 = tmp("b.json");
  const std::string common = " --seconds 8 --seed 11";
  Result r = run("world" + common + " --out " + v1 + " --truth " + t1);
  ASSERT_EQ(r.rc, 0) << r.out;
  const json info = json::parse(r.out);
  EXPECT_EQ(info["frames"], 32);
  r = run("world" + common + " --out " + v2 + " --truth " + t2);
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(slurp(t1), slurp(t2));
  const json truth = json::parse(slurp(t1));
  ASSERT_TRUE(truth.contains("events") && truth.contains("qa"));

  const Decoded a = decode(v1), b = decode(v2);
  ASSERT_EQ(a.rgb.size(), 32u);
  EXPECT_EQ(a.width, 128);
  EXPECT_EQ(a.height, 128);
  for (size_t k = 0; k < a.pts.size(); ++k) EXPECT_NEAR(a.pts[k], k / 4.0, 1e-3);
  ASSERT_EQ(a.rgb.size(), b.rgb.size());
  for (size_t k = 0; k < a.rgb.size(); ++k) ASSERT_EQ(a.rgb[k], b.rgb[k]) << "frame " << k;

  std::vector<std::pair<double, double>> flashes;
  for (const auto& e : truth["events"])
    if (e["type"] == "flash") flashes.emplace_back(e["at"], e["until"]);
  int sampled = 0;
  for (size_t k = 0; k < a.rgb.size(); ++k) {
    const double t = k / 4.0;
    bool flash = false;
    for (auto [s, e] : flashes) flash = flash || (s <= t && t < e);
    if (flash) continue;
    for (const auto& ob : truth["objects"]) {
      if (!(ob["enter"].get<double>() <= t && t < ob["leave"].get<double>())) continue;
      const double x = ob["x"].get<double>() + ob["vx"].get<double>() * (t - ob["enter"].get<double>());
      const double y = ob["y"].get<double>() + ob["vy"].get<double>() * (t - ob["enter"].get<double>());
      int ci = 0;
      while (w::kColourNames[ci] != ob["colour"].get<std::string>()) ++ci;
      for (int ch = 0; ch < 3; ++ch) {
        double sum = 0;
        for (int dy = -1; dy <= 1; ++dy)
          for (int dx = -1; dx <= 1; ++dx) {
            const int px = static_cast<int>(std::lround(x)) + dx, py = static_cast<int>(std::lround(y)) + dy;
            sum += a.rgb[k][(static_cast<size_t>(py) * 128 + px) * 3 + ch];
          }
        EXPECT_NEAR(sum / 9.0, w::kColourRgb[ci][ch], 40.0)
            << "frame " << k << " " << ob["colour"] << " " << ob["shape"] << " channel " << ch;
      }
      ++sampled;
    }
  }
  EXPECT_GT(sampled, 10);
  for (const auto& p : {v1, t1, v2, t2}) fs::remove(p);
}

TEST(World, CliNeedleAndBadArgumentsAreOneLineErrors) {
  const std::string v = tmp("n.mp4"), t = tmp("n.json");
  Result r = run("world --seconds 10 --seed 2 --needle-code 907 --needle-at 3 --distractors 1 --out " + v +
                 " --truth " + t);
  ASSERT_EQ(r.rc, 0) << r.out;
  const json truth = json::parse(slurp(t));
  EXPECT_EQ(truth["needle"]["code"], "907");
  EXPECT_EQ(truth["needle"]["at"], 3.0);
  int needles = 0;
  for (const auto& q : truth["qa"]) needles += q["type"] == "needle" && q["answer"] == "907";
  EXPECT_EQ(needles, 1);
  const Decoded d = decode(v);
  EXPECT_EQ(d.rgb.size(), 40u);

  for (const char* bad : {"--seconds -5", "--seconds 0", "--size 100000x100000", "--size 128", "--size 127x128",
                                "--fps 0", "--seed -1", "--needle-code 12a4", "--distractors 3"}) {
    r = run(std::string("world ") + bad + " --out " + v + " --truth " + t);
    EXPECT_NE(r.rc, 0) << bad;
    EXPECT_NE(r.out.find("error"), std::string::npos) << bad << ": " << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << bad << ": " << r.out;
  }
  for (const std::string& bad : {"--out /nonexistent-dir/x.mp4 --truth " + t, "--out " + v +
                                " --truth /nonexistent-dir/x.json"}) {
    r = run("world --seconds 2 " + bad);
    EXPECT_NE(r.rc, 0) << bad;
    EXPECT_NE(r.out.find("cannot write"), std::string::npos) << bad << ": " << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << bad << ": " << r.out;
  }
  fs::remove(v);
  fs::remove(t);
}

}  // namespace
