#include "prober/smtp_reply.h"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace stswatch::prober {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Limits = SmtpReplyParser::Limits;

constexpr char kEhloReply[] =
    "250-mx.example.com\r\n"
    "250-PIPELINING\r\n"
    "250-SIZE 10240000\r\n"
    "250-STARTTLS\r\n"
    "250-ENHANCEDSTATUSCODES\r\n"
    "250-8BITMIME\r\n"
    "250 SMTPUTF8\r\n";

// Feeds `bytes` in pieces of `piece` bytes (all at once when 0) and takes every reply.
std::vector<SmtpReply> ParseAll(SmtpReplyParser& parser, std::string_view bytes,
                                std::size_t piece = 0) {
  std::vector<SmtpReply> replies;
  const std::size_t step = piece == 0 ? std::max<std::size_t>(bytes.size(), 1) : piece;
  for (std::size_t i = 0; i < bytes.size(); i += step) {
    parser.Feed(bytes.substr(i, step));
    while (auto reply = parser.Next()) {
      replies.push_back(std::move(*reply));
    }
  }
  return replies;
}

std::vector<SmtpReply> ParseAll(std::string_view bytes, std::size_t piece = 0) {
  SmtpReplyParser parser;
  return ParseAll(parser, bytes, piece);
}

TEST(SmtpReplyTest, Banner) {
  SmtpReplyParser p;
  p.Feed("220 mx.example.com ESMTP Postfix (Debian/GNU)\r\n");
  const std::optional<SmtpReply> reply = p.Next();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->code, 220);
  EXPECT_THAT(reply->lines, ElementsAre("mx.example.com ESMTP Postfix (Debian/GNU)"));
  EXPECT_EQ(reply->Text(), "mx.example.com ESMTP Postfix (Debian/GNU)");
  EXPECT_FALSE(p.Next().has_value());
  EXPECT_FALSE(p.failed());
  EXPECT_THAT(p.error_message(), IsEmpty());
  EXPECT_EQ(p.buffered_bytes(), 0u);
}

TEST(SmtpReplyTest, MultiLineEhloReply) {
  const std::vector<SmtpReply> replies = ParseAll(kEhloReply);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].code, 250);
  EXPECT_THAT(replies[0].lines,
              ElementsAre("mx.example.com", "PIPELINING", "SIZE 10240000", "STARTTLS",
                          "ENHANCEDSTATUSCODES", "8BITMIME", "SMTPUTF8"));
  EXPECT_EQ(replies[0].Text(),
            "mx.example.com\nPIPELINING\nSIZE 10240000\nSTARTTLS\nENHANCEDSTATUSCODES\n8BITMIME\n"
            "SMTPUTF8");
}

TEST(SmtpReplyTest, ReplyIsNotReturnedBeforeItsLastLine) {
  SmtpReplyParser p;
  p.Feed("250-mx.example.com\r\n250-STARTTLS\r\n");
  EXPECT_FALSE(p.Next().has_value());
  p.Feed("250 8BITMI");
  EXPECT_FALSE(p.Next().has_value());
  p.Feed("ME\r");
  EXPECT_FALSE(p.Next().has_value());
  p.Feed("\n");
  const std::optional<SmtpReply> reply = p.Next();
  ASSERT_TRUE(reply.has_value());
  EXPECT_THAT(reply->lines, ElementsAre("mx.example.com", "STARTTLS", "8BITMIME"));
}

TEST(SmtpReplyTest, PipelinedRepliesComeOutInOrder) {
  SmtpReplyParser p;
  p.Feed("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n221 Bye\r\n");
  std::vector<int> codes;
  while (auto reply = p.Next()) {
    codes.push_back(reply->code);
  }
  EXPECT_THAT(codes, ElementsAre(250, 250, 354, 221));
  EXPECT_FALSE(p.failed());
}

TEST(SmtpReplyTest, StartTlsAnswers) {
  const std::vector<SmtpReply> ready = ParseAll("220 2.0.0 Ready to start TLS\r\n");
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].code, 220);
  EXPECT_EQ(ready[0].Text(), "2.0.0 Ready to start TLS");
  const std::vector<SmtpReply> refused =
      ParseAll("454 4.7.0 TLS not available due to local problem\r\n");
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].code, 454);
  EXPECT_EQ(refused[0].Text(), "4.7.0 TLS not available due to local problem");
}

TEST(SmtpReplyTest, BareCodeAndEmptyTextLines) {
  const std::vector<SmtpReply> replies = ParseAll("250\r\n250-\r\n250 \r\n354-a\r\n354\r\n");
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(replies[0].code, 250);
  EXPECT_THAT(replies[0].lines, ElementsAre(""));
  EXPECT_THAT(replies[1].lines, ElementsAre("", ""));
  EXPECT_EQ(replies[2].code, 354);
  EXPECT_THAT(replies[2].lines, ElementsAre("a", ""));
}

