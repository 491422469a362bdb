// libFuzzer target for the ZeroMQ frame message parser (pipeline/frame_message.h): arbitrary header bytes and
// payload sizes must give a header or a yoco::Error, never a crash, hang or sanitizer report. When the parser
// accepts a header, the payload size must agree with it.
//
// Not built by CMake. Build and run from the repository root:
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. \
//     tests/fuzz/fuzz_frame_message.cpp pipeline/frame_message.cpp -o /tmp/fuzz_frame_message
//   /tmp/fuzz_frame_message -max_total_time=60 -max_len=4200
// Input layout: the first 4 bytes (little endian) are the payload size, the rest is the JSON header.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "kernels/error.h"
#include "pipeline/frame_message.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const size_t payload = data[0] | (data[1] << 8) | (data[2] << 16) | (static_cast<size_t>(data[3]) << 24);
  try {
    const auto h = yoco::pipeline::parse_frame_message(data + 4, size - 4, payload);
    if (h.width < 1 || h.height < 1 || h.width > yoco::pipeline::kMaxFrameMessageSide ||
        h.height > yoco::pipeline::kMaxFrameMessageSide)
      std::abort();
    if (h.format != yoco::pipeline::FramePayloadFormat::kJpeg &&
        payload < static_cast<size_t>(h.stride) * (h.height - 1))
      std::abort();
    (void)yoco::pipeline::encode_frame_header(h);
  } catch (const yoco::Error&) {
  }
  return 0;
}
