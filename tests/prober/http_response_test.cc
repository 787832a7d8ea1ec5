#include "prober/http_response.h"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace stswatch::prober {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Optional;
using Error = HttpResponseParser::Error;
using Limits = HttpResponseParser::Limits;
using State = HttpResponseParser::State;

constexpr char kPolicy[] =
    "version: STSv1\r\nmode: enforce\r\nmx: mx.example.com\r\nmax_age: 604800\r\n";

// What nginx sends for a policy file.
std::string NginxResponse() {
  return std::string(
             "HTTP/1.1 200 OK\r\n"
             "Server: nginx\r\n"
             "Date: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
             "Content-Type: text/plain\r\n"
             "Content-Length: 68\r\n"
             "Connection: close\r\n"
             "\r\n") +
         kPolicy;
}

// Feeds `response` in pieces of `piece` bytes (all at once when 0), then reports the close of the
// connection when `close`.
HttpResponseParser Parse(std::string_view response, std::size_t piece = 0, bool close = false,
                         Limits limits = {}) {
  HttpResponseParser parser(limits);
  if (piece == 0) {
    parser.Feed(response);
  } else {
    for (std::size_t i = 0; i < response.size(); i += piece) {
      parser.Feed(response.substr(i, piece));
    }
  }
  if (close) {
    parser.FinishOnClose();
  }
  return parser;
}

std::string Head(std::string_view status_line, std::string_view fields) {
  return std::string(status_line) + "\r\n" + std::string(fields) + "\r\n";
}

TEST(HttpResponseTest, ContentLengthResponse) {
  ASSERT_EQ(std::string_view(kPolicy).size(), 68u);
  const HttpResponseParser p = Parse(NginxResponse());
  ASSERT_EQ(p.state(), State::kComplete) << p.error_message();
  EXPECT_EQ(p.error(), Error::kNone);
  EXPECT_THAT(p.error_message(), IsEmpty());
  EXPECT_TRUE(p.head_complete());
  EXPECT_EQ(p.status(), 200);
  EXPECT_EQ(p.reason(), "OK");
  EXPECT_EQ(p.version(), "HTTP/1.1");
  EXPECT_EQ(p.body(), kPolicy);
}

TEST(HttpResponseTest, HeadersAreCaseInsensitiveTrimmedAndFirstWins) {
  const HttpResponseParser p = Parse(Head("HTTP/1.1 200 OK",
                                          "Content-Type: \t text/plain; charset=utf-8 \t\r\n"
                                          "X-Empty:\r\n"
                                          "x-twice: first\r\n"
                                          "X-Twice: second\r\n"
                                          "Content-Length: 0\r\n"));
  ASSERT_EQ(p.state(), State::kComplete) << p.error_message();
  EXPECT_THAT(p.Header("content-type"), Optional(std::string_view("text/plain; charset=utf-8")));
  EXPECT_THAT(p.Header("CONTENT-TYPE"), Optional(std::string_view("text/plain; charset=utf-8")));
  EXPECT_THAT(p.Header("X-Empty"), Optional(std::string_view("")));
  EXPECT_THAT(p.Header("X-TWICE"), Optional(std::string_view("first")));
  EXPECT_EQ(p.Header("Location"), std::nullopt);
  EXPECT_EQ(p.Header("Content-Typ"), std::nullopt);
}

TEST(HttpResponseTest, LfOnlyAndMixedLineEndsAreAccepted) {
  const HttpResponseParser lf = Parse("HTTP/1.1 200 OK\nContent-Length: 3\n\nabc");
  ASSERT_EQ(lf.state(), State::kComplete) << lf.error_message();
  EXPECT_EQ(lf.body(), "abc");
  const HttpResponseParser mixed = Parse("HTTP/1.1 200 OK\r\nContent-Length: 3\n\r\nabc");
  ASSERT_EQ(mixed.state(), State::kComplete) << mixed.error_message();
  EXPECT_EQ(mixed.body(), "abc");
}