TEST(SmtpReplyTest, LfOnlyLineEndsAreAccepted) {
  const std::vector<SmtpReply> replies = ParseAll("250-mx.example.com\n250 STARTTLS\n221 Bye\n");
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_THAT(replies[0].lines, ElementsAre("mx.example.com", "STARTTLS"));
  EXPECT_THAT(replies[1].lines, ElementsAre("Bye"));
}

TEST(SmtpReplyTest, TextIsKeptAsBytes) {
  const std::string line = std::string("550 caf\xc3\xa9 \xff\xfe\x01\0 \r x\t", 19);
  SmtpReplyParser p;
  p.Feed(line + "\r\n");
  const std::optional<SmtpReply> reply = p.Next();
  ASSERT_TRUE(reply.has_value()) << p.error_message();
  EXPECT_EQ(reply->code, 550);
  EXPECT_EQ(reply->Text(), line.substr(4));
}

TEST(SmtpReplyTest, NotReplyLines) {
  for (const char* bad : {
           "\r\n",                          // empty
           "25\r\n",                        // two digits
           "2x0 Ok\r\n",                    // not digits
           "250Ok\r\n",                     // no separator
           "250_Ok\r\n",                    //
           " 250 Ok\r\n",                   // leading space
           "HTTP/1.1 400 Bad Request\r\n",  // not an SMTP server
           "SSH-2.0-OpenSSH_9.2p1\r\n",
       }) {
    SmtpReplyParser p;
    p.Feed(bad);
    EXPECT_TRUE(p.failed()) << bad;
    EXPECT_THAT(p.error_message(), HasSubstr("not an SMTP reply line")) << bad;
    EXPECT_FALSE(p.Next().has_value()) << bad;
  }
}

TEST(SmtpReplyTest, CodeMustBeginWithTwoToFive) {
  for (const char* bad : {"000 x\r\n", "100 x\r\n", "199 x\r\n", "600 x\r\n", "999 x\r\n"}) {
    SmtpReplyParser p;
    p.Feed(bad);
    EXPECT_TRUE(p.failed()) << bad;
    EXPECT_THAT(p.error_message(), HasSubstr("begin with 2, 3, 4 or 5")) << bad;
    EXPECT_FALSE(p.Next().has_value());
  }
  for (const char* good : {"200 x\r\n", "599 x\r\n", "421 x\r\n", "354 x\r\n"}) {
    SmtpReplyParser p;
    p.Feed(good);
    EXPECT_FALSE(p.failed()) << good;
    EXPECT_TRUE(p.Next().has_value()) << good;
  }
}

TEST(SmtpReplyTest, LinesOfOneReplyCarryOneCode) {
  SmtpReplyParser p;
  p.Feed("250-mx.example.com\r\n251 STARTTLS\r\n");
  EXPECT_TRUE(p.failed());
  EXPECT_THAT(p.error_message(), HasSubstr("another code"));
  EXPECT_FALSE(p.Next().has_value());
}

TEST(SmtpReplyTest, RepliesBeforeAnErrorAreStillReturned) {
  SmtpReplyParser p;
  p.Feed("220 mx.example.com ESMTP\r\nhello\r\n250 never\r\n");
  EXPECT_TRUE(p.failed());
  const std::optional<SmtpReply> banner = p.Next();
  ASSERT_TRUE(banner.has_value());
  EXPECT_EQ(banner->code, 220);
  EXPECT_FALSE(p.Next().has_value());
  // Input after the error is ignored.
  p.Feed("250 ok\r\n");
  EXPECT_FALSE(p.Next().has_value());
  EXPECT_TRUE(p.failed());
}

TEST(SmtpReplyTest, OneMebibyteWithoutLineEndFailsAtOnce) {
  // The hostile "long-line" server: "220 " and 1 MiB of 'x' without a line end.
  SmtpReplyParser p;
  p.Feed("220 " + std::string(1 << 20, 'x'));
  EXPECT_TRUE(p.failed());
  EXPECT_THAT(p.error_message(), HasSubstr("longer than 2048 bytes"));
  EXPECT_LE(p.buffered_bytes(), 2049u);
  EXPECT_FALSE(p.Next().has_value());
}

TEST(SmtpReplyTest, LongLineFailsAsSoonAsTheLimitIsExceeded) {
  const Limits limits{.max_line_bytes = 100, .max_reply_lines = 64};
  SmtpReplyParser p(limits);
  std::size_t fed = 0;
  while (!p.failed() && fed < (1u << 20)) {
    p.Feed(fed < 4 ? std::string_view("220 ").substr(fed, 1) : std::string_view("x"));
    ++fed;
    EXPECT_LE(p.buffered_bytes(), 101u);
  }
  EXPECT_TRUE(p.failed());
  EXPECT_EQ(fed, 101u);
}

