// The bus publisher of `yoco bench soak`: a child process (`yoco bench soak --publish ENDPOINT ...`) that
// sends synthetic frames to the service's --frames endpoint in the frame message format of
// pipeline/frame_message.h, so that the soak can SIGKILL it and start it again.
//
// Accounting (what "no acknowledged frame is lost" means for the bus, docs/RELIABILITY.md):
// - Every frame carries `index`, a counter kept in a file shared by every incarnation of one stream's
//   publisher. The counter is advanced *before* the frame is sent, so after any number of SIGKILLs the file
//   holds N = the number of indices ever handed out, and each index < N was either sent or (killed between
//   the write and the send) never sent, which the receiving ZmqSource sees as a gap and counts as dropped.
// - The socket is an XPUB that connects: it sends nothing until a subscription has come back from the service
//   (the stream's subscriber reached through the service's XSUB proxy), so ZeroMQ's slow-joiner loss cannot
//   eat the first frame, the one gaps are measured from.
// - Every `kBurstEvery` seconds it sends `kBurstFrames` frames back to back, more than the high-water marks
//   between it and the stream hold, so that frames are really dropped (and must be counted) during the run.
// - On SIGTERM it sends `kTailFrames` more frames slowly, so that a frame lost to a high-water mark just
//   before the end is followed by one that reveals the gap.
// Hence, for a stream that ingested all along: frames ingested + frames_dropped == N exactly.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "pipeline/frame_message.h"

namespace yoco::app::soak {

constexpr int kTailFrames = 4;
constexpr double kBurstEvery = 5.0;
constexpr int kBurstFrames = 60;

inline std::atomic<bool>& publisher_stop_flag() {
  static std::atomic<bool> stop{false};
  return stop;
}
extern "C" inline void soak_publisher_on_term(int) { publisher_stop_flag() = true; }

// The counter file: one int64 at offset 0 (0 when the file is empty).
inline int64_t read_counter(int fd) {
  int64_t v = 0;
  return pread(fd, &v, sizeof(v), 0) == static_cast<ssize_t>(sizeof(v)) ? v : 0;
}
inline int64_t read_counter_file(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return 0;
  const int64_t v = read_counter(fd);
  close(fd);
  return v;
}

// A frame that differs from the previous one (a moving bar), so nothing downstream can treat it as a repeat.
inline void fill_soak_frame(std::vector<uint8_t>& rgb, int w, int h, int64_t i) {
  rgb.resize(static_cast<size_t>(w) * h * 3);
  const int bar = static_cast<int>((i * 5) % w);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = rgb.data() + (static_cast<size_t>(y) * w + x) * 3;
      const bool on = x >= bar && x < bar + w / 8;
      p[0] = static_cast<uint8_t>(on ? 250 : (x * 4 + i) & 255);
      p[1] = static_cast<uint8_t>(on ? 30 : y * 5);
      p[2] = static_cast<uint8_t>((i * 11) & 255);
    }
}

// Runs the publisher until SIGTERM; returns the process exit code (0: stopped by SIGTERM, 3: no subscriber
// within 30 s, 4: counter file unusable).
inline int run_publisher(const std::string& endpoint, const std::string& stream, double fps, int w, int h,
                         const std::string& counter_path) {
  signal(SIGTERM, soak_publisher_on_term);
  signal(SIGINT, soak_publisher_on_term);
  const int fd = open(counter_path.c_str(), O_RDWR | O_CREAT, 0600);
  if (fd < 0) return 4;
  zmq::context_t ctx;
  zmq::socket_t sock(ctx, zmq::socket_type::xpub);
  sock.set(zmq::sockopt::linger, 2000);
  sock.connect(endpoint);
  // Wait for the service's subscription (a message starting with byte 1).
  bool subscribed = false;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!subscribed && !publisher_stop_flag() && std::chrono::steady_clock::now() < give_up) {
    zmq::message_t m;
    if (sock.recv(m, zmq::recv_flags::dontwait)) {
      subscribed = m.size() >= 1 && static_cast<const uint8_t*>(m.data())[0] == 1;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  if (!subscribed) {
    close(fd);
    return publisher_stop_flag() ? 0 : 3;
  }
  std::vector<uint8_t> rgb;
  auto send_one = [&] {
    const int64_t i = read_counter(fd);
    const int64_t next = i + 1;
    if (pwrite(fd, &next, sizeof(next), 0) != static_cast<ssize_t>(sizeof(next))) return false;
    pipeline::FrameMessageHeader hdr;
    hdr.stream = stream;
    hdr.pts = static_cast<double>(i) / fps;
    hdr.width = w;
    hdr.height = h;
    hdr.format = pipeline::FramePayloadFormat::kRgb24;
    hdr.index = i;
    fill_soak_frame(rgb, w, h, i);
    const std::string header = pipeline::encode_frame_header(hdr);
    sock.send(zmq::buffer(header), zmq::send_flags::sndmore);
    sock.send(zmq::buffer(rgb), zmq::send_flags::none);
    return true;
  };
  const auto period = std::chrono::duration<double>(1.0 / fps);
  auto next_at = std::chrono::steady_clock::now();
  auto burst_at = next_at + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                std::chrono::duration<double>(kBurstEvery));
  while (!publisher_stop_flag()) {
    if (!send_one()) break;
    if (std::chrono::steady_clock::now() >= burst_at) {
      for (int k = 0; k < kBurstFrames; ++k) send_one();
      burst_at += std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::duration<double>(kBurstEvery));
    }
    next_at += std::chrono::duration_cast<std::chrono::steady_clock::duration>(period);
    std::this_thread::sleep_until(next_at);
  }
  for (int k = 0; k < kTailFrames; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    send_one();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  close(fd);
  return 0;
}

}  // namespace yoco::app::soak
