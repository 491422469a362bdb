// Timestamped items in a caption: "mm:ss text; mm:ss text; …", the form the bundled model tells events in
// (docs/STREAM-FORMAT.md) and the one `yoco eval summary` scores. A caption that tells of a window of stream
// time (summarize's `preceding` coverage: (previous caption, this caption]) can only know of events inside
// it; an item stamped far outside is a recollection of an earlier window or an invention. `yoco summarize`
// drops such stray items (docs/RUNTIME.md); text that holds no stamped item passes unchanged, so the filter
// is general.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace yoco::pipeline {

// "mm:ss" or "h:mm:ss" (the stream's time tags without brackets; minutes and seconds below 60 after the first
// field, at most 6 digits a field) → seconds; nullopt for anything else, surrounding spaces included.
std::optional<double> parse_clock_time(std::string_view s);

// The time an item is stamped with: its first word (up to a space) as parse_clock_time reads it, "[mm:ss]"
// brackets allowed; nullopt when the item does not start with a timestamp.
std::optional<double> item_time(std::string_view item);

struct StrayFilter {
  std::string text;  // the caption with the stray items left out ("; " between those kept)
  int kept = 0;      // stamped items kept
  int dropped = 0;   // stamped items outside the window
};

// Splits `caption` at ';' and leaves out the stamped items whose time lies outside [from − slack, to +
// slack]; pieces without a timestamp stay. A caption without any stamped item comes back unchanged (dropped =
// 0).
StrayFilter drop_stray_items(const std::string& caption, double from, double to, double slack);

}  // namespace yoco::pipeline
