// Every CUDA runtime and cuBLAS call is checked: a failure throws yoco::Error naming the call, the file and
// line, and the library's own error name and text. Kernel launches are checked with YOCO_CUDA_CHECK_LAUNCH()
// right after the launch (launch-configuration errors; faults inside a kernel surface at the next
// synchronising call, which is checked too).
//
// Header-only and usable without a device: the error strings come from the runtime library, not the driver.
#pragma once

#include <cublas_api.h>
#include <cuda_runtime_api.h>

#include <string>

#include "kernels/error.h"

namespace yoco::kernels::cuda {

[[noreturn]] inline void throw_cuda_error(cudaError_t err, const char* expr, const char* file, int line) {
  throw ::yoco::Error(std::string("CUDA error at ") + file + ":" + std::to_string(line) + ": " + expr + ": " +
                      cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")");
}

[[noreturn]] inline void throw_cublas_error(cublasStatus_t st, const char* expr, const char* file, int line) {
  throw ::yoco::Error(std::string("cuBLAS error at ") + file + ":" + std::to_string(line) + ": " + expr +
                      ": " + cublasGetStatusName(st) + " (" + cublasGetStatusString(st) + ")");
}

}  // namespace yoco::kernels::cuda

#define YOCO_CUDA_CHECK(expr)                                                             \
  do {                                                                                    \
    const cudaError_t yoco_cuda_err_ = (expr);                                            \
    if (yoco_cuda_err_ != cudaSuccess)                                                    \
      ::yoco::kernels::cuda::throw_cuda_error(yoco_cuda_err_, #expr, __FILE__, __LINE__); \
  } while (0)

#define YOCO_CUBLAS_CHECK(expr)                                                              \
  do {                                                                                       \
    const cublasStatus_t yoco_cublas_st_ = (expr);                                           \
    if (yoco_cublas_st_ != CUBLAS_STATUS_SUCCESS)                                            \
      ::yoco::kernels::cuda::throw_cublas_error(yoco_cublas_st_, #expr, __FILE__, __LINE__); \
  } while (0)

// After a <<<...>>> launch: reports a bad launch configuration at the launch site.
#define YOCO_CUDA_CHECK_LAUNCH() YOCO_CUDA_CHECK(cudaGetLastError())
