// The error macros and the device layer. The macro tests and the no-device behaviour run everywhere; the
// pool and context tests need a device.
#include <string>

#include "tests/cuda/cuda_test_util.h"

namespace yoco::kernels::cuda::test {
namespace {

std::string message_of(void (*f)()) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// The line of the check inside each function (set on the line before it, so formatting cannot move it).
int g_cuda_check_line = 0;
int g_cublas_check_line = 0;

void failing_cuda_call() {
  g_cuda_check_line = __LINE__ + 1;
  YOCO_CUDA_CHECK(cudaErrorMemoryAllocation);
}

void failing_cublas_call() {
  g_cublas_check_line = __LINE__ + 1;
  YOCO_CUBLAS_CHECK(CUBLAS_STATUS_INVALID_VALUE);
}

TEST(CudaCheck, ThrowsWithFileLineAndErrorName) {
  const std::string msg = message_of(failing_cuda_call);
  EXPECT_NE(msg.find(std::string("test_check.cpp:") + std::to_string(g_cuda_check_line)), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("cudaErrorMemoryAllocation"), std::string::npos) << msg;
  EXPECT_NE(msg.find("out of memory"), std::string::npos) << msg;
}

TEST(CudaCheck, CublasThrowsWithFileLineAndStatusName) {
  const std::string msg = message_of(failing_cublas_call);
  EXPECT_NE(msg.find(std::string("test_check.cpp:") + std::to_string(g_cublas_check_line)), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("CUBLAS_STATUS_INVALID_VALUE"), std::string::npos) << msg;
}

TEST(CudaCheck, SuccessIsSilent) {
  EXPECT_NO_THROW(YOCO_CUDA_CHECK(cudaSuccess));
  EXPECT_NO_THROW(YOCO_CUBLAS_CHECK(CUBLAS_STATUS_SUCCESS));
}

// Without a device (CI) the query answers false and everything that needs a device throws yoco::Error
// instead of crashing; with one, it describes the device.
TEST(Device, AvailabilityQueryNeverThrows) {
  bool available = false;
  ASSERT_NO_THROW(available = cuda_device_available());
  EXPECT_EQ(available, cuda_device_available());  // no sticky error left behind
  if (!available) {
    EXPECT_THROW(device_info(), Error);
    EXPECT_THROW(DevicePool(1 << 20), Error);
    EXPECT_THROW(Context(), Error);
    return;
  }
  const DeviceInfo info = device_info();
  EXPECT_FALSE(info.name.empty());
  EXPECT_GT(info.n_sms, 0);
  EXPECT_GE(info.sm_major, 8) << "the kernels are built for sm_80 and sm_90";
  std::printf("device: %s, sm_%d%d, %d SMs, %.1f GiB\n", info.name.c_str(), info.sm_major, info.sm_minor,
              info.n_sms, static_cast<double>(info.total_bytes) / (1 << 30));
}

TEST(DevicePool, ClaimsAreAlignedBoundedAndReleasedToMarks) {
  YOCO_SKIP_WITHOUT_DEVICE();
  DevicePool pool(1 << 20);
  EXPECT_EQ(pool.capacity(), size_t{1} << 20);
  char* a = static_cast<char*>(pool.claim(1));
  char* b = static_cast<char*>(pool.claim(300));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % 256, 0u);
  EXPECT_EQ(b - a, 256);
  const size_t mark = pool.mark();
  pool.claim(1000);
  EXPECT_GT(pool.used(), mark);
  pool.release_to(mark);
  EXPECT_EQ(pool.used(), mark);
  EXPECT_THROW(pool.claim(size_t{2} << 20), Error);
  EXPECT_EQ(pool.used(), mark);  // a failed claim takes nothing
  pool.reset();
  EXPECT_EQ(pool.used(), 0u);
  EXPECT_GE(pool.high_water(), mark + 1000);
}

TEST(Context, StreamWorksAndDeviceFaultsAreReported) {
  YOCO_SKIP_WITHOUT_DEVICE();
  Context& c = ctx();
  DeviceBuffer<float> buf(std::vector<float>{1.0f, 2.0f, 3.0f});
  scale_inplace(c, buf.data(), 2.0f, 3);
  EXPECT_EQ(download(buf), (std::vector<float>{2.0f, 4.0f, 6.0f}));
  // A bad argument (a non-sticky error) is reported at the call with file:line, and the context stays usable.
  try {
    float host = 0.0f;
    YOCO_CUDA_CHECK(
        cudaMemcpyAsync(&host, buf.data(), sizeof(float), static_cast<cudaMemcpyKind>(99), c.stream()));
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("test_check.cpp:"), std::string::npos) << e.what();
  }
  (void)cudaGetLastError();
  scale_inplace(c, buf.data(), 0.5f, 3);
  EXPECT_EQ(download(buf), (std::vector<float>{1.0f, 2.0f, 3.0f}));
}

}  // namespace
}  // namespace yoco::kernels::cuda::test
