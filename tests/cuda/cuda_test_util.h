// Shared helpers for the CUDA op tests: the device guard, one Context per process, device ⇄ host copies.
// Every test that touches a device starts with YOCO_SKIP_WITHOUT_DEVICE(), so the binary passes (skipping)
// on machines with nvcc but no GPU (CI).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "kernels/cuda/ops_cuda.h"
#include "tests/kernels/test_util.h"

#define YOCO_SKIP_WITHOUT_DEVICE() \
  if (!yoco::kernels::cuda::cuda_device_available()) GTEST_SKIP() << "no CUDA device"

namespace yoco::kernels::cuda::test {

using kernels::test::all_within;
using kernels::test::kEps;
using kernels::test::kNaN;
using kernels::test::randn;
using kernels::test::uniform;

// One context for the whole binary (creating cuBLAS handles per test would dominate the run time).
inline Context& ctx() {
  static std::unique_ptr<Context> c = [] {
    ContextOptions o;
    o.scratch_bytes = size_t{256} << 20;
    return std::make_unique<Context>(o);
  }();
  return *c;
}

template <class T>
std::vector<T> download(const DeviceBuffer<T>& b) {
  ctx().synchronize();
  return b.download();
}

inline std::vector<double> to_double(const std::vector<float>& v) {
  return {v.begin(), v.end()};
}

inline double max_abs(const std::vector<float>& v) {
  double m = 0.0;
  for (float x : v) m = std::max(m, static_cast<double>(std::fabs(x)));
  return m;
}

// The elements of `v` outside the [rows, cols] window of a strided buffer, which an op must leave untouched.
inline std::vector<float> padding_of(const std::vector<float>& v, int64_t rows, int64_t cols,
                                     int64_t stride) {
  std::vector<float> pad;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = cols; c < stride && r * stride + c < static_cast<int64_t>(v.size()); ++c)
      pad.push_back(v[static_cast<size_t>(r * stride + c)]);
  return pad;
}

}  // namespace yoco::kernels::cuda::test
