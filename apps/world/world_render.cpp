#include "apps/world/world_render.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/error.h"

#ifdef YOCO_WORLD_HAVE_OPENCV
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#endif

namespace yoco::world {

namespace {
constexpr int kNoiseTiles = 8;
constexpr int kNoiseAmplitude = 7;  // grey levels either side
}  // namespace

bool WorldRenderer::available() {
#ifdef YOCO_WORLD_HAVE_OPENCV
  return true;
#else
  return false;
#endif
}

WorldRenderer::WorldRenderer(const Scenario& scenario) : sc_(scenario) {
  YOCO_REQUIRE(available(), "yoco world needs OpenCV (core, imgproc) and this build has none");
  // Pre-made backgrounds: per-frame noise without paying for a PRNG per pixel per frame.
  const size_t n = static_cast<size_t>(sc_.options.width) * sc_.options.height;
  Rng rng(sc_.options.seed ^ 0xA5A5A5A5DEADBEEFull);
  noise_.resize(kNoiseTiles);
  for (auto& tile : noise_) {
    tile.resize(n * 3);
    for (size_t i = 0; i < n; ++i) {
      const uint64_t r = rng.next();
      const int g = std::clamp(sc_.background + static_cast<int>(r % (2 * kNoiseAmplitude + 1)) - kNoiseAmplitude,
                               0, 255);
      const int tint = static_cast<int>((r >> 8) % 3) - 1;  // a little chroma noise
      tile[3 * i + 0] = static_cast<uint8_t>(std::clamp(g + tint, 0, 255));
      tile[3 * i + 1] = static_cast<uint8_t>(g);
      tile[3 * i + 2] = static_cast<uint8_t>(std::clamp(g - tint, 0, 255));
    }
  }
}

void WorldRenderer::render(int64_t frame, uint8_t* rgb) const {
#ifdef YOCO_WORLD_HAVE_OPENCV
  const int W = sc_.options.width, H = sc_.options.height;
  const double t = static_cast<double>(frame) / sc_.options.fps;
  // Tile choice mixes the frame index so consecutive frames differ (codec sees real noise).
  const uint64_t pick = (static_cast<uint64_t>(frame) * 0x9E3779B97F4A7C15ull ^ sc_.options.seed) >> 59;
  const auto& tile = noise_[pick % kNoiseTiles];
  std::memcpy(rgb, tile.data(), tile.size());
  cv::Mat img(H, W, CV_8UC3, rgb);

  constexpr int kShift = 4;  // sub-pixel positions: coordinates in 1/16 px
  auto fix = [](double v) { return static_cast<int>(std::lround(v * (1 << kShift))); };
  for (const auto& ob : sc_.objects) {
    if (!ob.visible(t)) continue;
    const auto& c = kColourRgb[ob.colour];
    const cv::Scalar colour(c[0], c[1], c[2]);
    const double x = ob.x(t), y = ob.y(t), r = ob.radius;
    switch (ob.shape) {
      case 0: {  // square
        const cv::Point pts[4] = {{fix(x - r), fix(y - r)}, {fix(x + r), fix(y - r)}, {fix(x + r), fix(y + r)},
                                  {fix(x - r), fix(y + r)}};
        cv::fillConvexPoly(img, pts, 4, colour, cv::LINE_AA, kShift);
        break;
      }
      case 1:  // circle
        cv::circle(img, {fix(x), fix(y)}, fix(r), colour, cv::FILLED, cv::LINE_AA, kShift);
        break;
      default: {  // triangle, apex up
        const cv::Point pts[3] = {{fix(x), fix(y - r)}, {fix(x + r), fix(y + r)}, {fix(x - r), fix(y + r)}};
        cv::fillConvexPoly(img, pts, 3, colour, cv::LINE_AA, kShift);
        break;
      }
    }
  }
  for (const auto& code : sc_.codes) {
    if (!code.visible(t)) continue;
    const cv::Rect box(static_cast<int>(code.box.x0), static_cast<int>(code.box.y0),
                       static_cast<int>(code.box.x1 - code.box.x0), static_cast<int>(code.box.y1 - code.box.y0));
    if (code.boxed) cv::rectangle(img, box, cv::Scalar(245, 245, 245), cv::FILLED);
    const int font = cv::FONT_HERSHEY_SIMPLEX;
    int base = 0;
    const cv::Size unit = cv::getTextSize(code.digits, font, 1.0, 2, &base);
    const double scale = std::min(0.86 * box.width / unit.width, 0.66 * box.height / unit.height);
    const int thick = std::max(1, static_cast<int>(std::lround(2.2 * scale)));
    const cv::Size sz = cv::getTextSize(code.digits, font, scale, thick, &base);
    const cv::Point org(box.x + (box.width - sz.width) / 2, box.y + (box.height + sz.height) / 2);
    const cv::Scalar ink = code.boxed ? cv::Scalar(0, 0, 0) : cv::Scalar(235, 220, 50);
    cv::putText(img, code.digits, org, font, scale, ink, thick, cv::LINE_AA);
  }
  for (const auto& f : sc_.flashes)
    if (f.visible(t)) img.convertTo(img, -1, 0.5, 127.5);  // halfway to white
#else
  (void)frame;
  (void)rgb;
  throw Error("yoco world needs OpenCV (core, imgproc) and this build has none");
#endif
}

}  // namespace yoco::world
