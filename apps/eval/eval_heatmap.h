// The needle test's heatmap: a grid of accuracies (rows × columns) drawn as coloured cells (red 0 → yellow →
// green 1) with the numbers in them, written as PNG with OpenCV (imgcodecs).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace yoco::eval {

struct Heatmap {
  std::string title;
  std::string row_axis, col_axis;       // e.g. "length", "needle depth"
  std::vector<std::string> rows, cols;  // labels
  std::vector<std::vector<std::optional<double>>>
      cells;  // [rows][cols], accuracy in [0, 1]; nullopt: not run
};

// Writes `map` to `path` (PNG). Throws yoco::Error when the build has no OpenCV imgcodecs or the write fails.
void write_heatmap_png(const Heatmap& map, const std::string& path);
bool heatmap_available();

}  // namespace yoco::eval
