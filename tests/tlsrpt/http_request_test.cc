// HttpRequestParser on its own: valid requests (every framing, split across reads at every byte),
// what follows a request on the connection, keep-alive and 100-continue semantics, and malformed
// or oversized requests with the status a server answers and the sentence saying why.

#include "tlsrpt/http_request.h"

#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace stswatch::tlsrpt {
namespace {

using ::testing::HasSubstr;
using Error = HttpRequestParser::Error;
using Framing = HttpRequestParser::Framing;
using Limits = HttpRequestParser::Limits;
using State = HttpRequestParser::State;

constexpr std::string_view kPost =
    "POST /tlsrpt?x=1 HTTP/1.1\r\n"
    "Host: reports.example.com\r\n"
    "Content-Type: application/tlsrpt+json; charset=utf-8\r\n"
    "Content-Length: 11\r\n"
    "\r\n"
    "{\"a\": true}";

constexpr std::string_view kChunked =
    "POST /tlsrpt HTTP/1.1\r\n"
    "Host: reports.example.com\r\n"
    "Transfer-Encoding: chunked\r\n"
    "\r\n"
    "5;name=value\r\n"
    "{\"a\":\r\n"
    "6\r\n"
    " true}\r\n"
    "0\r\n"
    "X-Trailer: ignored\r\n"
    "\r\n";

HttpRequestParser Parse(std::string_view input, Limits limits = Limits()) {
  HttpRequestParser parser(limits);
  parser.Feed(input);
  return parser;
}

TEST(HttpRequestParserTest, ParsesPostWithContentLength) {
  HttpRequestParser parser;
  EXPECT_EQ(parser.Feed(kPost), kPost.size());
  ASSERT_EQ(parser.state(), State::kComplete) << parser.error_message();
  EXPECT_TRUE(parser.head_complete());
  EXPECT_EQ(parser.method(), "POST");
  EXPECT_EQ(parser.target(), "/tlsrpt?x=1");
  EXPECT_EQ(parser.Path(), "/tlsrpt");
  EXPECT_EQ(parser.version(), "HTTP/1.1");
  EXPECT_EQ(parser.minor_version(), 1);
  EXPECT_EQ(parser.Header("content-type"), "application/tlsrpt+json; charset=utf-8");
  EXPECT_EQ(parser.Header("Host"), "reports.example.com");
  EXPECT_FALSE(parser.Header("Expect").has_value());
  EXPECT_EQ(parser.framing(), Framing::kContentLength);
  EXPECT_EQ(parser.content_length(), 11u);
  EXPECT_EQ(parser.body(), "{\"a\": true}");
  EXPECT_TRUE(parser.KeepAlive());
  EXPECT_FALSE(parser.ExpectsContinue());
  EXPECT_EQ(parser.error(), Error::kNone);
  EXPECT_EQ(parser.ErrorStatus(), 0);
}

TEST(HttpRequestParserTest, ParsesChunkedBodyWithExtensionsAndTrailers) {
  HttpRequestParser parser;
  EXPECT_EQ(parser.Feed(kChunked), kChunked.size());
  ASSERT_EQ(parser.state(), State::kComplete) << parser.error_message();
  EXPECT_EQ(parser.framing(), Framing::kChunked);
  EXPECT_EQ(parser.body(), "{\"a\": true}");
}

TEST(HttpRequestParserTest, SameResultWhateverTheReads) {
  for (const std::string_view input : {kPost, kChunked}) {
    const HttpRequestParser whole = Parse(input);
    // Byte by byte.
    HttpRequestParser bytes;
    for (const char c : input) {
      EXPECT_EQ(bytes.Feed(std::string_view(&c, 1)), 1u);
    }
    EXPECT_EQ(bytes.state(), State::kComplete);
    EXPECT_EQ(bytes.body(), whole.body());
    // Split in two at every point.
    for (std::size_t at = 0; at <= input.size(); ++at) {
      HttpRequestParser two;
      const std::size_t first = two.Feed(input.substr(0, at));
      const std::size_t second = two.Feed(input.substr(at));
      EXPECT_EQ(first + second, input.size()) << at;
      ASSERT_EQ(two.state(), State::kComplete) << at << ": " << two.error_message();
      EXPECT_EQ(two.body(), whole.body()) << at;
      EXPECT_EQ(two.Header("Host"), "reports.example.com") << at;
    }
  }
}

TEST(HttpRequestParserTest, StopsAtTheEndOfTheRequest) {
  const std::string two = std::string(kPost) + std::string(kChunked);
  HttpRequestParser first;
  const std::size_t used = first.Feed(two);
  EXPECT_EQ(used, kPost.size());
  EXPECT_EQ(first.state(), State::kComplete);
  EXPECT_EQ(first.Feed("more"), 0u);
  HttpRequestParser second;
  EXPECT_EQ(second.Feed(std::string_view(two).substr(used)), kChunked.size());
  EXPECT_EQ(second.state(), State::kComplete);
  EXPECT_EQ(second.body(), first.body());
}

TEST(HttpRequestParserTest, RequestWithoutBody) {
  HttpRequestParser parser = Parse("GET / HTTP/1.1\r\nHost: a\r\n\r\nPOST");
  EXPECT_EQ(parser.state(), State::kComplete);
  EXPECT_EQ(parser.framing(), Framing::kNone);
  EXPECT_EQ(parser.method(), "GET");
  EXPECT_TRUE(parser.body().empty());
  // A Content-Length of 0 is a body of no bytes.
  parser = Parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(parser.state(), State::kComplete);
  EXPECT_EQ(parser.framing(), Framing::kContentLength);
}

TEST(HttpRequestParserTest, LineEndsLeadingEmptyLinesAndHttp10) {
  // Bare LF line ends, empty lines before the request line (RFC 9112 §2.2).
  HttpRequestParser parser = Parse("\r\n\nPOST /r HTTP/1.0\nContent-Length: 2\n\nok");
  ASSERT_EQ(parser.state(), State::kComplete) << parser.error_message();
  EXPECT_EQ(parser.minor_version(), 0);
  EXPECT_EQ(parser.body(), "ok");
  // HTTP/1.0 needs no Host and does not keep the connection unless asked.
  EXPECT_FALSE(parser.KeepAlive());
  parser = Parse("POST /r HTTP/1.0\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n");
  EXPECT_TRUE(parser.KeepAlive());
  // HTTP/1.2 is read as 1.1.
  parser = Parse("POST /r HTTP/1.2\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(parser.state(), State::kComplete);
  EXPECT_EQ(parser.minor_version(), 1);
}

TEST(HttpRequestParserTest, ConnectionAndExpect) {
  HttpRequestParser parser =
      Parse("POST / HTTP/1.1\r\nHost: a\r\nConnection: te, Close\r\nContent-Length: 0\r\n\r\n");
  EXPECT_FALSE(parser.KeepAlive());
  parser = Parse("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 5\r\n\r\n");
  EXPECT_EQ(parser.state(), State::kNeedMore);
  EXPECT_TRUE(parser.head_complete());
  EXPECT_TRUE(parser.ExpectsContinue());
  // RFC 9110 §10.1.1: ignored in HTTP/1.0.
  parser = Parse("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  EXPECT_FALSE(parser.ExpectsContinue());
}

TEST(HttpRequestParserTest, PathOfEachTargetForm) {
  const auto path = [](std::string_view target) {
    HttpRequestParser parser =
        Parse("OPTIONS " + std::string(target) + " HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(parser.state(), State::kComplete) << target << ": " << parser.error_message();
    return std::string(parser.Path());
  };
  EXPECT_EQ(path("/"), "/");
  EXPECT_EQ(path("/tlsrpt?a=b?c"), "/tlsrpt");
  EXPECT_EQ(path("http://example.com/tlsrpt?x"), "/tlsrpt");
  EXPECT_EQ(path("HTTPS://example.com:443/a/b"), "/a/b");
  EXPECT_EQ(path("https://example.com"), "/");
  EXPECT_EQ(path("https://example.com?x"), "/");
  EXPECT_EQ(path("*"), "*");
  EXPECT_EQ(path("example.com:443"), "example.com:443");
}

TEST(HttpRequestParserTest, RepeatedEqualContentLengthsAreOne) {
  HttpRequestParser parser =
      Parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2, 02\r\nContent-Length: 2\r\n\r\nok");
  EXPECT_EQ(parser.state(), State::kComplete) << parser.error_message();
  EXPECT_EQ(parser.body(), "ok");
}

struct Bad {
  std::string_view input;
  Error error;
  int status;
  std::string_view message;
};

TEST(HttpRequestParserTest, RefusesMalformedRequests) {
  const std::vector<Bad> cases = {
      {"GARBAGE\r\n\r\n", Error::kMalformedRequestLine, 400, "three parts"},
      {"POST  / HTTP/1.1\r\n", Error::kMalformedRequestLine, 400, "single spaces"},
      {"POST / HTTP/1.1 \r\n", Error::kMalformedRequestLine, 400, "single spaces"},
      {"P(ST / HTTP/1.1\r\n", Error::kMalformedRequestLine, 400, "not a token"},
      {"POST / http/1.1\r\n", Error::kMalformedRequestLine, 400, "not HTTP/1.x"},
      {"POST / HTTP/1.1\r\r\n", Error::kMalformedRequestLine, 400, "not HTTP/1.x"},
      {"POST /\xc3\xa9 HTTP/1.1\r\n", Error::kMalformedRequestLine, 400, "\\xc3"},
      // A TLS ClientHello on a plain port: refused on its first bytes.
      {"\x16\x03\x01\x02\x00\x01", Error::kMalformedRequestLine, 400, "\\x16"},
      {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", Error::kUnsupportedVersion, 505, "HTTP/2.0"},
      {"\r\n\r\n\r\n\r\n\r\nPOST / HTTP/1.1\r\n", Error::kMalformedRequestLine, 400, "empty lines"},
      {"POST / HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n", Error::kMalformedHeader, 400,
       "not a header field"},
      {"POST / HTTP/1.1\r\nHost : a\r\n\r\n", Error::kMalformedHeader, 400, "whitespace"},
      {"POST / HTTP/1.1\r\nHost: a\r\nX: 1\r\n  folded\r\n\r\n", Error::kMalformedHeader, 400,
       "obs-fold"},
      {std::string_view("POST / HTTP/1.1\r\nHost: a\0b\r\n\r\n", 30), Error::kMalformedHeader, 400,
       "NUL"},
      {"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", Error::kMalformedHeader, 400, "no Host"},
      {"POST / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", Error::kMalformedHeader, 400,
       "2 Host header fields"},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n", Error::kBadContentLength, 400,
       "\"1x\""},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", Error::kBadContentLength, 400,
       "digits only"},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", Error::kBadContentLength, 400,
       "digits only"},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
       Error::kBadContentLength, 400, "differing"},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
       Error::kBadTransferEncoding, 400, "both"},
      {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", Error::kBadTransferEncoding, 400,
       "HTTP/1.0"},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
       Error::kBadTransferEncoding, 400, "does not end in chunked"},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
       "chunked\r\n\r\n",
       Error::kBadTransferEncoding, 400, "more than once"},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
       Error::kUnsupportedTransferCoding, 501, "\"gzip\""},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", Error::kBadChunk,
       400, "hexadecimal"},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\n", Error::kBadChunk,
       400, "chunk extensions"},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
       Error::kBadChunk, 400, "does not match"},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
       Error::kBodyTooLarge, 413, "the body was not read"},
  };
  for (const Bad& bad : cases) {
    SCOPED_TRACE(std::string(bad.input));
    HttpRequestParser parser;
    parser.Feed(bad.input);
    EXPECT_EQ(parser.state(), State::kError);
    EXPECT_EQ(parser.error(), bad.error);
    EXPECT_EQ(parser.ErrorStatus(), bad.status);
    EXPECT_THAT(parser.error_message(), HasSubstr(std::string(bad.message)));
    // Sticky: nothing more is consumed or changed.
    parser.Feed("POST / HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(parser.state(), State::kError);
    EXPECT_EQ(parser.error(), bad.error);
  }
}