TEST(HttpResponseTest, ReasonMayBeEmptyWithOrWithoutItsSpace) {
  for (const char* line : {"HTTP/1.1 404 ", "HTTP/1.1 404"}) {
    const HttpResponseParser p = Parse(Head(line, "Content-Length: 0\r\n"));
    ASSERT_EQ(p.state(), State::kComplete) << line << ": " << p.error_message();
    EXPECT_EQ(p.status(), 404);
    EXPECT_EQ(p.reason(), "");
  }
  const HttpResponseParser spaces =
      Parse(Head("HTTP/1.1 404 Not  Found\t!", "Content-Length: 0\r\n"));
  EXPECT_EQ(spaces.reason(), "Not  Found\t!");
}

TEST(HttpResponseTest, OtherHttp1VersionsAreAccepted) {
  const HttpResponseParser p = Parse("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
  ASSERT_EQ(p.state(), State::kComplete) << p.error_message();
  EXPECT_EQ(p.version(), "HTTP/1.0");
}

TEST(HttpResponseTest, MalformedStatusLines) {
  for (const char* line : {
           "",                              // an empty line where the status line belongs
           "HTTP/2 200 OK",                 // not HTTP/1.x
           "HTTP/2.0 200 OK",               //
           "http/1.1 200 OK",               // HTTP-name is case-sensitive
           "HTTP/1.x 200 OK",               //
           "HTTP/1.1  200 OK",              // two spaces
           "HTTP/1.1 20 OK",                // two digits
           "HTTP/1.1 2000 OK",              // four digits
           "HTTP/1.1 200OK",                // no space before the reason
           "HTTP/1.1 099 Low",              // out of 100..599
           "HTTP/1.1 600 High",             //
           "HTTP/1.1 200 O\x01K",           // control byte in the reason
           "HTTP/1.1 200 O\rK",             // bare CR
           "SSH-2.0-OpenSSH_9.2p1 Debian",  // not an HTTP server
           "<html><body>hello</body></html>",
           "220 mx.example.com ESMTP",
       }) {
    const HttpResponseParser p = Parse(Head(line, "Content-Length: 0\r\n"));
    EXPECT_EQ(p.state(), State::kError) << line;
    EXPECT_EQ(p.error(), Error::kMalformedStatusLine) << line;
    EXPECT_THAT(p.error_message(), HasSubstr("status line")) << line;
    EXPECT_FALSE(p.head_complete());
    EXPECT_EQ(p.status(), 0);
  }
}

TEST(HttpResponseTest, MalformedHeaderLines) {
  for (const char* fields : {
           "Content-Length: 0\r\nX-Folded: a\r\n  continued\r\n",  // obs-fold
           "Content-Length: 0\r\nX-Folded: a\r\n\tcontinued\r\n",  // obs-fold with a tab
           " Content-Length: 0\r\n",   // whitespace after the status line
           "Content-Length : 0\r\n",   // whitespace before the colon
           "Content-Length\t: 0\r\n",  //
           "no colon here\r\n",        //
           ": value\r\n",              // empty name
           "Bad Name: x\r\n",          // not a token
           "X-Cr: a\rb\r\n",           // bare CR
       }) {
    const HttpResponseParser p = Parse(Head("HTTP/1.1 200 OK", fields));
    EXPECT_EQ(p.state(), State::kError) << fields;
    EXPECT_EQ(p.error(), Error::kMalformedHeader) << fields;
    EXPECT_FALSE(p.head_complete());
  }
  // A NUL in a value (RFC 9110 §5.5).
  constexpr char kNul[] = "HTTP/1.1 200 OK\r\nX-Nul: a\0b\r\n\r\n";
  const HttpResponseParser nul = Parse(std::string_view(kNul, sizeof(kNul) - 1));
  EXPECT_EQ(nul.error(), Error::kMalformedHeader);
  // The message quotes the line with the NUL escaped, and says which line it is.
  EXPECT_THAT(nul.error_message(), HasSubstr("Line 2"));
  EXPECT_THAT(nul.error_message(), HasSubstr("\\x00"));
  const HttpResponseParser fold = Parse(Head("HTTP/1.1 200 OK", "X-A: a\r\n b\r\n"));
  EXPECT_THAT(fold.error_message(), HasSubstr("obs-fold"));
  const HttpResponseParser space = Parse(Head("HTTP/1.1 200 OK", "Host : a\r\n"));
  EXPECT_THAT(space.error_message(), HasSubstr("whitespace between the field name and the colon"));
}

TEST(HttpResponseTest, InterimResponsesAreSkipped) {
  const HttpResponseParser p = Parse(
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  ASSERT_EQ(p.state(), State::kComplete) << p.error_message();
  EXPECT_EQ(p.status(), 200);
  EXPECT_EQ(p.reason(), "OK");
  EXPECT_EQ(p.body(), "ok");
  // The interim responses' fields are not the final response's.
  EXPECT_EQ(p.Header("Link"), std::nullopt);
}

TEST(HttpResponseTest, InterimResponseAloneIsNotAResponse) {
  HttpResponseParser p;
  EXPECT_EQ(p.Feed("HTTP/1.1 100 Continue\r\n\r\n"), State::kNeedMore);
  EXPECT_FALSE(p.head_complete());
  EXPECT_EQ(p.status(), 0);
  EXPECT_EQ(p.FinishOnClose(), State::kError);
  EXPECT_EQ(p.error(), Error::kTruncated);
  EXPECT_THAT(p.error_message(), HasSubstr("interim"));
}

TEST(HttpResponseTest, SwitchingProtocolsIsFinalWithoutBody) {
  HttpResponseParser p;
  EXPECT_EQ(p.Feed("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\nPRI * HTTP/2.0"),
            State::kComplete);
  EXPECT_EQ(p.status(), 101);
  EXPECT_THAT(p.body(), IsEmpty());
}

TEST(HttpResponseTest, NoBodyFor204And304EvenWithContentLength) {
  for (const char* status : {"HTTP/1.1 204 No Content", "HTTP/1.1 304 Not Modified"}) {
    HttpResponseParser p;
    EXPECT_EQ(p.Feed(Head(status, "Content-Length: 70\r\n")), State::kComplete) << status;
    EXPECT_EQ(p.Feed(kPolicy), State::kComplete);
    EXPECT_THAT(p.body(), IsEmpty());
    EXPECT_THAT(p.Header("Content-Length"), Optional(std::string_view("70")));
  }
  // Without any framing header too: no need to wait for the close.
  EXPECT_EQ(Parse("HTTP/1.1 204 No Content\r\n\r\n").state(), State::kComplete);
}

TEST(HttpResponseTest, ZeroContentLengthCompletesAtEndOfHead) {
  const HttpResponseParser p = Parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(p.state(), State::kComplete);
  EXPECT_THAT(p.body(), IsEmpty());
}

TEST(HttpResponseTest, ChunkedBody) {
  const HttpResponseParser p = Parse(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n");
  ASSERT_EQ(p.state(), State::kComplete) << p.error_message();
  EXPECT_EQ(p.body(), "Wikipedia in\r\n\r\nchunks.");
}

TEST(HttpResponseTest, ChunkedBodyWithExtensionsTrailersAndLeadingZeros) {
  const HttpResponseParser p = Parse(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "a;name=value;quoted=\"x;y\"\r\n0123456789\r\n"
      "0000000000000000000000003 ;ext\r\nabc\r\n"
      "00\r\n"
      "Expires: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
      "X-Checksum: 1234\r\n"
      "\r\n");
  ASSERT_EQ(p.state(), State::kComplete) << p.error_message();
  EXPECT_EQ(p.body(), "0123456789abc");
  // Trailer fields are discarded, not merged into the header fields.
  EXPECT_EQ(p.Header("Expires"), std::nullopt);
}

TEST(HttpResponseTest, ChunkedBodyWithLfOnlyLineEnds) {
  const HttpResponseParser p =
      Parse("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n");
  ASSERT_EQ(p.state(), State::kComplete) << p.error_message();
  EXPECT_EQ(p.body(), "abc");
}

TEST(HttpResponseTest, TransferEncodingFinalCodingDecidesTheFraming) {
  const std::string chunked_body = "3\r\nabc\r\n0\r\n\r\n";
  for (const char* fields : {
           "Transfer-Encoding: chunked\r\n",
           "Transfer-Encoding: CHUNKED\r\n",
           "Transfer-Encoding: gzip, chunked\r\n",
           "Transfer-Encoding: gzip,\r\nTransfer-Encoding: , chunked ,\r\n",
           // RFC 9112 §6.3: Transfer-Encoding overrides Content-Length.
           "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n",
           "Transfer-Encoding: chunked\r\nContent-Length: nonsense\r\n",
       }) {
    const HttpResponseParser p = Parse(Head("HTTP/1.1 200 OK", fields) + chunked_body);
    EXPECT_EQ(p.state(), State::kComplete) << fields << p.error_message();
    EXPECT_EQ(p.body(), "abc") << fields;
  }
  // Any other final coding: the body runs until the close, framing included.
  for (const char* fields : {
           "Transfer-Encoding: gzip\r\n",
           "Transfer-Encoding: chunked, gzip\r\n",
           "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n",
           "Transfer-Encoding: gzip\r\nContent-Length: 3\r\n",
       }) {
    HttpResponseParser p;
    EXPECT_EQ(p.Feed(Head("HTTP/1.1 200 OK", fields) + chunked_body), State::kNeedMore) << fields;
    EXPECT_EQ(p.FinishOnClose(), State::kComplete) << fields;
    EXPECT_EQ(p.body(), chunked_body) << fields;
  }
}

TEST(HttpResponseTest, ChunkedBodyWithoutLastChunkIsTruncated) {
  HttpResponseParser p;
  EXPECT_EQ(p.Feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"),
            State::kNeedMore);
  EXPECT_EQ(p.FinishOnClose(), State::kError);
  EXPECT_EQ(p.error(), Error::kTruncated);
  EXPECT_THAT(p.error_message(), HasSubstr("last (zero-size) chunk"));
  // Everything but the final empty line after the last chunk is truncated too.
  EXPECT_EQ(Parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n", 0, true).error(),
            Error::kTruncated);
  EXPECT_EQ(
      Parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n", 0, true).error(),
      Error::kTruncated);
  EXPECT_EQ(Parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", 0, true).error(),
            Error::kTruncated);
}

TEST(HttpResponseTest, BadChunkSizeLines) {
  for (const char* chunk : {
           "\r\n",         // no size
           "xyz\r\n",      // not hex
           " 5\r\nabcde",  // leading space
           "5 x\r\n",      // junk after the size
           "0x5\r\n",      // a C prefix
           "-1\r\n",       // a sign
           "+5\r\n",       //
           "5\r\r\n",      // a bare CR
       }) {
    const HttpResponseParser p =
        Parse(std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") + chunk);
    EXPECT_EQ(p.state(), State::kError) << chunk;
    EXPECT_EQ(p.error(), Error::kBadChunk) << chunk;
    EXPECT_TRUE(p.head_complete());
    EXPECT_EQ(p.status(), 200);
  }
}

TEST(HttpResponseTest, ChunkDataNotMatchingItsSizeIsBadChunk) {
  for (const char* chunks : {"3\r\nabcd\r\n0\r\n\r\n", "3\r\na\r\n0\r\n\r\n", "3\r\nabc\r\r\n"}) {
    const HttpResponseParser p =
        Parse(std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") + chunks);
    EXPECT_EQ(p.error(), Error::kBadChunk) << chunks;
  }
}

TEST(HttpResponseTest, HugeChunkSizeIsRejectedBeforeItsData) {
  for (const char* size : {"ffffffffffffffffff", "FFFFFFFFFFFFFFFF", "10001", "7fffffffffffffff"}) {
    HttpResponseParser p;
    EXPECT_EQ(p.Feed(std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") + size +
                     "\r\n"),
              State::kError)
        << size;
    EXPECT_EQ(p.error(), Error::kBodyTooLarge) << size;
    EXPECT_THAT(p.error_message(), HasSubstr("65536 bytes"));
    EXPECT_THAT(p.body(), IsEmpty());
  }
}

TEST(HttpResponseTest, ChunksAddingUpPastTheLimitAreRejected) {
  const Limits limits{.max_head_bytes = 1024, .max_body_bytes = 10};
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  const HttpResponseParser exact =
      Parse(head + "6\r\n123456\r\n4\r\n7890\r\n0\r\n\r\n", 0, false, limits);
  EXPECT_EQ(exact.state(), State::kComplete) << exact.error_message();
  EXPECT_EQ(exact.body(), "1234567890");
  const HttpResponseParser over = Parse(head + "6\r\n123456\r\n5\r\n", 0, false, limits);
  EXPECT_EQ(over.error(), Error::kBodyTooLarge);
  EXPECT_EQ(over.body(), "123456");
}

TEST(HttpResponseTest, EndlessChunkSizeLineIsBadChunk) {
  HttpResponseParser p;
  p.Feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=");
  EXPECT_EQ(p.Feed(std::string(1 << 20, 'x')), State::kError);
  EXPECT_EQ(p.error(), Error::kBadChunk);
}

TEST(HttpResponseTest, TrailerSectionIsLimited) {
  const Limits limits{.max_head_bytes = 256, .max_body_bytes = 1024};
  std::string response = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n";
  for (int i = 0; i < 100; ++i) {
    response += "X-Trailer: value\r\n";
  }
  const HttpResponseParser p = Parse(response, 0, false, limits);
  EXPECT_EQ(p.error(), Error::kHeadTooLarge);
  EXPECT_THAT(p.error_message(), HasSubstr("trailer"));
}

TEST(HttpResponseTest, RepeatedIdenticalContentLengthsAreOneLength) {
  for (const char* fields : {
           "Content-Length: 3, 3\r\n",
           "Content-Length: 3\r\nContent-Length: 3\r\n",
           "Content-Length: 3\r\ncontent-length: 003\r\n",
           "Content-Length: 03 ,3,  0003\r\n",
       }) {
    const HttpResponseParser p = Parse(Head("HTTP/1.1 200 OK", fields) + "abcdef");
    EXPECT_EQ(p.state(), State::kComplete) << fields << p.error_message();
    EXPECT_EQ(p.body(), "abc") << fields;
  }
}

TEST(HttpResponseTest, BadContentLengths) {
  for (const char* value : {
           "-1", "+5", "", "5.0", "0x10", "5 5", "1e3", "five", ",", "3,", "3, 4", "\xef\xbc\x93",
           "99999999999999999999999999, 1",  // differing, however large
       }) {
    const HttpResponseParser p =
        Parse(Head("HTTP/1.1 200 OK", std::string("Content-Length: ") + value + "\r\n") + "abc");
    EXPECT_EQ(p.state(), State::kError) << value;
    EXPECT_EQ(p.error(), Error::kBadContentLength) << value;
    EXPECT_THAT(p.error_message(), HasSubstr("Content-Length")) << value;
    EXPECT_THAT(p.body(), IsEmpty());
  }
  const HttpResponseParser two =
      Parse(Head("HTTP/1.1 200 OK", "Content-Length: 3\r\nContent-Length: 4\r\n") + "abcd");
  EXPECT_EQ(two.error(), Error::kBadContentLength);
  EXPECT_THAT(two.error_message(), HasSubstr("differing"));
}

TEST(HttpResponseTest, ContentLengthOverTheLimitIsRejectedBeforeTheBody) {
  for (const char* value : {"65537", "18446744073709551615", "18446744073709551616",
                            "99999999999999999999999999999999999999999999999999"}) {
    HttpResponseParser p;
    EXPECT_EQ(p.Feed(Head("HTTP/1.1 200 OK", std::string("Content-Length: ") + value + "\r\n")),
              State::kError)
        << value;
    EXPECT_EQ(p.error(), Error::kBodyTooLarge) << value;
    EXPECT_THAT(p.error_message(), HasSubstr("65536 bytes"));
    // The head is still there for the report.
    EXPECT_EQ(p.status(), 200);
  }
  // Exactly the limit is fine.
  const std::string body(std::size_t{64} * 1024, 'a');
  const HttpResponseParser p = Parse(Head("HTTP/1.1 200 OK", "Content-Length: 65536\r\n") + body);
  EXPECT_EQ(p.state(), State::kComplete);
  EXPECT_EQ(p.body().size(), body.size());
}

TEST(HttpResponseTest, ShortContentLengthBodyIsTruncated) {
  HttpResponseParser p;
  EXPECT_EQ(p.Feed(Head("HTTP/1.1 200 OK", "Content-Length: 10\r\n") + "abc"), State::kNeedMore);
  EXPECT_EQ(p.body(), "abc");
  EXPECT_EQ(p.FinishOnClose(), State::kError);
  EXPECT_EQ(p.error(), Error::kTruncated);
  EXPECT_THAT(p.error_message(), HasSubstr("after 3 of the 10 bytes"));
}

TEST(HttpResponseTest, BodyWithoutLengthRunsUntilTheClose) {
  HttpResponseParser p;
  EXPECT_EQ(p.Feed("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"), State::kNeedMore);
  EXPECT_TRUE(p.head_complete());
  EXPECT_EQ(p.Feed("version: STSv1\r\n"), State::kNeedMore);
  EXPECT_EQ(p.Feed("mode: testing\r\n"), State::kNeedMore);
  EXPECT_EQ(p.FinishOnClose(), State::kComplete);
  EXPECT_EQ(p.body(), "version: STSv1\r\nmode: testing\r\n");
  // An empty body too.
  EXPECT_EQ(Parse("HTTP/1.0 200 OK\r\n\r\n", 0, true).state(), State::kComplete);
}

TEST(HttpResponseTest, BodyWithoutLengthPastTheLimitIsRejected) {
  const Limits limits{.max_head_bytes = 1024, .max_body_bytes = 100};
  HttpResponseParser p(limits);
  p.Feed("HTTP/1.1 200 OK\r\n\r\n");
  EXPECT_EQ(p.Feed(std::string(100, 'a')), State::kNeedMore);
  EXPECT_EQ(p.Feed("b"), State::kError);
  EXPECT_EQ(p.error(), Error::kBodyTooLarge);
  // The body holds what fit, for a report to show.
  EXPECT_EQ(p.body(), std::string(100, 'a'));
  EXPECT_EQ(p.FinishOnClose(), State::kError);

  const HttpResponseParser big =
      Parse("HTTP/1.1 200 OK\r\n\r\n" + std::string(1 << 20, 'x'), 0, true);
  EXPECT_EQ(big.error(), Error::kBodyTooLarge);
  EXPECT_EQ(big.body().size(), 64u * 1024u);
}

TEST(HttpResponseTest, EndlessHeadersAreHeadTooLarge) {
  HttpResponseParser p;
  p.Feed("HTTP/1.1 200 OK\r\n");
  std::size_t fed = 0;
  while (p.state() == State::kNeedMore && fed < (1u << 20)) {
    p.Feed("X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    fed += 45;
  }
  EXPECT_EQ(p.error(), Error::kHeadTooLarge);
  EXPECT_LE(fed, 16u * 1024u + 45u);
  EXPECT_THAT(p.error_message(), HasSubstr("16384 bytes"));
  EXPECT_FALSE(p.head_complete());
}

TEST(HttpResponseTest, HeadAtTheLimitIsAcceptedAndOneMoreByteIsNot) {
  const Limits limits{.max_head_bytes = 100, .max_body_bytes = 100};
  const std::string start = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Pad: ";
  const std::string pad(100 - start.size() - 4, 'a');
  const std::string head = start + pad + "\r\n\r\n";
  ASSERT_EQ(head.size(), 100u);
  EXPECT_EQ(Parse(head, 0, false, limits).state(), State::kComplete);
  EXPECT_EQ(Parse(start + pad + "a\r\n\r\n", 0, false, limits).error(), Error::kHeadTooLarge);
}

TEST(HttpResponseTest, OneMebibyteLineIsRejectedAtTheLimit) {
  const std::string line = "HTTP/1.1 200 " + std::string(1 << 20, 'x');
  EXPECT_EQ(Parse(line).error(), Error::kHeadTooLarge);
  // Byte by byte: the error comes with the first byte past the limit, not at the line's end.
  HttpResponseParser p;
  std::size_t fed = 0;
  while (p.state() == State::kNeedMore && fed < line.size()) {
    p.Feed(std::string_view(line).substr(fed++, 1));
  }
  EXPECT_EQ(p.error(), Error::kHeadTooLarge);
  EXPECT_EQ(fed, 16u * 1024u + 1u);
}

TEST(HttpResponseTest, EndlessInterimResponsesAreHeadTooLarge) {
  HttpResponseParser p;
  for (int i = 0; i < 10000 && p.state() == State::kNeedMore; ++i) {
    p.Feed("HTTP/1.1 100 Continue\r\n\r\n");
  }
  EXPECT_EQ(p.error(), Error::kHeadTooLarge);
}

TEST(HttpResponseTest, CloseBeforeAnyResponse) {
  HttpResponseParser p;
  EXPECT_EQ(p.FinishOnClose(), State::kError);
  EXPECT_EQ(p.error(), Error::kTruncated);
  EXPECT_THAT(p.error_message(), HasSubstr("without sending a response"));
}

TEST(HttpResponseTest, CloseInTheHeadIsTruncated) {
  for (const char* partial : {"HTTP/1.1 20", "HTTP/1.1 200 OK\r\n", "HTTP/1.1 200 OK\r\nA: b\r\n",
                              "HTTP/1.1 200 OK\r\nA: b"}) {
    const HttpResponseParser p = Parse(partial, 0, true);
    EXPECT_EQ(p.error(), Error::kTruncated) << partial;
    EXPECT_FALSE(p.head_complete());
  }
}

TEST(HttpResponseTest, BytesAfterTheResponseAreIgnored) {
  HttpResponseParser p;
  EXPECT_EQ(p.Feed(NginxResponse() + "HTTP/1.1 500 Oops\r\n\r\n"), State::kComplete);
  EXPECT_EQ(p.Feed("more garbage"), State::kComplete);
  EXPECT_EQ(p.FinishOnClose(), State::kComplete);
  EXPECT_EQ(p.status(), 200);
  EXPECT_EQ(p.body(), kPolicy);
}

TEST(HttpResponseTest, InputAfterAnErrorIsIgnored) {
  HttpResponseParser p;
  EXPECT_EQ(p.Feed("HTTP/9 200 OK\r\n"), State::kError);
  const std::string message = p.error_message();
  EXPECT_EQ(p.Feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), State::kError);
  EXPECT_EQ(p.FinishOnClose(), State::kError);
  EXPECT_EQ(p.error(), Error::kMalformedStatusLine);
  EXPECT_EQ(p.error_message(), message);
  EXPECT_FALSE(p.head_complete());
}

TEST(HttpResponseTest, ErrorMessagesEscapeAndCutHostileBytes) {
  const HttpResponseParser p = Parse("\x1b[31mHTTP" + std::string(5000, '\xff') + "\r\n");
  EXPECT_EQ(p.error(), Error::kMalformedStatusLine);
  EXPECT_THAT(p.error_message(), HasSubstr("\\x1b"));
  EXPECT_THAT(p.error_message(), Not(HasSubstr("\x1b")));
  EXPECT_LT(p.error_message().size(), 600u);
}

// Every example gives the same outcome however the bytes are split into reads.
struct Example {
  const char* name;
  std::string response;
  bool close;  // FinishOnClose after the bytes.
  Error error;
};

std::vector<Example> Examples() {
  const std::string chunked_head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  return {
      {"content_length", NginxResponse(), false, Error::kNone},
      {"lf_only", "HTTP/1.1 200 OK\nContent-Length: 3\n\nabcXYZ", false, Error::kNone},
      {"interim", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 301 Moved\r\nLocation: /x\r\n\r\n", true,
       Error::kNone},
      {"chunked",
       chunked_head + "4;a=b\r\nWiki\r\n5\r\npedia\r\n0\r\nX-T: 1\r\n\r\nHTTP/1.1 200 OK\r\n",
       false, Error::kNone},
      {"chunked_lf", "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n", false,
       Error::kNone},
      {"close_delimited", std::string("HTTP/1.0 200 OK\r\n\r\n") + kPolicy, true, Error::kNone},
      {"no_content", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nabcde", false,
       Error::kNone},
      {"truncated_length", "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nabc", true,
       Error::kTruncated},
      {"truncated_chunked", chunked_head + "3\r\nabc\r\n", true, Error::kTruncated},
      {"bad_chunk", chunked_head + "3\r\nabcd\r\n", true, Error::kBadChunk},
      {"huge_chunk", chunked_head + "ffffffffffffffffff\r\n", true, Error::kBodyTooLarge},
      {"bad_length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", true,
       Error::kBadContentLength},
      {"obs_fold", "HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", true, Error::kMalformedHeader},
      {"bad_status", "HTTP/1.1 2x0 OK\r\n\r\n", true, Error::kMalformedStatusLine},
      {"long_head", "HTTP/1.1 200 OK\r\nX: " + std::string(20000, 'a'), true, Error::kHeadTooLarge},
      {"long_body", "HTTP/1.1 200 OK\r\n\r\n" + std::string(70000, 'b'), true,
       Error::kBodyTooLarge},
  };
}

TEST(HttpResponseTest, ExamplesHaveTheirOutcomeInOneRead) {
  for (const Example& example : Examples()) {
    const HttpResponseParser p = Parse(example.response, 0, example.close);
    EXPECT_EQ(p.state(), example.error == Error::kNone ? State::kComplete : State::kError)
        << example.name << ": " << p.error_message();
    EXPECT_EQ(p.error(), example.error) << example.name;
  }
}

class HttpResponsePiecesTest : public ::testing::TestWithParam<std::size_t> {};

TEST_P(HttpResponsePiecesTest, SameOutcomeAsInOneRead) {
  for (const Example& example : Examples()) {
    const HttpResponseParser whole = Parse(example.response, 0, example.close);
    const HttpResponseParser pieces = Parse(example.response, GetParam(), example.close);
    EXPECT_EQ(pieces.state(), whole.state()) << example.name;
    EXPECT_EQ(pieces.error(), whole.error()) << example.name;
    EXPECT_EQ(pieces.error_message(), whole.error_message()) << example.name;
    EXPECT_EQ(pieces.status(), whole.status()) << example.name;
    EXPECT_EQ(pieces.reason(), whole.reason()) << example.name;
    EXPECT_EQ(pieces.Header("Location"), whole.Header("Location")) << example.name;
    EXPECT_EQ(pieces.body(), whole.body()) << example.name;
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, HttpResponsePiecesTest, ::testing::Values(1, 2, 3, 7, 64, 4096));

}  // namespace
}  // namespace stswatch::prober
