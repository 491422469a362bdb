// Queues, frame pool, sampler, capture thread and reconnects, on fake sources and synthetic frames.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "kernels/error.h"
#include "pipeline/bounded_queue.h"
#include "pipeline/frame_capture.h"
#include "pipeline/frame_pool.h"
#include "pipeline/frame_sampler.h"
#include "pipeline/reconnecting_source.h"
#include "pipeline/source_spec.h"
#include "tests/pipeline/fake_source.h"

namespace yoco::pipeline {

// Queue items for the queue tests: an id, a size, a discontinuity mark.
struct Item {
  int id = -1;
  size_t size = 1;
  bool disc = false;
};
size_t queue_item_bytes(const Item& i) { return i.size; }
void queue_mark_discontinuity(Item& i) { i.disc = true; }

namespace {

TEST(BoundedQueue, DropOldestKeepsNewestAndMarksTheGap) {
  BoundedQueue<Item> q({3, 0, OverflowPolicy::kDropOldest});
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(q.push({i}));
  auto s = q.stats();
  EXPECT_EQ(s.dropped, 2);
  EXPECT_EQ(s.depth, 3u);
  auto a = q.pop(), b = q.pop(), c = q.pop();
  EXPECT_EQ(a->id, 2);
  EXPECT_TRUE(a->disc);
  EXPECT_EQ(b->id, 3);
  EXPECT_FALSE(b->disc);
  EXPECT_EQ(c->id, 4);
  EXPECT_FALSE(q.pop_for(0.01).has_value());
}

TEST(BoundedQueue, DropNewestMarksTheNextAccepted) {
  BoundedQueue<Item> q({2, 0, OverflowPolicy::kDropNewest});
  for (int i = 0; i < 4; ++i) q.push({i});
  EXPECT_EQ(q.pop()->id, 0);
  EXPECT_EQ(q.pop()->id, 1);
  q.push({9});
  auto x = q.pop();
  EXPECT_EQ(x->id, 9);
  EXPECT_TRUE(x->disc);
  EXPECT_EQ(q.stats().dropped, 2);
}

TEST(BoundedQueue, ByteLimit) {
  BoundedQueue<Item> q({10, 100, OverflowPolicy::kDropOldest});
  q.push({0, 60});
  q.push({1, 60});  // 120 > 100: item 0 goes
  EXPECT_EQ(q.stats().dropped, 1);
  EXPECT_EQ(q.stats().bytes, 60u);
  q.push({2, 500});  // larger than the limit alone: admitted into an empty queue
  EXPECT_EQ(q.stats().depth, 1u);
  EXPECT_EQ(q.pop()->id, 2);
}

TEST(BoundedQueue, BlockStallsTheProducerAndLosesNothing) {
  BoundedQueue<Item> q({2, 0, OverflowPolicy::kBlock});
  std::thread producer([&] {
    for (int i = 0; i < 50; ++i) q.push({i});
    q.close();
  });
  int expect = 0;
  while (auto it = q.pop()) {
    EXPECT_EQ(it->id, expect++);
    EXPECT_FALSE(it->disc);
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  producer.join();
  EXPECT_EQ(expect, 50);
  const auto s = q.stats();
  EXPECT_EQ(s.dropped, 0);
  EXPECT_GT(s.stalls, 0);
  EXPECT_LE(s.max_depth, 2u);
}

TEST(BoundedQueue, CloseWakesABlockedProducer) {
  BoundedQueue<Item> q({1, 0, OverflowPolicy::kBlock});
  q.push({0});
  std::thread t([&] { EXPECT_FALSE(q.push({1})); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  q.close();
  t.join();
  EXPECT_EQ(q.pop()->id, 0);  // drains
  EXPECT_FALSE(q.pop().has_value());
}

TEST(FramePool, SteadyStateDoesNotAllocate) {
  FramePool pool(3, 1000);
  for (int round = 0; round < 100; ++round) {
    FrameBuffer a = pool.acquire(1000), b = pool.acquire(800), c = pool.acquire(1000);
    ASSERT_NE(a.data(), nullptr);
    EXPECT_EQ(b.size(), 800u);
  }
  auto s = pool.stats();
  EXPECT_EQ(s.grown, 0);
  EXPECT_EQ(s.resized, 0);
  EXPECT_EQ(s.in_use, 0);
  EXPECT_EQ(s.acquired, 300);
  {
    FrameBuffer a = pool.acquire(10), b = pool.acquire(10), c = pool.acquire(10), d = pool.acquire(2000);
    EXPECT_EQ(pool.stats().grown, 1);  // a fourth at once: grows rather than blocks
  }
  EXPECT_EQ(pool.stats().buffers, 4);
}

TEST(FramePool, BufferOutlivesPool) {
  FrameBuffer keep;
  {
    FramePool pool(1, 16);
    keep = pool.acquire(16);
  }
  keep.data()[15] = 1;  // still valid (ASan would object otherwise)
  keep.reset();
  EXPECT_TRUE(keep.empty());
}

Frame make_frame(double pts, uint8_t value, FramePool& pool, int w = 16, int h = 16) {
  Frame f;
  f.pixels = pool.acquire(static_cast<size_t>(w) * h * 3);
  std::fill(f.pixels.data(), f.pixels.data() + f.pixels.size(), value);
  f.width = w;
  f.height = h;
  f.pts = pts;
  return f;
}

TEST(FrameSampler, RateByPresentationTime) {
  FramePool pool(2, 0);
  FrameSampler s(SamplerOptions{.fps = 2});
  std::vector<double> kept;
  // Irregular timing with a burst and a gap.
  for (double t : {0.0, 0.1, 0.45, 0.499, 0.5, 0.51, 0.9, 2.7, 2.8, 3.0, 3.0001, 3.6}) {
    Frame f = make_frame(t, 0, pool);
    if (s.want(t)) EXPECT_TRUE(s.offer(f)) << t;
    else EXPECT_FALSE(s.offer(f)) << t;
    if (s.stats().kept > static_cast<int64_t>(kept.size())) kept.push_back(t);
  }
  EXPECT_EQ(kept, (std::vector<double>{0.0, 0.499, 2.7, 3.0, 3.6}));
}

TEST(FrameSampler, ZeroFpsKeepsEverything) {
  FramePool pool(2, 0);
  FrameSampler s(SamplerOptions{.fps = 0});
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(s.offer(make_frame(0.001 * i, 0, pool)));
}

TEST(FrameSampler, ChangeGateWithMaxGap) {
  FramePool pool(2, 0);
  SamplerOptions o;
  o.fps = 10;
  o.change_threshold = 8;
  o.max_gap = 1.0;
  FrameSampler s(o);
  EXPECT_TRUE(s.offer(make_frame(0.0, 100, pool)));
  EXPECT_FALSE(s.offer(make_frame(0.1, 103, pool)));  // small change
  EXPECT_TRUE(s.offer(make_frame(0.2, 150, pool)));   // big change
  EXPECT_FALSE(s.offer(make_frame(0.3, 150, pool)));
  EXPECT_FALSE(s.offer(make_frame(1.1, 150, pool)));
  EXPECT_TRUE(s.offer(make_frame(1.2, 150, pool)));   // 1 s since the last kept: kept anyway
  EXPECT_EQ(s.stats().change_dropped, 3);
  EXPECT_THROW(FrameSampler(SamplerOptions{.fps = -1}), Error);
}

TEST(SourceSpec, Forms) {
  auto f = parse_source_spec("clip.mp4");
  EXPECT_EQ(f.kind, SourceSpec::Kind::kFfmpeg);
  EXPECT_FALSE(f.live);
  auto r = parse_source_spec("rtsp://cam/stream");
  EXPECT_EQ(r.kind, SourceSpec::Kind::kFfmpeg);
  EXPECT_TRUE(r.live);
  auto c = parse_source_spec("camera:2");
  EXPECT_EQ(c.kind, SourceSpec::Kind::kCamera);
  EXPECT_EQ(c.camera_index, 2);
  EXPECT_EQ(parse_source_spec("/dev/video7").camera_index, 7);
  auto g = parse_source_spec("gst:videotestsrc ! appsink");
  EXPECT_EQ(g.kind, SourceSpec::Kind::kGstreamer);
  EXPECT_EQ(g.target, "videotestsrc ! appsink");
  auto z = parse_source_spec("zmq:tcp://127.0.0.1:5555#cam1");
  EXPECT_EQ(z.kind, SourceSpec::Kind::kZmq);
  EXPECT_EQ(z.target, "tcp://127.0.0.1:5555");
  EXPECT_EQ(z.stream_id, "cam1");
  EXPECT_EQ(parse_source_spec("zmq:@ipc:///tmp/x").target, "@ipc:///tmp/x");
  for (const char* bad : {"", "camera:", "camera:x", "/dev/videoA", "gst:", "gst:  ", "zmq:", "zmq:nothing"})
    EXPECT_THROW(parse_source_spec(bad), Error) << bad;
}

TEST(FrameCapture, FileSourceBlocksAndLosesNothing) {
  CaptureOptions o;
  o.sampler.fps = 0;
  o.queue_frames = 2;
  FrameCapture cap(std::make_unique<test::FakeSource>(40, 10, /*live=*/false), o);
  int n = 0;
  while (auto f = cap.pop()) {
    EXPECT_EQ(f->index, n);
    EXPECT_FALSE(f->discontinuity);
    ++n;
    std::this_thread::sleep_for(std::chrono::microseconds(300));
  }
  EXPECT_EQ(n, 40);
  EXPECT_EQ(cap.error(), "");
  const auto s = cap.stats();
  EXPECT_EQ(s.policy, OverflowPolicy::kBlock);
  EXPECT_EQ(s.queue.dropped, 0);
  EXPECT_GT(s.queue.stalls, 0);
}

TEST(FrameCapture, LiveSourceDropsOldestForASlowConsumer) {
  CaptureOptions o;
  o.sampler.fps = 0;
  o.queue_frames = 2;
  FrameCapture cap(std::make_unique<test::FakeSource>(60, 1000, /*live=*/true, 0.0005), o);
  int n = 0, disc = 0;
  int64_t last = -1;
  while (auto f = cap.pop()) {
    EXPECT_GT(f->index, last);
    if (f->index != last + 1) {
      EXPECT_TRUE(f->discontinuity);
    }
    disc += f->discontinuity;
    last = f->index;
    ++n;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto s = cap.stats();
  EXPECT_EQ(s.policy, OverflowPolicy::kDropOldest);
  EXPECT_GT(s.queue.dropped, 0);
  EXPECT_GT(disc, 0);
  EXPECT_EQ(n + s.queue.dropped, 60);
  EXPECT_EQ(last, 59);  // the newest frame always gets through
}

TEST(FrameCapture, SamplerRunsInTheThreadAndErrorsAreReported) {
  CaptureOptions o;
  o.sampler.fps = 2;
  FrameCapture cap(std::make_unique<test::FakeSource>(30, 10, false, 0, /*fail_at_end=*/true), o);
  std::vector<double> pts;
  while (auto f = cap.pop()) pts.push_back(f->pts);
  EXPECT_EQ(pts, (std::vector<double>{0.0, 0.5, 1.0, 1.5, 2.0, 2.5}));
  EXPECT_EQ(cap.error(), "fake source broke");
  EXPECT_EQ(cap.stats().source.skipped, 24);  // the rate gate ran before "conversion"
}

TEST(FrameCapture, StopInterruptsABlockedConsumer) {
  FrameCapture cap(std::make_unique<test::FakeSource>(1000000, 10, true, 0.05));
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    cap.stop();
  });
  while (cap.pop()) {
  }
  stopper.join();
  SUCCEED();
}

TEST(ReconnectingSource, TimelineContinuesAfterErrorsAndEos) {
  int opens = 0;
  ReconnectOptions ro;
  ro.initial_backoff = 0.01;
  ro.max_backoff = 0.04;
  ro.max_attempts = 3;
  ReconnectingSource src(
      [&]() -> std::unique_ptr<FrameSource> {
        ++opens;
        if (opens == 2) throw Error("refused");  // one failed attempt between the connections
        if (opens > 4) throw Error("gone for good");
        return std::make_unique<test::FakeSource>(5, 10, true, 0, /*fail_at_end=*/opens == 1);
      },
      ro);
  Frame f;
  std::vector<double> pts;
  std::vector<bool> disc;
  const auto drain = [&] {
    while (src.read(f)) {
      pts.push_back(f.pts);
      disc.push_back(f.discontinuity);
    }
  };
  EXPECT_THROW(drain(), Error);
  ASSERT_EQ(pts.size(), 15u);  // three connections of 5 frames
  for (size_t i = 1; i < pts.size(); ++i) EXPECT_GT(pts[i], pts[i - 1]);
  EXPECT_TRUE(disc[5]);
  EXPECT_TRUE(disc[10]);
  EXPECT_FALSE(disc[6]);
  EXPECT_GE(pts[5] - pts[4], 0.1 - 1e-9);  // at least one frame duration, plus the outage
  const auto s = src.stats();
  EXPECT_EQ(s.reconnects, 2);
  EXPECT_EQ(s.produced, 15);
  EXPECT_GE(s.errors, 4);
}

TEST(ReconnectingSource, ReportsEachOutageBeforeItsWait) {
  int opens = 0;
  std::vector<SourceOutage> outages;
  ReconnectOptions ro;
  ro.initial_backoff = 0.01;
  ro.max_backoff = 0.02;
  ro.reconnect_on_eos = false;
  ro.on_outage = [&](const SourceOutage& o) { outages.push_back(o); };
  ReconnectingSource src(
      [&]() -> std::unique_ptr<FrameSource> {
        if (++opens <= 3) throw Error("refused " + std::to_string(opens));
        return std::make_unique<test::FakeSource>(3, 10, true);
      },
      ro);
  Frame f;
  int frames = 0;
  while (src.read(f)) ++frames;
  EXPECT_EQ(frames, 3);
  ASSERT_EQ(outages.size(), 3u);  // one report a failed open, each before the wait it announces
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(outages[i].error, "refused " + std::to_string(i + 1));
    EXPECT_EQ(outages[i].failures, i + 1);
    EXPECT_LT(outages[i].last_pts, 0);  // nothing delivered yet
  }
  EXPECT_DOUBLE_EQ(outages[0].retry_in, 0.01);
  EXPECT_DOUBLE_EQ(outages[1].retry_in, 0.02);
  EXPECT_DOUBLE_EQ(outages[2].retry_in, 0.02);  // capped
}

TEST(ReconnectingSource, StartsOnAConnectionOpenedBeforehand) {
  int opens = 0;
  ReconnectOptions ro;
  ro.reconnect_on_eos = false;
  ReconnectingSource src(
      [&]() -> std::unique_ptr<FrameSource> {
        ++opens;
        throw Error("the factory is for reconnects only");
      },
      ro, std::make_unique<test::FakeSource>(4, 10, true));
  EXPECT_EQ(src.info().description, "fake");  // known before the first read
  EXPECT_TRUE(src.info().live);
  Frame f;
  std::vector<double> pts;
  while (src.read(f)) pts.push_back(f.pts);
  EXPECT_EQ(pts, (std::vector<double>{0.0, 0.1, 0.2, 0.3}));
  EXPECT_EQ(opens, 0);
  EXPECT_EQ(src.stats().reconnects, 0);
}

TEST(ReconnectingSource, InterruptCutsTheBackoffShort) {
  ReconnectOptions ro;
  ro.initial_backoff = 30;
  ro.max_backoff = 30;
  ReconnectingSource src([]() -> std::unique_ptr<FrameSource> { throw Error("down"); }, ro);
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    src.interrupt();
  });
  const auto t0 = std::chrono::steady_clock::now();
  Frame f;
  EXPECT_FALSE(src.read(f));
  t.join();
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0);
}

}  // namespace
}  // namespace yoco::pipeline