TEST(HttpRequestParserTest, Limits) {
  Limits limits;
  limits.max_request_line_bytes = 64;
  limits.max_head_bytes = 256;
  limits.max_header_fields = 3;
  limits.max_body_bytes = 10;

  // A request line over its limit is refused before its end arrives.
  HttpRequestParser parser = Parse("POST /" + std::string(100, 'a'), limits);
  EXPECT_EQ(parser.error(), Error::kRequestLineTooLong);
  EXPECT_EQ(parser.ErrorStatus(), 414);

  parser = Parse("POST / HTTP/1.1\r\nHost: a\r\nX: " + std::string(300, 'b'), limits);
  EXPECT_EQ(parser.error(), Error::kHeadTooLarge);
  EXPECT_EQ(parser.ErrorStatus(), 431);

  parser = Parse("POST / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits);
  EXPECT_EQ(parser.error(), Error::kHeadTooLarge);
  EXPECT_THAT(parser.error_message(), HasSubstr("more than 3 header fields"));

  // The Content-Length is refused at the end of the head; the head is still readable.
  parser = Parse("POST /r HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", limits);
  EXPECT_EQ(parser.error(), Error::kBodyTooLarge);
  EXPECT_EQ(parser.ErrorStatus(), 413);
  EXPECT_TRUE(parser.head_complete());
  EXPECT_EQ(parser.Path(), "/r");
  EXPECT_THAT(parser.error_message(), HasSubstr("announces 11 bytes, more than the limit of 10"));

  parser = Parse("POST /r HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789", limits);
  EXPECT_EQ(parser.state(), State::kComplete);

  // Chunks past the limit, however they are cut.
  parser =
      Parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n5\r\n",
            limits);
  EXPECT_EQ(parser.error(), Error::kBodyTooLarge);
  EXPECT_EQ(parser.ErrorStatus(), 413);

  parser = Parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
                     std::string(HttpRequestParser::kMaxChunkLineBytes + 1, '1'),
                 limits);
  EXPECT_EQ(parser.error(), Error::kBadChunk);

  parser = Parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: " +
                     std::string(300, 't'),
                 limits);
  EXPECT_EQ(parser.error(), Error::kHeadTooLarge);
  EXPECT_THAT(parser.error_message(), HasSubstr("trailer"));
}

