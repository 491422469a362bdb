// The kernel thread pool (kernels/thread_pool.h): size-1 fixed workers plus the calling thread.
//
// A loop is published by bumping a generation counter; workers spin briefly on it (decode issues loops
// tens of microseconds apart, and a futex wake-up costs about as much as the work) and then sleep on a
// condition variable, so an idle engine burns no CPU. The caller and the workers claim the loop's chunks
// from one atomic word; the thread_index a chunk receives is its chunk number.
#include "kernels/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define YOCO_PAUSE() _mm_pause()
#else
#define YOCO_PAUSE() std::this_thread::yield()
#endif

namespace yoco::kernels {
namespace {

using LoopFn = std::function<void(int64_t, int64_t, int)>;

// True on pool workers and on a caller while it runs its own chunk: a nested parallel_for runs inline
// instead of deadlocking on the pool.
thread_local bool t_in_task = false;

constexpr int kSpinIterations = 4000;  // ~50-100 us of pause instructions before sleeping

class Pool {
 public:
  explicit Pool(int n_threads) : size_(n_threads) {
    for (int i = 1; i < size_; ++i) workers_.emplace_back([this] { worker_loop(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_work_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int size() const { return size_; }

  // Runs fn over [0, n) in `chunks` contiguous ranges (2 <= chunks <= size).
  void run(int64_t n, int chunks, const LoopFn& fn) {
    fn_ = &fn;
    n_ = n;
    error_ = nullptr;
    done_.store(0, std::memory_order_relaxed);
    const uint64_t gen = ++loops_;
    claim_.store((gen << 32) | (static_cast<uint64_t>(chunks) << 16), std::memory_order_release);
    {
      std::lock_guard<std::mutex> lock(mu_);
      generation_.store(gen, std::memory_order_release);
    }
    cv_work_.notify_all();

    run_claimed();

    for (int s = 0; s < kSpinIterations && done_.load(std::memory_order_acquire) < chunks; ++s) YOCO_PAUSE();
    if (done_.load(std::memory_order_acquire) < chunks) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_done_.wait(lock, [&] { return done_.load(std::memory_order_acquire) >= chunks; });
    }
    fn_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  // Claims and runs chunks of the current loop until none is left. Chunks are claimed, not assigned: a
  // worker that the OS has not scheduled yet (two cores shared with other processes) never holds the caller
  // up, because the caller (or another worker) takes its chunk. The claim word carries the loop's
  // generation and chunk count, so a late worker can neither claim a finished loop's chunk nor read the
  // next loop's fields before that loop is published.
  void run_claimed() {
    uint64_t w = claim_.load(std::memory_order_acquire);
    for (;;) {
      const int chunks = static_cast<int>((w >> 16) & 0xffffu);
      const int next = static_cast<int>(w & 0xffffu);
      if (next >= chunks) return;
      if (!claim_.compare_exchange_weak(w, w + 1, std::memory_order_acq_rel, std::memory_order_acquire))
        continue;
      run_chunk(next, chunks);
      if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == chunks) {
        std::lock_guard<std::mutex> lock(mu_);
        cv_done_.notify_one();
      }
      w = claim_.load(std::memory_order_acquire);
    }
  }

  void run_chunk(int c, int chunks) {
    const int64_t begin = n_ * c / chunks;
    const int64_t end = n_ * (c + 1) / chunks;
    const bool was_in_task = t_in_task;
    t_in_task = true;
    try {
      (*fn_)(begin, end, c);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mu_);
      if (!error_) error_ = std::current_exception();
    }
    t_in_task = was_in_task;
  }

  void worker_loop() {
    t_in_task = true;
    uint64_t seen = 0;
    for (;;) {
      uint64_t g = generation_.load(std::memory_order_acquire);
      for (int s = 0; s < kSpinIterations && g == seen; ++s) {
        YOCO_PAUSE();
        g = generation_.load(std::memory_order_acquire);
      }
      if (g == seen) {
        std::unique_lock<std::mutex> lock(mu_);
        cv_work_.wait(lock, [&] { return stop_ || generation_.load(std::memory_order_acquire) != seen; });
        if (stop_) return;
        g = generation_.load(std::memory_order_acquire);
      }
      seen = g;
      run_claimed();
    }
  }

  const int size_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_work_, cv_done_;
  bool stop_ = false;
  uint64_t loops_ = 0;                   // caller side only (calls are serialised)
  std::atomic<uint64_t> generation_{0};  // wakes workers
  std::atomic<uint64_t> claim_{0};       // generation << 32 | chunks << 16 | next unclaimed chunk
  std::atomic<int> done_{0};             // chunks finished in the current loop
  // The current loop (written before the claim word is published, stable until every chunk is done).
  const LoopFn* fn_ = nullptr;
  int64_t n_ = 0;
  std::mutex error_mu_;
  std::exception_ptr error_;
};

int default_threads() {
  if (const char* env = std::getenv("YOCO_THREADS")) {
    char* end = nullptr;
    const long v = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && v > 0) return static_cast<int>(std::min<long>(v, 256));
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(std::min<unsigned>(hw, 256));
}

// g_mu serialises loops and guards g_pool (set_num_threads replaces it between loops).
std::mutex g_mu;
std::unique_ptr<Pool> g_pool;

Pool& pool_locked() {
  if (!g_pool) g_pool = std::make_unique<Pool>(default_threads());
  return *g_pool;
}

}  // namespace

int num_threads() {
  std::lock_guard<std::mutex> lock(g_mu);
  return pool_locked().size();
}

void set_num_threads(int n) {
  std::lock_guard<std::mutex> lock(g_mu);
  n = n <= 0 ? default_threads() : std::min(n, 256);
  if (g_pool && g_pool->size() == n) return;
  g_pool.reset();
  g_pool = std::make_unique<Pool>(n);
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  if (t_in_task || n < 2 * grain) {
    fn(0, n, 0);
    return;
  }
  std::unique_lock<std::mutex> lock(g_mu);
  Pool& pool = pool_locked();
  const int chunks = static_cast<int>(std::min<int64_t>(pool.size(), n / grain));
  if (chunks <= 1) {
    lock.unlock();
    fn(0, n, 0);
    return;
  }
  pool.run(n, chunks, fn);
}

}  // namespace yoco::kernels
