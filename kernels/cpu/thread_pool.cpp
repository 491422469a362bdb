// The kernel thread pool (kernels/thread_pool.h): size-1 fixed workers plus the calling thread.
//
// A loop is published by bumping a generation counter; workers spin briefly on it (decode issues loops
// tens of microseconds apart, and a futex wake-up costs about as much as the work) and then sleep on a
// condition variable, so an idle engine burns no CPU. The caller runs chunk 0 itself.
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
    for (int i = 1; i < size_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
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
    chunks_ = chunks;
    error_ = nullptr;
    // Every worker acknowledges every loop (even one with no chunk for it), so no worker can still be
    // reading this loop's fields when the next loop overwrites them.
    pending_.store(size_ - 1, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(mu_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_work_.notify_all();

    run_chunk(0);

    for (int s = 0; s < kSpinIterations && pending_.load(std::memory_order_acquire) != 0; ++s) YOCO_PAUSE();
    if (pending_.load(std::memory_order_acquire) != 0) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_done_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
    }
    fn_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void run_chunk(int c) {
    const int64_t begin = n_ * c / chunks_;
    const int64_t end = n_ * (c + 1) / chunks_;
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

  void worker_loop(int index) {
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
      if (index < chunks_) run_chunk(index);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mu_);
        cv_done_.notify_one();
      }
    }
  }

  const int size_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_work_, cv_done_;
  bool stop_ = false;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  // The current loop (written by the caller before the generation bump, read by workers after it).
  const LoopFn* fn_ = nullptr;
  int64_t n_ = 0;
  int chunks_ = 0;
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
