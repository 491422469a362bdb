// The device layer: is there a GPU, memory claimed up front, and the context every device op runs in.
//
// Memory: a DevicePool is one cudaMalloc made at construction; allocations are claims from it (bump pointer,
// 256-byte aligned) released all at once or back to a mark, so steady-state loops never call cudaMalloc
// (which synchronises the device). A Context owns a stream, cuBLAS / cuBLASLt handles bound to that stream,
// and a scratch pool for op temporaries (flash-decoding partials, retention chunk states, the cuBLAS
// workspace). Scratch is stream-ordered: an op claims it, enqueues kernels, and releases it before returning,
// which is safe because every later user of that memory is enqueued on the same stream.
//
// Thread safety: a Context (and its pool) is used by one host thread at a time; use one Context per thread.
#pragma once

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cuda/cuda_check.h"

namespace yoco::kernels::cuda {

// True when the runtime finds a driver and at least one device. Never throws: false on any error (no driver,
// no device, a driver older than the runtime), and the error is cleared so later calls start clean.
bool cuda_device_available();

struct DeviceInfo {
  std::string name;
  int sm_major = 0, sm_minor = 0;
  int n_sms = 0;
  size_t total_bytes = 0, free_bytes = 0;
  size_t max_shared_per_block = 0;  // with opt-in (cudaFuncAttributeMaxDynamicSharedMemorySize)
};
// Throws yoco::Error when there is no device.
DeviceInfo device_info(int device = 0);

// One device allocation made up front; claims are bump-pointer allocations from it.
class DevicePool {
 public:
  explicit DevicePool(size_t bytes);  // throws yoco::Error if the device cannot provide it
  ~DevicePool();
  DevicePool(const DevicePool&) = delete;
  DevicePool& operator=(const DevicePool&) = delete;

  // A claim of `bytes`, 256-byte aligned; throws yoco::Error (naming the sizes) when the pool is exhausted.
  void* claim(size_t bytes);
  template <class T>
  T* claim_n(size_t n) {
    return static_cast<T*>(claim(n * sizeof(T)));
  }
  // Marks are offsets: release_to(mark()) frees every claim made since (LIFO).
  size_t mark() const { return used_; }
  void release_to(size_t mark);
  void reset() { used_ = 0; }

  size_t capacity() const { return bytes_; }
  size_t used() const { return used_; }
  size_t available() const { return bytes_ - used_; }
  size_t high_water() const { return high_water_; }

 private:
  char* base_ = nullptr;
  size_t bytes_ = 0;
  size_t used_ = 0;
  size_t high_water_ = 0;
};

// Releases a pool back to a mark when it goes out of scope (an op's temporaries).
class ScratchScope {
 public:
  explicit ScratchScope(DevicePool& pool) : pool_(pool), mark_(pool.mark()) {}
  ~ScratchScope() { pool_.release_to(mark_); }
  ScratchScope(const ScratchScope&) = delete;
  ScratchScope& operator=(const ScratchScope&) = delete;

 private:
  DevicePool& pool_;
  size_t mark_;
};

struct ContextOptions {
  int device = 0;
  size_t scratch_bytes = size_t{512} << 20;          // op temporaries
  size_t cublas_workspace_bytes = size_t{32} << 20;  // claimed from the scratch pool for cuBLAS(Lt)
  bool allow_tf32 = false;  // f32 GEMMs on TF32 tensor cores (~1e-3 relative error; off for parity tests)
};

class Context {
 public:
  explicit Context(const ContextOptions& opts = {});  // throws yoco::Error when there is no device
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  cudaStream_t stream() const { return stream_; }
  cublasHandle_t cublas() const { return cublas_; }
  cublasLtHandle_t cublaslt() const { return cublaslt_; }
  DevicePool& scratch() { return scratch_; }
  const DeviceInfo& info() const { return info_; }
  const ContextOptions& options() const { return opts_; }
  void* cublas_workspace() const { return cublas_ws_; }
  void synchronize() const;

 private:
  ContextOptions opts_;
  DeviceInfo info_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  cublasLtHandle_t cublaslt_ = nullptr;
  DevicePool scratch_;
  void* cublas_ws_ = nullptr;
};

// A plain owning device array (tests, weights, long-lived state); not for steady-state loops.
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t n) : n_(n) {
    if (n > 0) YOCO_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&p_), n * sizeof(T)));
  }
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) { upload(host); }
  ~DeviceBuffer() {
    if (p_) cudaFree(p_);  // no check: destructors do not throw, and a failed free leaks nothing more
  }
  DeviceBuffer(DeviceBuffer&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr, o.n_ = 0; }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  T* data() { return p_; }
  const T* data() const { return p_; }
  size_t size() const { return n_; }
  // Synchronous copies (they wait for the device: tests and setup only).
  void upload(const std::vector<T>& host) {
    YOCO_REQUIRE(host.size() == n_, "DeviceBuffer::upload: size mismatch");
    if (n_ > 0) YOCO_CUDA_CHECK(cudaMemcpy(p_, host.data(), n_ * sizeof(T), cudaMemcpyHostToDevice));
  }
  std::vector<T> download() const {
    std::vector<T> host(n_);
    if (n_ > 0) YOCO_CUDA_CHECK(cudaMemcpy(host.data(), p_, n_ * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }

 private:
  T* p_ = nullptr;
  size_t n_ = 0;
};

}  // namespace yoco::kernels::cuda
