#include "mtasts/text.h"

#include <string>

#include <gtest/gtest.h>

namespace stswatch::mtasts {
namespace {

TEST(TextTest, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // Truncated.
  EXPECT_FALSE(IsValidUtf8("\x80"));              // Lone continuation byte.
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // Overlong "/".
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\xaf"));      // Overlong, three bytes.
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // UTF-16 surrogate.
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // Past U+10FFFF.
  EXPECT_FALSE(IsValidUtf8("\xff"));
}

TEST(TextTest, QuoteEscapesAndTruncates) {
  EXPECT_EQ(Quote("abc"), "\"abc\"");
  EXPECT_EQ(Quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(Quote("\x1b[2J\r\n\xff"), "\"\\x1b[2J\\x0d\\x0a\\xff\"");
  EXPECT_EQ(Quote(std::string(100, 'x'), 4), "\"xxxx...\"");
}

TEST(TextTest, CaseAndWhitespace) {
  EXPECT_TRUE(EqualsIgnoreCase("Mail.Example", "mail.EXAMPLE"));
  EXPECT_FALSE(EqualsIgnoreCase("mail", "mail."));
  EXPECT_EQ(ToLowerAscii("MiXeD-123"), "mixed-123");
  EXPECT_EQ(TrimWsp(" \t a b \t"), "a b");
}

TEST(TextTest, EditDistance) {
  EXPECT_EQ(EditDistance("mx", "mx"), 0);
  EXPECT_EQ(EditDistance("nmx", "mx"), 1);
  EXPECT_EQ(EditDistance("max-age", "max_age"), 1);
  EXPECT_EQ(EditDistance("mdoe", "mode"), 1);  // Transposition.
  EXPECT_GT(EditDistance("version", "mode"), 2);
}

}  // namespace
}  // namespace stswatch::mtasts
