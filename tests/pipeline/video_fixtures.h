// Test videos generated at test time with the ffmpeg CLI into a temporary folder (no network, no big files).
//
// "Indexed" videos carry their own frame number: a 4 x 4 grid of black/white blocks holds the 16 bits of the
// frame index (bit b at block column b % 4, row b / 4), written by the `geq` filter from its frame counter N,
// so a decoded frame can be identified from its pixels whatever the codec does to timestamps.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "pipeline/frame.h"

namespace yoco::test {

inline std::string run_capture(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

inline bool run_ok(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

inline const std::filesystem::path& video_dir() {
  static const std::filesystem::path dir = [] {
    std::string tmpl = (std::filesystem::temp_directory_path() / "yoco-pipe-XXXXXX").string();
    char* made = mkdtemp(tmpl.data());
    if (!made) std::abort();
    return std::filesystem::path(made);
  }();
  return dir;
}

// Removes the temporary folder at exit.
struct VideoDirCleanup {
  VideoDirCleanup() { (void)video_dir(); }  // constructed first, so destroyed after this
  ~VideoDirCleanup() {
    std::error_code ec;
    std::filesystem::remove_all(video_dir(), ec);
  }
};

// lavfi source that draws the frame index as blocks: 96 x 64 pixels, blocks 24 x 16.
inline std::string indexed_lavfi(double rate, double seconds, const std::string& size = "96x64") {
  char buf[512];
  std::snprintf(buf, sizeof(buf),
                "color=c=black:s=%s:r=%g:d=%g,format=gray,"
                "geq=lum='16+219*mod(floor(N/pow(2\\,floor(X*4/W)+4*floor(Y*4/H)))\\,2)'",
                size.c_str(), rate, seconds);
  return buf;
}

// Generates (once per name) a video and returns its path; `out_args` go after the input (codec, flags).
inline std::string make_video(const std::string& name, const std::string& lavfi, const std::string& out_args) {
  const auto path = video_dir() / name;
  if (!std::filesystem::exists(path)) {
    const std::string cmd = "ffmpeg -nostdin -v error -y -f lavfi -i \"" + lavfi + "\" " + out_args + " \"" +
                            path.string() + "\"";
    EXPECT_TRUE(run_ok(cmd)) << cmd;
  }
  return path.string();
}

inline std::string indexed_video(const std::string& name, double rate, double seconds, const std::string& out_args) {
  return make_video(name, indexed_lavfi(rate, seconds), out_args);
}

// Reads the frame index back from an indexed frame (any size: blocks are found proportionally).
inline int read_index(const pipeline::Frame& f) {
  int v = 0;
  for (int b = 0; b < 16; ++b) {
    const int bx = b % 4, by = b / 4;
    const int x = (2 * bx + 1) * f.width / 8, y = (2 * by + 1) * f.height / 8;
    const uint8_t* p = f.row(y) + x * 3;
    if ((p[0] + p[1] + p[2]) / 3 > 128) v |= 1 << b;
  }
  return v;
}

// Presentation times (seconds, relative to the first frame) that ffprobe reports for the video stream.
inline std::vector<double> ffprobe_pts(const std::string& path) {
  const std::string out = run_capture("ffprobe -v error -select_streams v:0 -show_entries frame=best_effort_timestamp_time "
                                      "-of csv=p=0 \"" + path + "\"");
  std::vector<double> pts;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t end = out.find('\n', pos);
    if (end == std::string::npos) end = out.size();
    std::string line = out.substr(pos, end - pos);
    if (!line.empty() && line.back() == ',') line.pop_back();
    if (!line.empty() && line != "N/A") pts.push_back(std::atof(line.c_str()));
    pos = end + 1;
  }
  for (size_t i = 1; i < pts.size(); ++i) pts[i] -= pts[0];
  if (!pts.empty()) pts[0] = 0;
  return pts;
}

inline std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

inline void write_file_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace yoco::test
