// FramePool: RGB pixel buffers allocated up front and recycled, so that a steady-state pipeline does not
// allocate per frame (DESIGN.md, "Errors, threads, memory").
//
// A FrameBuffer is a move-only handle to one pooled buffer; destroying (or reset()ting) the handle returns the
// buffer to its pool. Handles keep the pool's storage alive, so a frame may outlive the source that produced
// it. The pool is created with `count` buffers of `bytes` each; when every buffer is in use, acquire() adds a
// new one (counted in stats().grown) rather than blocking, because the bounded queues downstream already
// limit how many frames can be in flight and a pool that blocks could deadlock against them. A buffer asked
// for more bytes than it holds is grown once (counted in stats().resized), e.g. after a resolution change.
//
// Thread safety: acquire(), stats() and handle destruction may be called from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace yoco::pipeline {

struct FramePoolStats {
  int64_t buffers = 0;   // buffers owned by the pool (free + in use)
  int64_t in_use = 0;    // handed out and not yet returned
  int64_t acquired = 0;  // total acquire() calls
  int64_t grown = 0;     // buffers added after construction because all were in use
  int64_t resized = 0;   // buffers reallocated to hold a larger frame
};

class FramePool;

// Move-only handle to a pooled byte buffer of size() bytes (capacity may be larger).
class FrameBuffer {
 public:
  FrameBuffer() = default;
  FrameBuffer(FrameBuffer&& o) noexcept { *this = std::move(o); }
  FrameBuffer& operator=(FrameBuffer&& o) noexcept;
  FrameBuffer(const FrameBuffer&) = delete;
  FrameBuffer& operator=(const FrameBuffer&) = delete;
  ~FrameBuffer() { reset(); }

  uint8_t* data() { return slot_ ? slot_->bytes.data() : nullptr; }
  const uint8_t* data() const { return slot_ ? slot_->bytes.data() : nullptr; }
  size_t size() const { return size_; }
  bool empty() const { return slot_ == nullptr; }
  void reset();  // returns the buffer to its pool (no-op when empty)

 private:
  friend class FramePool;
  struct Slot {
    std::vector<uint8_t> bytes;
  };
  struct Shared;
  std::shared_ptr<Shared> pool_;
  Slot* slot_ = nullptr;
  size_t size_ = 0;
};

class FramePool {
 public:
  // `count` buffers of `bytes` each are allocated now (bytes may be 0: buffers are sized on first use).
  FramePool(int count, size_t bytes);
  ~FramePool();
  FramePool(const FramePool&) = delete;
  FramePool& operator=(const FramePool&) = delete;

  // A buffer of exactly `bytes` bytes (contents unspecified). Never blocks; see the class comment.
  FrameBuffer acquire(size_t bytes);
  FramePoolStats stats() const;

 private:
  std::shared_ptr<FrameBuffer::Shared> shared_;
};

}  // namespace yoco::pipeline
