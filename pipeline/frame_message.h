// The ZeroMQ frame message: how another process publishes video frames to a `zmq:` source.
//
// A message has exactly two parts (a ZeroMQ multipart message):
//   1. header: a UTF-8 JSON object of at most 4096 bytes
//        {"stream": "cam1",      // optional string: which stream (a zmq:ENDPOINT#cam1 source keeps only these)
//         "pts": 12.04,          // required number: presentation time in seconds (any origin; the source
//                                //   makes it relative to the first frame it receives)
//         "width": 640, "height": 480,   // required integers in [1, 8192]
//         "format": "rgb24",     // required: "rgb24", "bgr24", "gray8" (raw rows) or "jpeg"
//         "stride": 1920,        // optional, raw formats: bytes per row (>= width * bytes per pixel)
//         "index": 7}            // optional integer >= 0: the publisher's frame counter
//   2. payload: raw formats: height rows of `stride` bytes (the last row may be just width * bpp bytes);
//      jpeg: one baseline/progressive JPEG image whose size must equal width x height.
// Anything else (wrong part count, bad JSON, missing or mistyped fields, sizes that do not add up) is a
// malformed message: the source counts it in stats().corrupt and drops it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace yoco::pipeline {

enum class FramePayloadFormat { kRgb24, kBgr24, kGray8, kJpeg };

struct FrameMessageHeader {
  std::string stream;
  double pts = 0;
  int width = 0, height = 0;
  FramePayloadFormat format = FramePayloadFormat::kRgb24;
  int stride = 0;      // raw formats: bytes per row (filled in when absent)
  int64_t index = -1;  // -1 when absent
};

constexpr size_t kMaxFrameHeaderBytes = 4096;
constexpr int kMaxFrameMessageSide = 8192;

// Parses and validates a header against the payload size. Throws yoco::Error naming the first problem.
// Pure function of its inputs; safe on arbitrary bytes (fuzzed by tests/fuzz/fuzz_frame_message.cpp).
FrameMessageHeader parse_frame_message(const void* header, size_t header_size, size_t payload_size);

// The JSON header for `h` (what a publisher sends as part 1).
std::string encode_frame_header(const FrameMessageHeader& h);

const char* frame_payload_format_name(FramePayloadFormat f);

}  // namespace yoco::pipeline
