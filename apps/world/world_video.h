// WorldVideoWriter: RGB24 frames -> MP4 through libavcodec/libavformat, so synthetic videos carry the same
// codec artefacts and go through the same decoding path (pipeline/FfmpegSource) as users' videos.
//
// H.264 with libx264 (yuv420p, CRF 23, GOP of about 2 s, preset veryfast, one thread so that the same
// frames give the same bitstream); falls back to FFmpeg's mpeg4 encoder when libx264 is missing (codec()
// says which). Frame k gets pts k / fps. Not thread-safe; one writer per file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace yoco::world {

struct VideoWriterOptions {
  int width = 128, height = 128;  // even
  double fps = 4.0;
  int crf = 23;
  double gop_seconds = 2.0;
  bool force_mpeg4 = false;  // for tests of the fallback
};

class WorldVideoWriter {
 public:
  // Opens `path` for writing; throws yoco::Error (one line) when it cannot be created or no encoder exists.
  WorldVideoWriter(const std::string& path, const VideoWriterOptions& options);
  ~WorldVideoWriter();
  WorldVideoWriter(const WorldVideoWriter&) = delete;
  WorldVideoWriter& operator=(const WorldVideoWriter&) = delete;

  // Encodes the next frame: packed RGB24, [height, width * 3].
  void write(const uint8_t* rgb);
  // Flushes the encoder and writes the trailer. Called by the destructor if not called (errors then ignored).
  void finish();
  const std::string& codec() const;  // "libx264" or "mpeg4"
  int64_t frames() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace yoco::world
