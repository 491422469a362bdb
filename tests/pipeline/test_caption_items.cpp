// Stray "mm:ss …" items in summary captions (pipeline/caption_items.h, pipeline/summary.h).
#include <gtest/gtest.h>

#include "pipeline/caption_items.h"
#include "pipeline/summary.h"

namespace yoco::pipeline {
namespace {

TEST(CaptionItems, ParsesClockTimes) {
  EXPECT_EQ(parse_clock_time("00:00"), 0.0);
  EXPECT_EQ(parse_clock_time("01:05"), 65.0);
  EXPECT_EQ(parse_clock_time("1:02:03"), 3723.0);
  EXPECT_EQ(parse_clock_time("125:00"), 7500.0);  // minutes past an hour, as some tools write them
  EXPECT_FALSE(parse_clock_time("00:60"));
  EXPECT_FALSE(parse_clock_time("1:60:00"));
  EXPECT_FALSE(parse_clock_time("12"));
  EXPECT_FALSE(parse_clock_time("1:2:3:4"));
  EXPECT_FALSE(parse_clock_time(":10"));
  EXPECT_FALSE(parse_clock_time("10:"));
  EXPECT_FALSE(parse_clock_time(" 00:10"));
  EXPECT_FALSE(parse_clock_time("0000001:00"));  // more than 6 digits in a field
  EXPECT_FALSE(parse_clock_time("00:1a"));
  EXPECT_FALSE(parse_clock_time(""));
}

TEST(CaptionItems, ItemTimeIsTheFirstWord) {
  EXPECT_EQ(item_time("00:12 red square enters moving left"), 12.0);
  EXPECT_EQ(item_time("  [01:30] flash"), 90.0);
  EXPECT_EQ(item_time("00:07"), 7.0);
  EXPECT_FALSE(item_time("a red square at 00:12"));
  EXPECT_FALSE(item_time("nothing happened"));
  EXPECT_FALSE(item_time("[00:12 flash"));
  EXPECT_FALSE(item_time(""));
}

TEST(CaptionItems, DropsItemsOutsideTheWindowAndKeepsTheRest) {
  const std::string caption =
      "00:09 flash; 00:12 red square leaves; 00:20 code 12; 00:21 flash; 00:25 blue circle leaves";
  const StrayFilter f = drop_stray_items(caption, 10.0, 20.0, 1.0);
  EXPECT_EQ(f.text, "00:09 flash; 00:12 red square leaves; 00:20 code 12; 00:21 flash");
  EXPECT_EQ(f.kept, 4);
  EXPECT_EQ(f.dropped, 1);
  const StrayFilter strict = drop_stray_items(caption, 10.0, 20.0, 0.0);
  EXPECT_EQ(strict.text, "00:12 red square leaves; 00:20 code 12");
  EXPECT_EQ(strict.dropped, 3);
}

TEST(CaptionItems, TextWithoutStrayItemsComesBackUnchanged) {
  for (const std::string caption : {"a red square moves left.", "", "nothing happened",
                                    " 00:12 flash ;;00:15 flash ", "the 00:40 train; 00:12 flash"}) {
    const StrayFilter f = drop_stray_items(caption, 10.0, 20.0, 1.0);
    EXPECT_EQ(f.text, caption);
    EXPECT_EQ(f.dropped, 0);
  }
}

TEST(CaptionItems, UnstampedPiecesStayAndEverythingStrayLeavesNothing) {
  const StrayFilter f = drop_stray_items("then; 00:45 flash ; more of it;", 10.0, 20.0, 1.0);
  EXPECT_EQ(f.text, "then; more of it");
  EXPECT_EQ(f.kept, 0);
  EXPECT_EQ(f.dropped, 1);
  const StrayFilter all = drop_stray_items("00:45 flash; 01:00 code 7", 10.0, 20.0, 1.0);
  EXPECT_EQ(all.text, "");
  EXPECT_EQ(all.dropped, 2);
}

TEST(CaptionItems, PrecedingCaptionsAreCheckedAgainstTheirOwnWindow) {
  std::vector<std::pair<double, std::string>> captions = {
      {10.0, "00:03 flash; 00:30 flash"},
      {20.0, "00:10 red square leaves; 00:15 flash; 00:04 flash"},
      {30.0, "nothing happened"},
      {35.0, "00:33 flash"}};
  EXPECT_EQ(drop_stray_captions(captions, true), 2);
  EXPECT_EQ(captions[0].second, "00:03 flash");
  EXPECT_EQ(captions[1].second, "00:10 red square leaves; 00:15 flash");  // a boundary event stays
  EXPECT_EQ(captions[2].second, "nothing happened");
  EXPECT_EQ(captions[3].second, "00:33 flash");
  // The events follow from the filtered captions; a caption left empty gives none.
  captions[3].second = drop_stray_items("00:50 flash", 30.0, 35.0, kStraySlack).text;
  const std::vector<SummaryEvent> events = compose_events(captions, 40.0, true);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].start, 0.0);
  EXPECT_EQ(events[1].end, 20.0);
  EXPECT_EQ(events[2].text, "nothing happened");
}

TEST(CaptionItems, TheFirstCaptionAtZeroCoversTheFirstInstant) {
  // Each caption covers (previous caption, its time]: an event at 0 is told by the caption on the first frame
  // only, so that one is kept as [0, 0]; a later caption at the time of the one before covers nothing.
  const std::vector<std::pair<double, std::string>> captions = {{0.0, "00:00 red square enters moving up"},
                                                                {10.0, "00:04 flash"},
                                                                {10.0, "00:05 flash"},
                                                                {20.0, "00:12 flash"}};
  const std::vector<SummaryEvent> events = compose_events(captions, 25.0, true);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].start, 0.0);
  EXPECT_EQ(events[0].end, 0.0);
  EXPECT_EQ(events[0].text, "00:00 red square enters moving up");
  EXPECT_EQ(events[1].start, 0.0);
  EXPECT_EQ(events[1].end, 10.0);
  EXPECT_EQ(events[1].text, "00:04 flash");
  EXPECT_EQ(events[2].start, 10.0);
  // The same text on the first frame and after it is one event.
  const auto merged = compose_events({{0.0, "nothing happened"}, {10.0, "nothing happened"}}, 10.0, true);
  ASSERT_EQ(merged.size(), 1u);
  EXPECT_EQ(merged[0].start, 0.0);
  EXPECT_EQ(merged[0].end, 10.0);
}

TEST(CaptionItems, FollowingCaptionsAreLeftAlone) {
  std::vector<std::pair<double, std::string>> captions = {{10.0, "00:30 flash"}, {20.0, "00:01 flash"}};
  const auto before = captions;
  EXPECT_EQ(drop_stray_captions(captions, false), 0);
  EXPECT_EQ(captions, before);
}

}  // namespace
}  // namespace yoco::pipeline
