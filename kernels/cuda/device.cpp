#include "kernels/cuda/device.h"

#include <algorithm>

namespace yoco::kernels::cuda {

bool cuda_device_available() {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();  // clear the (non-sticky) error
    return false;
  }
  return n > 0;
}

DeviceInfo device_info(int device) {
  YOCO_REQUIRE(cuda_device_available(), "CUDA: no device (or no driver) available");
  cudaDeviceProp prop{};
  YOCO_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  DeviceInfo info;
  info.name = prop.name;
  info.sm_major = prop.major;
  info.sm_minor = prop.minor;
  info.n_sms = prop.multiProcessorCount;
  info.max_shared_per_block = prop.sharedMemPerBlockOptin;
  int current = 0;
  YOCO_CUDA_CHECK(cudaGetDevice(&current));
  YOCO_CUDA_CHECK(cudaSetDevice(device));
  YOCO_CUDA_CHECK(cudaMemGetInfo(&info.free_bytes, &info.total_bytes));
  YOCO_CUDA_CHECK(cudaSetDevice(current));
  return info;
}

// ---- DevicePool ---------------------------------------------------------------------------------------

namespace {
constexpr size_t kAlign = 256;
size_t align_up(size_t n) {
  return (n + kAlign - 1) / kAlign * kAlign;
}
}  // namespace

DevicePool::DevicePool(size_t bytes) : bytes_(align_up(bytes)) {
  YOCO_REQUIRE(cuda_device_available(), "CUDA: no device (or no driver) available");
  if (bytes_ > 0) YOCO_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&base_), bytes_));
}

DevicePool::~DevicePool() {
  if (base_) cudaFree(base_);
}

void* DevicePool::claim(size_t bytes) {
  const size_t n = align_up(std::max<size_t>(bytes, 1));
  YOCO_REQUIRE(n <= bytes_ - used_, "CUDA device pool exhausted: claim of " + std::to_string(bytes) +
                                        " bytes with " + std::to_string(bytes_ - used_) + " of " +
                                        std::to_string(bytes_) + " left");
  void* p = base_ + used_;
  used_ += n;
  high_water_ = std::max(high_water_, used_);
  return p;
}

void DevicePool::release_to(size_t mark) {
  YOCO_CHECK(mark <= used_);
  used_ = mark;
}

// ---- Context ------------------------------------------------------------------------------------------

namespace {
// Makes `device` current before the scratch pool allocates on it (the pool is a member initialiser).
size_t on_device(int device, size_t bytes) {
  YOCO_CUDA_CHECK(cudaSetDevice(device));
  return bytes;
}
}  // namespace

Context::Context(const ContextOptions& opts)
    : opts_(opts),
      info_(device_info(opts.device)),
      scratch_(on_device(opts.device, opts.scratch_bytes + opts.cublas_workspace_bytes)) {
  YOCO_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  YOCO_CUBLAS_CHECK(cublasCreate(&cublas_));
  YOCO_CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
  YOCO_CUBLAS_CHECK(cublasLtCreate(&cublaslt_));
  // A fixed workspace (claimed first, never released) keeps cuBLAS from allocating: required for CUDA-graph
  // capture, and it makes the memory use of a step predictable.
  if (opts.cublas_workspace_bytes > 0) {
    cublas_ws_ = scratch_.claim(opts.cublas_workspace_bytes);
    YOCO_CUBLAS_CHECK(cublasSetWorkspace(cublas_, cublas_ws_, opts.cublas_workspace_bytes));
  }
  YOCO_CUBLAS_CHECK(
      cublasSetMathMode(cublas_, opts.allow_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
}

Context::~Context() {
  // Teardown does not throw; errors here would only report an earlier fault already seen by a checked call.
  if (stream_) cudaStreamSynchronize(stream_);
  if (cublaslt_) cublasLtDestroy(cublaslt_);
  if (cublas_) cublasDestroy(cublas_);
  if (stream_) cudaStreamDestroy(stream_);
}

void Context::synchronize() const {
  YOCO_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

}  // namespace yoco::kernels::cuda
