// Watch cursors: a resumed stream starts exactly where the client left off, in every partition;
// anything the server did not write is refused with a message.

#include "api/event_cursor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace stswatch::api {
namespace {

TEST(EventCursorTest, RoundTrips) {
  const EventCursor c({{1796005073815, 0}, {1796005073827, 1}, {0, 0}});
  const std::string text = c.Encode();
  EXPECT_EQ(text, "c1.0.1796005073815,1796005073827-1,0");
  const auto back = EventCursor::Decode(text, 3);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->positions(), c.positions());
  const EventCursor dense({{1796005073815, 0}, {1796005073827, 1}});
  EXPECT_EQ(dense.Encode(), "c1.1796005073815.0,12-1");
}

TEST(EventCursorTest, RefusesWhatItDidNotWrite) {
  for (const char* bad : {"", "c1.", "c1.x.0", "c2.0.0", "c1.0.0,", "c1.0.0-", "c1.0.0,0,0,0",
                          "c1.18446744073709551615.1", "c1.0.-1", "c1.0.1-x"}) {
    const auto c = EventCursor::Decode(bad, 3);
    EXPECT_FALSE(c.ok()) << bad;
    if (!c.ok()) {
      EXPECT_THAT(std::string(c.status().message()), ::testing::HasSubstr("cursor"));
    }
  }
  // Another partition count: not this server's cursor.
  EXPECT_FALSE(EventCursor::Decode(EventCursor({{1, 0}, {2, 0}}).Encode(), 3).ok());
}

TEST(StreamIdTest, ParsesRedisIds) {
  EXPECT_EQ(StreamId::Parse("1700000000000-3"), (StreamId{1700000000000, 3}));
  EXPECT_EQ(StreamId::Parse("17"), std::nullopt);
  EXPECT_EQ(StreamId::Parse("a-1"), std::nullopt);
  EXPECT_LT((StreamId{5, 9}), (StreamId{6, 0}));
}

}  // namespace
}  // namespace stswatch::api