TEST(SmtpReplyTest, LineOfExactlyTheLimitIsAccepted) {
  const Limits limits{.max_line_bytes = 100, .max_reply_lines = 64};
  const std::string line = "250 " + std::string(96, 'x');
  // CRLF at once, the CR alone, and LF only.
  for (const std::vector<std::string>& reads :
       {std::vector<std::string>{line + "\r\n"}, std::vector<std::string>{line, "\r", "\n"},
        std::vector<std::string>{line, "\n"}}) {
    SmtpReplyParser p(limits);
    for (const std::string& read : reads) {
      p.Feed(read);
    }
    EXPECT_FALSE(p.failed()) << p.error_message();
    const std::optional<SmtpReply> reply = p.Next();
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->lines[0].size(), 96u);
  }
  for (const std::string& over : {line + "x\r\n", line + "\rx"}) {
    SmtpReplyParser p(limits);
    p.Feed(over);
    EXPECT_TRUE(p.failed());
  }
}

TEST(SmtpReplyTest, TooManyLinesFail) {
  const Limits limits{.max_line_bytes = 2048, .max_reply_lines = 3};
  SmtpReplyParser exact(limits);
  exact.Feed("250-a\r\n250-b\r\n250 c\r\n");
  EXPECT_FALSE(exact.failed());
  EXPECT_TRUE(exact.Next().has_value());

  SmtpReplyParser over(limits);
  over.Feed("250-a\r\n250-b\r\n250-c\r\n250-d\r\n");
  EXPECT_TRUE(over.failed());
  EXPECT_THAT(over.error_message(), HasSubstr("more than 3 lines"));

  // An endless multi-line reply with the default limits.
  SmtpReplyParser endless;
  for (int i = 0; i < 100000 && !endless.failed(); ++i) {
    endless.Feed("250-PIPELINING\r\n");
  }
  EXPECT_TRUE(endless.failed());
  EXPECT_LE(endless.buffered_bytes(), 65u * 16u);
}

TEST(SmtpReplyTest, BufferedBytesRevealPlaintextInjectedBeforeTls) {
  // The hostile "inject-after-starttls" server answers STARTTLS and adds a reply in one write.
  SmtpReplyParser p;
  p.Feed("220 2.0.0 Ready to start TLS\r\n250 injected-before-handshake\r\n");
  const std::optional<SmtpReply> ready = p.Next();
  ASSERT_TRUE(ready.has_value());
  EXPECT_EQ(ready->code, 220);
  EXPECT_EQ(p.buffered_bytes(), std::string_view("250 injected-before-handshake\r\n").size());
  p.DiscardBuffered();
  EXPECT_EQ(p.buffered_bytes(), 0u);
  EXPECT_FALSE(p.Next().has_value());
  EXPECT_FALSE(p.failed());
}

TEST(SmtpReplyTest, BufferedBytesCountPartialLinesAndReplies) {
  SmtpReplyParser p;
  EXPECT_EQ(p.buffered_bytes(), 0u);
  p.Feed("250-a\r\n25");
  EXPECT_EQ(p.buffered_bytes(), 9u);
  p.Feed("0 b\n");
  EXPECT_EQ(p.buffered_bytes(), 13u);
  p.DiscardBuffered();
  // A partial reply discarded does not leak into the next one.
  p.Feed("220 c\r\n");
  const std::optional<SmtpReply> reply = p.Next();
  ASSERT_TRUE(reply.has_value());
  EXPECT_THAT(reply->lines, ElementsAre("c"));
  EXPECT_EQ(p.buffered_bytes(), 0u);
}

TEST(SmtpReplyTest, DiscardAfterPartialLineStartsAfresh) {
  SmtpReplyParser p;
  p.Feed("250-mx.exam");
  p.DiscardBuffered();
  p.Feed("220 ready\r\n");
  const std::optional<SmtpReply> reply = p.Next();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->code, 220);
  EXPECT_THAT(reply->lines, ElementsAre("ready"));
}

class SmtpReplyPiecesTest : public ::testing::TestWithParam<std::size_t> {};

TEST_P(SmtpReplyPiecesTest, SameRepliesAsInOneRead) {
  const std::string session = std::string("220 mx.example.com ESMTP\r\n") + kEhloReply +
                              "250 2.1.0 Ok\n354-go\r\n354 ahead\r\n";
  const std::vector<SmtpReply> whole = ParseAll(session);
  ASSERT_EQ(whole.size(), 4u);
  const std::vector<SmtpReply> pieces = ParseAll(session, GetParam());
  ASSERT_EQ(pieces.size(), whole.size());
  for (std::size_t i = 0; i < whole.size(); ++i) {
    EXPECT_EQ(pieces[i].code, whole[i].code);
    EXPECT_EQ(pieces[i].lines, whole[i].lines);
  }
  // An error is found however the bytes are split, after the same replies.
  SmtpReplyParser p;
  const std::vector<SmtpReply> before = ParseAll(p, session + "250-a\r\n251 b\r\n", GetParam());
  EXPECT_EQ(before.size(), 4u);
  EXPECT_TRUE(p.failed());
}

INSTANTIATE_TEST_SUITE_P(Sizes, SmtpReplyPiecesTest, ::testing::Values(1, 2, 3, 7, 64));

}  // namespace
}  // namespace stswatch::prober
