// Bad input never crashes or hangs: each case is a clear yoco::Error or counted, skipped frames.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "kernels/error.h"
#include "pipeline/ffmpeg_source.h"
#include "pipeline/open_source.h"
#include "tests/pipeline/video_fixtures.h"

namespace yoco::pipeline {
namespace {

static test::VideoDirCleanup cleanup;

std::string error_of(const std::string& url, SourceOptions opts = {}) {
  try {
    FfmpegSource src(url, opts);
    Frame f;
    while (src.read(f)) {
    }
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Reads a source to its end; returns frames delivered (errors are caught and reported through `error`).
int drain(const std::string& path, std::string* error, SourceStats* stats = nullptr) {
  int n = 0;
  try {
    FfmpegSource src(path);
    Frame f;
    while (src.read(f)) {
      EXPECT_GT(f.width, 0);
      ++n;
    }
    if (stats) *stats = src.stats();
  } catch (const Error& e) {
    *error = e.what();
  }
  return n;
}

std::string write_bytes(const std::string& name, const std::vector<uint8_t>& bytes) {
  const auto path = (test::video_dir() / name).string();
  test::write_file_bytes(path, bytes);
  return path;
}

TEST(BadInput, ZeroByteFile) {
  const auto e = error_of(write_bytes("zero.mp4", {}));
  EXPECT_NE(e.find("cannot open"), std::string::npos) << e;
}

TEST(BadInput, MissingFile) {
  const auto e = error_of("/nonexistent/clip.mp4");
  EXPECT_NE(e.find("No such file"), std::string::npos) << e;
}

TEST(BadInput, NonVideoFiles) {
  const std::string text = "this is not a video\n";
  EXPECT_NE(error_of(write_bytes("text.mp4", {text.begin(), text.end()})), "");
  const auto wav = test::make_video("tone.wav", "sine=frequency=440:duration=0.5", "");
  const auto e = error_of(wav);
  EXPECT_NE(e.find("no video stream"), std::string::npos) << e;
}

TEST(BadInput, TruncatedFiles) {
  // mp4 with the index at the end: cut in half, the index is gone -> error at open.
  const auto mp4 = test::indexed_video("trunc_src.mp4", 25, 2, "-c:v libx264 -preset ultrafast");
  auto bytes = test::read_file_bytes(mp4);
  std::string err;
  const int n_mp4 = drain(write_bytes("trunc.mp4", {bytes.begin(), bytes.begin() + bytes.size() / 2}), &err);
  EXPECT_TRUE(n_mp4 == 0 || err.empty());
  // mp4 with the index first, and MPEG-TS: the first part still decodes, then the stream ends.
  for (const char* name : {"trunc_fs.mp4", "trunc.ts"}) {
    const auto src = test::indexed_video(std::string("src_") + name, 25, 2,
                                         std::string("-c:v libx264 -preset ultrafast") +
                                             (std::string(name).find("mp4") != std::string::npos ? " -movflags +faststart" : ""));
    bytes = test::read_file_bytes(src);
    err.clear();
    const int n = drain(write_bytes(name, {bytes.begin(), bytes.begin() + bytes.size() * 6 / 10}), &err);
    EXPECT_EQ(err, "") << name;
    EXPECT_GT(n, 5) << name;
    EXPECT_LT(n, 50) << name;
  }
}

TEST(BadInput, BitFlippedFilesNeverCrash) {
  std::mt19937 rng(1234);
  for (const char* ext : {"mp4", "mkv", "ts", "avi"}) {
    const auto src = test::indexed_video(std::string("flip_src.") + ext, 25, 2,
                                         std::string("-c:v ") + (std::string(ext) == "avi" ? "mpeg4" : "libx264 -preset ultrafast"));
    const auto clean = test::read_file_bytes(src);
    for (int trial = 0; trial < 6; ++trial) {
      auto bytes = clean;
      const int flips = 1 + trial * 20;
      for (int i = 0; i < flips; ++i) {
        std::uniform_int_distribution<size_t> pos(trial < 3 ? bytes.size() / 4 : 0, bytes.size() - 1);
        bytes[pos(rng)] ^= static_cast<uint8_t>(1u << (rng() % 8));
      }
      std::string err;
      SourceStats stats;
      const auto path = write_bytes(std::string("flip.") + ext, bytes);
      const auto t0 = std::chrono::steady_clock::now();
      const int n = drain(path, &err, &stats);
      EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 10.0);
      EXPECT_LE(n, 60) << ext << " trial " << trial;
      if (err.empty()) {
        EXPECT_EQ(stats.produced, n);
      }
    }
  }
}

TEST(BadInput, UnsupportedCodec) {
  // An AVI whose codec tag names a codec FFmpeg does not know.
  const auto avi = test::indexed_video("codec_src.avi", 10, 1, "-c:v mpeg4 -vtag XVID");
  auto bytes = test::read_file_bytes(avi);
  int patched = 0;
  for (size_t i = 0; i + 4 <= bytes.size(); ++i) {
    if (std::equal(bytes.begin() + i, bytes.begin() + i + 4, "XVID") ||
        std::equal(bytes.begin() + i, bytes.begin() + i + 4, "FMP4")) {
      std::copy_n("QQQQ", 4, bytes.begin() + i);
      ++patched;
    }
  }
  ASSERT_GT(patched, 0);
  const auto e = error_of(write_bytes("unknown_codec.avi", bytes));
  EXPECT_NE(e.find("unsupported video codec"), std::string::npos) << e;
}

TEST(BadInput, EightKFrames) {
  const auto path = test::make_video("8k.mp4", "color=c=gray:s=7680x4320:r=1:d=1",
                                     "-c:v libx264 -preset ultrafast -pix_fmt yuv420p");
  FfmpegSource src(path);
  Frame f;
  ASSERT_TRUE(src.read(f));
  EXPECT_EQ(f.width, 7680);
  EXPECT_EQ(f.height, 4320);
  EXPECT_NEAR(f.pixels.data()[f.bytes() / 2], 128, 3);
  EXPECT_FALSE(src.read(f));
}

TEST(BadInput, RtspToAClosedPortFailsFast) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto e = error_of("rtsp://127.0.0.1:9/none");
  EXPECT_NE(e, "");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0);
}

TEST(BadInput, SilentServerTimesOut) {
  // A listening socket that never answers: the open must give up after open_timeout, not hang.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  SourceOptions opts;
  opts.open_timeout = opts.read_timeout = 1.0;
  for (const std::string scheme : {"rtsp", "http"}) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto e = error_of(scheme + "://127.0.0.1:" + std::to_string(port) + "/stream", opts);
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_NE(e, "") << scheme;
    EXPECT_LT(took, 4.0) << scheme;
  }
  close(fd);
}

TEST(BadInput, CameraThatIsNotThere) {
  const auto t0 = std::chrono::steady_clock::now();
  try {
    auto src = open_source(parse_source_spec("/dev/video63"), SourceOptions{.open_timeout = 2, .read_timeout = 2});
    Frame f;
    src->read(f);
    ADD_FAILURE() << "a missing camera delivered a frame";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()), "");
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 10.0);
}

}  // namespace
}  // namespace yoco::pipeline
