// Shared by the runtime tests: the tiny random model of tests/data/runtime (byte tokenizer + vision block,
// written by tools/runtime/make_test_model.py), test videos, and a direct Session computation of the stream
// sequence (docs/STREAM-FORMAT.md) that the runtime's answers must equal token for token.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "llm/model.h"
#include "llm/session.h"
#include "llm/tokenizer.h"
#include "pipeline/frame_capture.h"
#include "pipeline/open_source.h"
#include "pipeline/source_spec.h"
#include "pipeline/stream_format.h"
#include "tests/pipeline/video_fixtures.h"
#include "vision/encoder.h"

namespace yoco::test {

// A loopback TCP port that is free now (the OS picks it: bind to port 0). Fixed ports derived from the pid
// collided with ephemeral ports of other tests running in parallel.
inline int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  int port = 0;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  if (fd >= 0) ::close(fd);
  return port;
}

inline std::string runtime_model_dir() { return std::string(YOCO_TEST_DATA) + "/runtime"; }

inline std::shared_ptr<const llm::Model> runtime_model() {
  static std::shared_ptr<const llm::Model> m = llm::Model::load(runtime_model_dir());
  return m;
}

// A 64x48 testsrc clip of `seconds` at 10 fps (H.264, keyframe every 10 frames).
inline std::string test_clip(double seconds) {
  const std::string name = "clip" + std::to_string(static_cast<int>(seconds * 10)) + ".mp4";
  return make_video(name, "testsrc=size=64x48:rate=10:duration=" + std::to_string(seconds),
                    "-c:v libx264 -g 10 -pix_fmt yuv420p");
}

// The vision rows of every frame the sampler keeps from `path` at `fps`, with their pts.
struct EncodedFrames {
  std::vector<double> pts;
  std::vector<std::vector<float>> rows;
};

inline EncodedFrames encode_clip(const std::string& path, double fps) {
  auto model = runtime_model();
  vision::VisionEncoder enc(*model);
  auto scratch = enc.make_scratch();
  pipeline::CaptureOptions co;
  co.sampler.fps = fps;
  pipeline::FrameCapture cap(pipeline::open_source(pipeline::parse_source_spec(path)), co);
  EncodedFrames out;
  while (auto f = cap.pop()) {
    std::vector<float> r(static_cast<size_t>(enc.tokens_per_frame()) * enc.out_dim());
    enc.encode(f->row(0), f->width, f->height, f->stride(), r.data(), scratch);
    out.pts.push_back(f->pts);
    out.rows.push_back(std::move(r));
  }
  return out;
}

// The stream's sequence over the first `n_frames` frames, built by hand: <s>, then per frame its time tag
// text and its vision rows.
inline std::unique_ptr<llm::Session> direct_session(const EncodedFrames& fr, size_t n_frames,
                                                    const llm::SessionOptions& options = {}) {
  auto model = runtime_model();
  const llm::Tokenizer& tok = *model->tokenizer();
  auto s = std::make_unique<llm::Session>(model, options);
  const int32_t bos = tok.bos();
  s->prefill(std::span<const int32_t>(&bos, 1));
  const int T = static_cast<int>(fr.rows.empty() ? 0 : fr.rows[0].size() / model->config().dim);
  for (size_t i = 0; i < n_frames; ++i) {
    s->prefill(tok.encode_ordinary(vision::format_time_tag(fr.pts[i])));
    s->prefill_embeddings(fr.rows[i].data(), T);
  }
  return s;
}

// Greedy answer written out from docs/STREAM-FORMAT.md (not through pipeline/question.cpp): the text after
// "\nQ: " + q + "\nA: " up to "\n" or </s> or max_tokens, trimmed.
inline std::string direct_answer(llm::Session& s, const std::string& q, int max_tokens) {
  const llm::Tokenizer& tok = *s.model().tokenizer();
  auto logits = s.forward(tok.encode_ordinary("\nQ: " + q + "\nA: "));
  std::string text;
  const int64_t V = s.model().config().vocab_size;
  for (int i = 0; i < max_tokens; ++i) {
    const int32_t t = kernels::argmax(logits.data(), V);
    if (t == tok.eos()) break;
    const std::string piece = tok.decode_token(t);
    if (piece == "\n") break;
    text += piece;
    if (i + 1 < max_tokens) logits = s.step(t);
  }
  size_t a = text.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  size_t b = text.find_last_not_of(" \t\r\n");
  return text.substr(a, b - a + 1);
}

}  // namespace yoco::test
