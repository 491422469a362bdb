#include "pipeline/frame_message.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "kernels/error.h"

namespace yoco::pipeline {

const char* frame_payload_format_name(FramePayloadFormat f) {
  switch (f) {
    case FramePayloadFormat::kRgb24: return "rgb24";
    case FramePayloadFormat::kBgr24: return "bgr24";
    case FramePayloadFormat::kGray8: return "gray8";
    case FramePayloadFormat::kJpeg: return "jpeg";
  }
  return "unknown";
}

static int bytes_per_pixel(FramePayloadFormat f) { return f == FramePayloadFormat::kGray8 ? 1 : 3; }

static int side(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  YOCO_REQUIRE(it != j.end() && it->is_number_integer(), std::string("frame header: '") + key + "' must be an integer");
  const auto v = it->get<int64_t>();
  YOCO_REQUIRE(v >= 1 && v <= kMaxFrameMessageSide,
               std::string("frame header: '") + key + "' out of range [1, 8192]");
  return static_cast<int>(v);
}

FrameMessageHeader parse_frame_message(const void* header, size_t header_size, size_t payload_size) {
  YOCO_REQUIRE(header_size > 0 && header_size <= kMaxFrameHeaderBytes, "frame header: empty or longer than 4096 bytes");
  const char* begin = static_cast<const char*>(header);
  const auto j = nlohmann::json::parse(begin, begin + header_size, nullptr, /*allow_exceptions=*/false);
  YOCO_REQUIRE(!j.is_discarded() && j.is_object(), "frame header: not a JSON object");
  FrameMessageHeader h;
  if (auto it = j.find("stream"); it != j.end()) {
    YOCO_REQUIRE(it->is_string(), "frame header: 'stream' must be a string");
    h.stream = it->get<std::string>();
  }
  auto pts = j.find("pts");
  YOCO_REQUIRE(pts != j.end() && pts->is_number(), "frame header: 'pts' must be a number");
  h.pts = pts->get<double>();
  YOCO_REQUIRE(std::isfinite(h.pts) && std::fabs(h.pts) < 1e12, "frame header: 'pts' out of range");
  h.width = side(j, "width");
  h.height = side(j, "height");
  auto fmt = j.find("format");
  YOCO_REQUIRE(fmt != j.end() && fmt->is_string(), "frame header: 'format' must be a string");
  const auto f = fmt->get<std::string>();
  if (f == "rgb24") h.format = FramePayloadFormat::kRgb24;
  else if (f == "bgr24") h.format = FramePayloadFormat::kBgr24;
  else if (f == "gray8") h.format = FramePayloadFormat::kGray8;
  else if (f == "jpeg") h.format = FramePayloadFormat::kJpeg;
  else throw Error("frame header: unknown format '" + f.substr(0, 32) + "'");
  if (auto it = j.find("index"); it != j.end()) {
    YOCO_REQUIRE(it->is_number_integer() && it->get<int64_t>() >= 0, "frame header: 'index' must be an integer >= 0");
    h.index = it->get<int64_t>();
  }
  YOCO_REQUIRE(payload_size > 0, "frame message: empty payload");
  if (h.format == FramePayloadFormat::kJpeg) {
    YOCO_REQUIRE(j.find("stride") == j.end(), "frame header: 'stride' is for raw formats");
    return h;
  }
  const int64_t row = static_cast<int64_t>(h.width) * bytes_per_pixel(h.format);
  h.stride = static_cast<int>(row);
  if (auto it = j.find("stride"); it != j.end()) {
    YOCO_REQUIRE(it->is_number_integer(), "frame header: 'stride' must be an integer");
    const auto s = it->get<int64_t>();
    YOCO_REQUIRE(s >= row && s <= 4 * row + 64, "frame header: 'stride' smaller than a row or absurdly large");
    h.stride = static_cast<int>(s);
  }
  const uint64_t full = static_cast<uint64_t>(h.stride) * h.height;
  const uint64_t tight = static_cast<uint64_t>(h.stride) * (h.height - 1) + row;
  YOCO_REQUIRE(payload_size == full || payload_size == tight,
               "frame message: payload of " + std::to_string(payload_size) + " bytes does not match " +
                   std::to_string(h.width) + "x" + std::to_string(h.height) + " " + f);
  return h;
}

std::string encode_frame_header(const FrameMessageHeader& h) {
  nlohmann::json j = {{"pts", h.pts},
                      {"width", h.width},
                      {"height", h.height},
                      {"format", frame_payload_format_name(h.format)}};
  if (!h.stream.empty()) j["stream"] = h.stream;
  if (h.format != FramePayloadFormat::kJpeg && h.stride > 0) j["stride"] = h.stride;
  if (h.index >= 0) j["index"] = h.index;
  return j.dump();
}

}  // namespace yoco::pipeline
