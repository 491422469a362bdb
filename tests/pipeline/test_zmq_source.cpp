// ZeroMQ frames over ipc and tcp loopback: pixels, pts, stream filtering, JPEG payloads, malformed messages.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <zmq.hpp>

#include "kernels/error.h"
#include "pipeline/frame_message.h"
#include "pipeline/open_source.h"
#include "pipeline/zmq_source.h"
#include "tests/pipeline/video_fixtures.h"

namespace yoco::pipeline {
namespace {

static test::VideoDirCleanup cleanup;

// Publishes frames until stopped: frame i has every byte == i % 251 and pts 10 + i / 20 (a non-zero origin).
// Every third message is preceded by a malformed one.
class Publisher {
 public:
  Publisher(const std::string& endpoint, bool bind, FramePayloadFormat fmt = FramePayloadFormat::kRgb24,
            std::string jpeg = "")
      : sock_(ctx_, zmq::socket_type::pub) {
    sock_.set(zmq::sockopt::linger, 0);
    if (bind) sock_.bind(endpoint);
    else sock_.connect(endpoint);
    thread_ = std::thread([this, fmt, jpeg] {
      for (int i = 0; !stop_ && i < 100000; ++i) {
        FrameMessageHeader h;
        h.stream = i % 2 ? "odd" : "even";
        h.pts = 10 + i / 20.0;
        h.width = 32;
        h.height = 16;
        h.format = fmt;
        h.index = i;
        std::string payload = fmt == FramePayloadFormat::kJpeg ? jpeg : std::string(32 * 16 * 3, char(i % 251));
        if (fmt == FramePayloadFormat::kGray8) payload.resize(32 * 16);
        if (i % 3 == 0) {
          std::string bad = R"({"pts": "soon", "width": 32})";
          sock_.send(zmq::buffer(bad), zmq::send_flags::sndmore);
          sock_.send(zmq::buffer(payload), zmq::send_flags::none);
          sock_.send(zmq::str_buffer("one part only"), zmq::send_flags::none);
        }
        const std::string header = encode_frame_header(h);
        sock_.send(zmq::buffer(header), zmq::send_flags::sndmore);
        sock_.send(zmq::buffer(payload), zmq::send_flags::none);
        std::this_thread::sleep_for(std::chrono::milliseconds(3));
      }
    });
  }
  ~Publisher() {
    stop_ = true;
    thread_.join();
  }

 private:
  zmq::context_t ctx_{1};
  zmq::socket_t sock_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

void expect_frames(FrameSource& src, bool odd_only) {
  Frame f;
  int prev = -1;
  double prev_pts = -1;
  for (int n = 0; n < 10; ++n) {
    ASSERT_TRUE(src.read(f));
    EXPECT_EQ(f.width, 32);
    EXPECT_EQ(f.height, 16);
    const int v = f.pixels.data()[0];
    for (size_t i = 0; i < f.bytes(); ++i) ASSERT_EQ(f.pixels.data()[i], v);
    if (odd_only) {
      EXPECT_EQ(v % 2, 1);
    }
    if (prev >= 0) {
      const int step = (v - prev + 251) % 251;
      EXPECT_NEAR(f.pts - prev_pts, step / 20.0, 1e-6);  // relative pts follow the header's
    } else {
      EXPECT_EQ(f.pts, 0.0);
    }
    prev = v;
    prev_pts = f.pts;
  }
  EXPECT_GT(src.stats().corrupt, 0);
}

TEST(ZmqSource, IpcLoopbackWithMalformedMessages) {
  const std::string ep = "ipc://" + (test::video_dir() / "frames.sock").string();
  Publisher pub(ep, /*bind=*/true);
  ZmqSource src(ep, "", SourceOptions{.open_timeout = 5, .read_timeout = 5});
  expect_frames(src, false);
}

TEST(ZmqSource, TcpLoopbackBindingSourceAndStreamFilter) {
  const std::string port = std::to_string(20000 + getpid() % 20000);
  auto src = open_source(parse_source_spec("zmq:@tcp://127.0.0.1:" + port + "#odd"),
                         SourceOptions{.open_timeout = 5, .read_timeout = 5});
  Publisher pub("tcp://127.0.0.1:" + port, /*bind=*/false);
  expect_frames(*src, true);
}

TEST(ZmqSource, JpegAndGrayPayloads) {
  const auto jpg = (test::video_dir() / "f.jpg").string();
  ASSERT_TRUE(test::run_ok("ffmpeg -nostdin -v error -y -f lavfi -i color=c=0x808080:s=32x16 -frames:v 1 " + jpg));
  const auto bytes = test::read_file_bytes(jpg);
  const std::string ep = "ipc://" + (test::video_dir() / "jpeg.sock").string();
  {
    Publisher pub(ep, true, FramePayloadFormat::kJpeg, std::string(bytes.begin(), bytes.end()));
    ZmqSource src(ep, "", SourceOptions{.read_timeout = 5});
    Frame f;
    ASSERT_TRUE(src.read(f));
    EXPECT_NEAR(f.pixels.data()[f.bytes() / 2], 128, 4);
  }
  const std::string ep2 = "ipc://" + (test::video_dir() / "gray.sock").string();
  Publisher pub(ep2, true, FramePayloadFormat::kGray8);
  ZmqSource src(ep2, "", SourceOptions{.read_timeout = 5});
  Frame f;
  ASSERT_TRUE(src.read(f));
  EXPECT_EQ(f.pixels.data()[0], f.pixels.data()[1]);
}

TEST(ZmqSource, NothingPublishedTimesOut) {
  const std::string ep = "ipc://" + (test::video_dir() / "silent.sock").string();
  ZmqSource src(ep, "", SourceOptions{.read_timeout = 0.5});
  Frame f;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(src.read(f), Error);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 3.0);
  EXPECT_THROW(ZmqSource("bogus://nowhere"), Error);
}

TEST(FrameMessage, ParserRejectsBadHeaders) {
  const auto ok = encode_frame_header({"s", 1.5, 4, 2, FramePayloadFormat::kRgb24, 0, 3});
  const auto h = parse_frame_message(ok.data(), ok.size(), 4 * 2 * 3);
  EXPECT_EQ(h.stream, "s");
  EXPECT_EQ(h.width, 4);
  EXPECT_EQ(h.stride, 12);
  EXPECT_EQ(h.index, 3);
  const std::string bad[] = {
      "", "[]", "{", R"({"pts":1,"width":4,"height":2})", R"({"pts":1,"width":0,"height":2,"format":"rgb24"})",
      R"({"pts":1,"width":9000,"height":2,"format":"rgb24"})", R"({"pts":"x","width":4,"height":2,"format":"rgb24"})",
      R"({"pts":1,"width":4,"height":2,"format":"yuv"})", R"({"pts":1,"width":4.5,"height":2,"format":"rgb24"})",
      R"({"pts":1,"width":4,"height":2,"format":"rgb24","stride":3})",
      R"({"pts":1,"width":4,"height":2,"format":"rgb24","index":-2})", std::string(5000, ' ')};
  for (const auto& b : bad) EXPECT_THROW(parse_frame_message(b.data(), b.size(), 24), Error) << b;
  EXPECT_THROW(parse_frame_message(ok.data(), ok.size(), 23), Error);  // payload size
  const std::string strided = R"({"pts":1,"width":4,"height":2,"format":"gray8","stride":8})";
  EXPECT_NO_THROW(parse_frame_message(strided.data(), strided.size(), 12));  // last row unpadded
  EXPECT_NO_THROW(parse_frame_message(strided.data(), strided.size(), 16));
}

}  // namespace
}  // namespace yoco::pipeline
