// Fuzz target: the ZeroMQ frame message parser (pipeline/frame_message.h). Arbitrary header bytes and payload
// sizes must give a header or a yoco::Error, never a crash, hang or sanitizer report. A header the parser
// accepts agrees with the payload size and encodes to a header that parses back to the same values.
// Input: the first 4 bytes (little endian) are the payload size, the rest is the JSON header.
// Corpus: corpus/frame_message/. Build and run: tools/fuzz.sh (docs/FUZZING.md).
#include <cstddef>
#include <cstdint>
#include <string>

#include "kernels/error.h"
#include "pipeline/frame_message.h"
#include "tests/fuzz/fuzz_util.h"

using yoco::fuzz::fail;
namespace pl = yoco::pipeline;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const size_t payload = data[0] | (data[1] << 8) | (data[2] << 16) | (static_cast<size_t>(data[3]) << 24);
  pl::FrameMessageHeader h;
  try {
    h = pl::parse_frame_message(data + 4, size - 4, payload);
  } catch (const yoco::Error&) {
    return 0;
  }
  if (h.width < 1 || h.height < 1 || h.width > pl::kMaxFrameMessageSide || h.height > pl::kMaxFrameMessageSide)
    fail("accepted a frame side out of range");
  if (h.format != pl::FramePayloadFormat::kJpeg) {
    const size_t bpp = h.format == pl::FramePayloadFormat::kGray8 ? 1 : 3;
    const size_t row = static_cast<size_t>(h.width) * bpp, stride = static_cast<size_t>(h.stride);
    if (stride < row || (payload != stride * h.height && payload != stride * (h.height - 1) + row))
      fail("accepted a raw payload whose size does not match the header");
  }
  const std::string again = pl::encode_frame_header(h);
  pl::FrameMessageHeader h2;
  try {
    h2 = pl::parse_frame_message(again.data(), again.size(), payload);
  } catch (const yoco::Error&) {
    fail("encode_frame_header() of an accepted header does not parse");
  }
  if (h2.stream != h.stream || h2.pts != h.pts || h2.width != h.width || h2.height != h.height ||
      h2.format != h.format || h2.stride != h.stride || h2.index != h.index)
    fail("encode_frame_header() -> parse_frame_message() changes the header");
  return 0;
}
