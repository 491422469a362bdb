// BoundedQueue<T>: the queue between two pipeline threads, bounded by item count and by bytes, with a declared
// overflow policy (DESIGN.md: block for files, drop-oldest for live sources), as GStreamer's queue does.
//
// - kBlock: push() waits while the queue is full (each wait is counted in stats().stalls, its duration in
//   stall_seconds): nothing is lost, the producer slows to the consumer's pace.
// - kDropOldest: push() never waits; the oldest items are dropped until the new one fits, so the consumer
//   always sees the most recent data (live sources).
// - kDropNewest: push() never waits; the incoming item is dropped when the queue is full.
// After any drop, the next item the consumer receives is marked as a discontinuity (queue_mark_discontinuity).
// An item larger than the byte limit on its own is still admitted into an empty queue.
//
// T must be movable; byte size and discontinuity marking come from the free functions queue_item_bytes(const
// T&) and queue_mark_discontinuity(T&), found by argument-dependent lookup (pipeline/frame.h defines them for
// Frame). Storage is a ring sized once at construction: pushing and popping never allocate.
//
// Thread safety: any number of producers and consumers. close() wakes every waiter: later pushes fail, pops
// drain what is left and then return nullopt.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "kernels/error.h"

namespace yoco::pipeline {

enum class OverflowPolicy { kBlock, kDropOldest, kDropNewest };

inline const char* overflow_policy_name(OverflowPolicy p) {
  switch (p) {
    case OverflowPolicy::kBlock: return "block";
    case OverflowPolicy::kDropOldest: return "drop-oldest";
    case OverflowPolicy::kDropNewest: return "drop-newest";
  }
  return "unknown";
}

struct QueueLimits {
  size_t max_items = 8;  // >= 1
  size_t max_bytes = 0;  // 0: no byte limit
  OverflowPolicy policy = OverflowPolicy::kBlock;
};

struct QueueStats {
  int64_t pushed = 0;        // items accepted
  int64_t popped = 0;
  int64_t dropped = 0;       // items discarded by the overflow policy
  int64_t stalls = 0;        // pushes that had to wait (kBlock)
  double stall_seconds = 0;  // total time producers waited
  size_t depth = 0, bytes = 0;  // now
  size_t max_depth = 0;         // high-water mark
};

template <class T>
class BoundedQueue {
 public:
  explicit BoundedQueue(const QueueLimits& limits) : limits_(limits), ring_(limits.max_items) {
    YOCO_REQUIRE(limits.max_items >= 1, "a queue needs room for at least one item");
  }

  // Returns false (and discards the item) when the queue is closed.
  bool push(T item) {
    const size_t bytes = queue_item_bytes(item);
    std::unique_lock<std::mutex> lock(mu_);
    if (closed_) return false;
    if (!fits(bytes)) {
      switch (limits_.policy) {
        case OverflowPolicy::kBlock: {
          stats_.stalls++;
          const auto t0 = std::chrono::steady_clock::now();
          not_full_.wait(lock, [&] { return closed_ || fits(bytes); });
          stats_.stall_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          if (closed_) return false;
          break;
        }
        case OverflowPolicy::kDropOldest:
          while (!fits(bytes)) {
            (void)take_front();  // destroyed here: its buffer goes back to the pool
            stats_.dropped++;
            mark_next_ = true;
          }
          break;
        case OverflowPolicy::kDropNewest:
          stats_.dropped++;
          mark_next_ = true;
          return true;
      }
    }
    if (mark_next_) {
      // The consumer's next item is the first after the gap: the head if any is left, else this one.
      if (count_ > 0) queue_mark_discontinuity(ring_[head_]);
      else queue_mark_discontinuity(item);
      mark_next_ = false;
    }
    ring_[(head_ + count_) % ring_.size()] = std::move(item);
    count_++;
    bytes_ += bytes;
    stats_.pushed++;
    if (count_ > stats_.max_depth) stats_.max_depth = count_;
    lock.unlock();
    not_empty_.notify_one();
    return true;
  }

  // Blocks until an item is available; nullopt once closed and empty.
  std::optional<T> pop() { return pop_until(std::nullopt); }

  // As pop(), but gives up after `seconds` (nullopt; check closed() to tell the cases apart).
  std::optional<T> pop_for(double seconds) {
    return pop_until(std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                            std::chrono::duration<double>(seconds)));
  }

  void close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
    }
    not_empty_.notify_all();
    not_full_.notify_all();
  }

  bool closed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }

  QueueStats stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    QueueStats s = stats_;
    s.depth = count_;
    s.bytes = bytes_;
    return s;
  }

  const QueueLimits& limits() const { return limits_; }

 private:
  QueueLimits limits_;
  mutable std::mutex mu_;
  std::condition_variable not_empty_, not_full_;
  std::vector<T> ring_;
  size_t head_ = 0, count_ = 0, bytes_ = 0;
  bool closed_ = false;
  bool mark_next_ = false;
  QueueStats stats_;

  bool fits(size_t bytes) const {
    if (count_ == 0) return true;
    if (count_ >= ring_.size()) return false;
    return limits_.max_bytes == 0 || bytes_ + bytes <= limits_.max_bytes;
  }

  T take_front() {
    T item = std::move(ring_[head_]);
    ring_[head_] = T();
    head_ = (head_ + 1) % ring_.size();
    count_--;
    bytes_ -= queue_item_bytes(item);
    return item;
  }

  std::optional<T> pop_until(std::optional<std::chrono::steady_clock::time_point> deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    const auto ready = [&] { return closed_ || count_ > 0; };
    if (deadline) {
      if (!not_empty_.wait_until(lock, *deadline, ready)) return std::nullopt;
    } else {
      not_empty_.wait(lock, ready);
    }
    if (count_ == 0) return std::nullopt;
    T item = take_front();
    stats_.popped++;
    lock.unlock();
    not_full_.notify_one();
    return item;
  }
};

}  // namespace yoco::pipeline
