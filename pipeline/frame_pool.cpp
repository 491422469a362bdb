#include "pipeline/frame_pool.h"

namespace yoco::pipeline {

struct FrameBuffer::Shared {
  std::mutex mu;
  std::vector<std::unique_ptr<Slot>> slots;  // owns every slot
  std::vector<Slot*> free;                   // reserved to slots.size(): pushing back never allocates
  FramePoolStats stats;
};

FrameBuffer& FrameBuffer::operator=(FrameBuffer&& o) noexcept {
  if (this != &o) {
    reset();
    pool_ = std::move(o.pool_);
    slot_ = o.slot_;
    size_ = o.size_;
    o.slot_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}

void FrameBuffer::reset() {
  if (!slot_) return;
  {
    std::lock_guard<std::mutex> lock(pool_->mu);
    pool_->free.push_back(slot_);
    pool_->stats.in_use--;
  }
  slot_ = nullptr;
  size_ = 0;
  pool_.reset();
}

FramePool::FramePool(int count, size_t bytes) : shared_(std::make_shared<FrameBuffer::Shared>()) {
  shared_->slots.reserve(static_cast<size_t>(count));
  shared_->free.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    auto slot = std::make_unique<FrameBuffer::Slot>();
    slot->bytes.resize(bytes);
    shared_->free.push_back(slot.get());
    shared_->slots.push_back(std::move(slot));
  }
  shared_->stats.buffers = count;
}

FramePool::~FramePool() = default;

FrameBuffer FramePool::acquire(size_t bytes) {
  FrameBuffer out;
  std::lock_guard<std::mutex> lock(shared_->mu);
  auto& s = *shared_;
  if (s.free.empty()) {
    auto slot = std::make_unique<FrameBuffer::Slot>();
    s.free.reserve(s.slots.size() + 1);
    s.free.push_back(slot.get());
    s.slots.push_back(std::move(slot));
    s.stats.buffers++;
    s.stats.grown++;
  }
  FrameBuffer::Slot* slot = s.free.back();
  s.free.pop_back();
  if (slot->bytes.size() < bytes) {
    if (!slot->bytes.empty()) s.stats.resized++;
    slot->bytes.resize(bytes);
  }
  s.stats.acquired++;
  s.stats.in_use++;
  out.pool_ = shared_;
  out.slot_ = slot;
  out.size_ = bytes;
  return out;
}

FramePoolStats FramePool::stats() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->stats;
}

}  // namespace yoco::pipeline