TEST(HttpRequestParserTest, FinishOnClose) {
  HttpRequestParser parser;
  EXPECT_FALSE(parser.received_any());
  EXPECT_EQ(parser.FinishOnClose(), State::kError);
  EXPECT_EQ(parser.error(), Error::kTruncated);
  EXPECT_THAT(parser.error_message(), HasSubstr("without sending a request"));

  parser = Parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc");
  EXPECT_TRUE(parser.received_any());
  EXPECT_EQ(parser.FinishOnClose(), State::kError);
  EXPECT_EQ(parser.ErrorStatus(), 400);
  EXPECT_THAT(parser.error_message(), HasSubstr("after 3 of the 10 bytes"));

  parser = Parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab");
  parser.FinishOnClose();
  EXPECT_THAT(parser.error_message(), HasSubstr("chunked body"));

  // A complete request stays complete.
  parser = Parse(kPost);
  EXPECT_EQ(parser.FinishOnClose(), State::kComplete);
}

TEST(MediaTypeTest, TypeWithoutParameters) {
  EXPECT_EQ(MediaType("application/tlsrpt+gzip"), "application/tlsrpt+gzip");
  EXPECT_EQ(MediaType(" Application/TLSRPT+JSON ; charset=utf-8"), "application/tlsrpt+json");
  EXPECT_EQ(MediaType("application/tlsrpt+json;charset=\"utf-8\""), "application/tlsrpt+json");
  EXPECT_EQ(MediaType(""), "");
  EXPECT_EQ(MediaType("application"), "");
  EXPECT_EQ(MediaType("application/"), "");
  EXPECT_EQ(MediaType("application/tls rpt"), "");
}

}  // namespace
}  // namespace stswatch::tlsrpt
