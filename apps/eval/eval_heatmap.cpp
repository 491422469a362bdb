#include "apps/eval/eval_heatmap.h"

#include <algorithm>
#include <cstdio>

#include "kernels/error.h"

#ifdef YOCO_EVAL_HAVE_IMGCODECS
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#endif

namespace yoco::eval {

bool heatmap_available() {
#ifdef YOCO_EVAL_HAVE_IMGCODECS
  return true;
#else
  return false;
#endif
}

#ifdef YOCO_EVAL_HAVE_IMGCODECS
namespace {

// Red (0) → yellow (0.5) → green (1), as BGR.
cv::Scalar colour_of(double a) {
  a = std::clamp(a, 0.0, 1.0);
  const double r = a < 0.5 ? 220 : 220 * (1.0 - a) * 2.0 + 40 * (a - 0.5) * 2.0;
  const double g = a < 0.5 ? 60 + 160 * a * 2.0 : 220 - 40 * (a - 0.5) * 2.0;
  return cv::Scalar(60, g, r);
}

void text(cv::Mat& img, const std::string& s, int cx, int cy, double scale, const cv::Scalar& c,
          int thick = 1) {
  int base = 0;
  const cv::Size sz = cv::getTextSize(s, cv::FONT_HERSHEY_SIMPLEX, scale, thick, &base);
  cv::putText(img, s, cv::Point(cx - sz.width / 2, cy + sz.height / 2), cv::FONT_HERSHEY_SIMPLEX, scale, c,
              thick, cv::LINE_AA);
}

}  // namespace
#endif

void write_heatmap_png(const Heatmap& map, const std::string& path) {
#ifdef YOCO_EVAL_HAVE_IMGCODECS
  YOCO_REQUIRE(!map.rows.empty() && !map.cols.empty() && map.cells.size() == map.rows.size(),
               "heatmap: rows, columns and cells do not match");
  for (const auto& r : map.cells)
    YOCO_REQUIRE(r.size() == map.cols.size(), "heatmap: a row has the wrong width");
  const int cw = 84, ch = 44, left = 110, top = 58, bottom = 40;
  const int w = left + cw * static_cast<int>(map.cols.size()) + 16;
  const int h = top + ch * static_cast<int>(map.rows.size()) + bottom;
  cv::Mat img(h, w, CV_8UC3, cv::Scalar(255, 255, 255));
  const cv::Scalar ink(30, 30, 30), grey(200, 200, 200);
  text(img, map.title, w / 2, 14, 0.45, ink);
  text(img, map.col_axis, left + cw * static_cast<int>(map.cols.size()) / 2, 34, 0.42, ink);
  for (size_t c = 0; c < map.cols.size(); ++c)
    text(img, map.cols[c], left + cw * static_cast<int>(c) + cw / 2, top - 10, 0.42, ink);
  for (size_t r = 0; r < map.rows.size(); ++r) {
    const int y0 = top + ch * static_cast<int>(r);
    text(img, map.rows[r], left / 2, y0 + ch / 2, 0.42, ink);
    for (size_t c = 0; c < map.cols.size(); ++c) {
      const int x0 = left + cw * static_cast<int>(c);
      const auto& v = map.cells[r][c];
      cv::rectangle(img, cv::Rect(x0, y0, cw, ch), v ? colour_of(*v) : grey, cv::FILLED);
      cv::rectangle(img, cv::Rect(x0, y0, cw, ch), cv::Scalar(255, 255, 255), 1);
      char buf[32];
      if (v)
        std::snprintf(buf, sizeof buf, "%.0f%%", 100.0 * *v);
      else
        std::snprintf(buf, sizeof buf, "-");
      text(img, buf, x0 + cw / 2, y0 + ch / 2, 0.5, ink, 1);
    }
  }
  text(img, map.row_axis, left / 2, top - 10, 0.42, ink);
  text(img, "cell: exact-match accuracy (red 0% - green 100%)", w / 2, h - bottom / 2, 0.38, ink);
  bool ok = false;
  try {
    ok = cv::imwrite(path, img, {cv::IMWRITE_PNG_COMPRESSION, 9});
  } catch (const cv::Exception& e) {
    throw Error("cannot write " + path + ": " + e.what());
  }
  YOCO_REQUIRE(ok, "cannot write " + path);
#else
  (void)map;
  throw Error("cannot write " + path + ": this build has no OpenCV imgcodecs");
#endif
}

}  // namespace yoco::eval
