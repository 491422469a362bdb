// The kernel thread pool: coverage of [0, n) exactly once in contiguous ranges, small loops inline,
// nested calls inline (no deadlock), exceptions reach the caller, resizing, concurrent callers.
#include <algorithm>
#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "kernels/thread_pool.h"
#include "test_util.h"

namespace yoco::kernels {
namespace {

struct Range {
  int64_t begin, end;
  int thread;
};

std::vector<Range> record(int64_t n, int64_t grain) {
  std::mutex mu;
  std::vector<Range> ranges;
  parallel_for(n, grain, [&](int64_t b, int64_t e, int t) {
    std::lock_guard<std::mutex> lock(mu);
    ranges.push_back({b, e, t});
  });
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
  return ranges;
}

TEST(ThreadPool, CoversEveryIndexOnceInContiguousRanges) {
  const int threads = num_threads();
  ASSERT_GE(threads, 1);
  for (int64_t n : {1, 2, 3, 7, 100, 1001}) {
    for (int64_t grain : {1, 4, 50}) {
      const auto ranges = record(n, grain);
      ASSERT_FALSE(ranges.empty());
      int64_t next = 0;
      std::vector<int> used;
      for (const Range& r : ranges) {
        EXPECT_EQ(r.begin, next);
        EXPECT_LT(r.begin, r.end);
        EXPECT_GE(r.thread, 0);
        EXPECT_LT(r.thread, threads);
        if (ranges.size() > 1) {
          EXPECT_GE(r.end - r.begin, grain);
        }
        used.push_back(r.thread);
        next = r.end;
      }
      EXPECT_EQ(next, n);
      std::sort(used.begin(), used.end());
      EXPECT_EQ(std::unique(used.begin(), used.end()), used.end()) << "one range per thread index";
      EXPECT_LE(static_cast<int>(ranges.size()), threads);
    }
  }
}

TEST(ThreadPool, SmallLoopsRunInline) {
  const auto caller = std::this_thread::get_id();
  int calls = 0;
  parallel_for(10, 8, [&](int64_t b, int64_t e, int t) {
    ++calls;
    EXPECT_EQ(std::this_thread::get_id(), caller);
    EXPECT_EQ(b, 0);
    EXPECT_EQ(e, 10);
    EXPECT_EQ(t, 0);
  });
  EXPECT_EQ(calls, 1);
  parallel_for(0, 1, [&](int64_t, int64_t, int) { ++calls; });
  EXPECT_EQ(calls, 1);
}

TEST(ThreadPool, NestedCallsRunInline) {
  std::atomic<int64_t> total{0};
  parallel_for(64, 1, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      parallel_for(100, 1, [&](int64_t b2, int64_t e2, int) { total += e2 - b2; });
    }
  });
  EXPECT_EQ(total.load(), 6400);
}

TEST(ThreadPool, ExceptionsReachTheCaller) {
  EXPECT_THROW(parallel_for(1000, 1,
                            [&](int64_t b, int64_t e, int) {
                              if (b <= 999 && 999 < e) throw std::runtime_error("boom");
                            }),
               std::runtime_error);
  // The pool still works afterwards.
  std::atomic<int64_t> total{0};
  parallel_for(1000, 1, [&](int64_t b, int64_t e, int) { total += e - b; });
  EXPECT_EQ(total.load(), 1000);
}

TEST(ThreadPool, ResizeAndConcurrentCallers) {
  const int saved = num_threads();
  set_num_threads(3);
  EXPECT_EQ(num_threads(), 3);
  const auto ranges = record(300, 1);
  EXPECT_EQ(ranges.size(), 3u);
  set_num_threads(1);
  EXPECT_EQ(record(300, 1).size(), 1u);
  set_num_threads(saved);
  EXPECT_EQ(num_threads(), saved);

  // Two threads issuing loops at once: calls serialise, every index is still covered once.
  std::atomic<int64_t> total{0};
  auto issue = [&] {
    for (int rep = 0; rep < 200; ++rep)
      parallel_for(1000, 1, [&](int64_t b, int64_t e, int) { total += e - b; });
  };
  std::thread a(issue), b(issue);
  a.join();
  b.join();
  EXPECT_EQ(total.load(), 400000);
}

}  // namespace
}  // namespace yoco::kernels
