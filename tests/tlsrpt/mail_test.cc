#include "tlsrpt/mail.h"

#include <zlib.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace stswatch::tlsrpt {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::StartsWith;

std::string ReadTestData(const std::string& relative) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  std::ifstream in(std::string(srcdir != nullptr ? srcdir : ".") + "/" +
                       (workspace != nullptr ? workspace : "stswatch") + "/tests/tlsrpt/testdata/" +
                       relative,
                   std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

struct CorpusCase {
  std::string file;
  std::string content_type;
  bool gzip;
  std::string report_id;  // As written in the JSON body.
  std::string report_domain;
  std::string submitter;
  bool crlf;
};

class CorpusTest : public ::testing::TestWithParam<CorpusCase> {};

TEST_P(CorpusTest, FindsAndUnpacksTheReport) {
  const CorpusCase& c = GetParam();
  const std::string message = ReadTestData("eml/" + c.file);
  ASSERT_FALSE(message.empty()) << c.file;
  EXPECT_EQ(message.find("\r\n") != std::string::npos, c.crlf) << c.file;
  const absl::StatusOr<ReportMail> mail = ParseReportMail(message);
  ASSERT_TRUE(mail.ok()) << c.file << ": " << mail.status();
  EXPECT_EQ(mail->content_type, c.content_type);
  EXPECT_EQ(mail->gzip, c.gzip);
  EXPECT_THAT(mail->json, StartsWith("{"));
  EXPECT_THAT(mail->json, HasSubstr("\"report-id\""));
  EXPECT_THAT(mail->json, HasSubstr("\"" + c.report_id + "\""));
  EXPECT_EQ(mail->report_domain, c.report_domain);
  EXPECT_EQ(mail->report_submitter, c.submitter);
  EXPECT_THAT(mail->subject, StartsWith("Report Domain: " + c.report_domain));
  EXPECT_THAT(mail->from, HasSubstr("@"));
  EXPECT_FALSE(mail->date.empty());
  EXPECT_THAT(mail->raw_headers, HasSubstr("TLS-Report-Domain: " + c.report_domain));
}

INSTANTIATE_TEST_SUITE_P(
    Corpus, CorpusTest,
    ::testing::Values(
        CorpusCase{"stalwartlabs-mail-auth/rpt01.eml", "application/tlsrpt+gzip", true,
                   "5065427c-23d3-47ca-b6e0-946ea0e8c4be", "example.net", "mail.sender.example.com",
                   false},
        CorpusCase{"stalwartlabs-mail-auth/rpt02.eml", "application/tlsrpt", false,
                   "2020-01-01T00:00:00Z_example.com", "example.net", "mail.sender.example.com",
                   false},
        CorpusCase{"domainaware-parsedmarc/google.com_smtp_tls_report.eml",
                   "application/tlsrpt+gzip", true, "2024-09-03T00:00:00Z_cardinalhealth.ca",
                   "cardinalhealth.ca", "google.com", false},
        CorpusCase{"mjl-mox/example.eml", "application/tlsrpt+gzip", true,
                   "2022-09-15T00:00:00Z_test.xmox.nl", "test.xmox.nl", "google.com", true},
        CorpusCase{"mjl-mox/microsoft.eml", "application/tlsrpt+gzip", true,
                   "133198585438131172+test.xmox.nl", "test.xmox.nl", "microsoft.com", true},
        CorpusCase{"isseis-tlsrpt-digest/tlsrpt_success_google_1.eml", "application/tlsrpt+gzip",
                   true, "2026-05-11T00:00:00Z_example.com", "example.com", "google.com", false},
        CorpusCase{"isseis-tlsrpt-digest/tlsrpt_success_google_2.eml", "application/tlsrpt+gzip",
                   true, "2026-05-12T00:00:00Z_example.com", "example.com", "google.com", false},
        CorpusCase{"isseis-tlsrpt-digest/tlsrpt_success_microsoft.eml", "application/tlsrpt+gzip",
                   true, "134232617934286362+example.com", "example.com", "microsoft.com", false},
        CorpusCase{"isseis-tlsrpt-digest/tlsrpt_failure.eml", "application/tlsrpt+gzip", true,
                   "2026-02-08T00:00:00Z_example.com", "example.com", "google.com", false},
        CorpusCase{"robalexdev-tlsrpt-be/test.eml", "application/tlsrpt+gzip", true,
                   "5065427c-23d3-47ca-b6e0-946ea0e8c4be", "example.net", "mail.sender.example.com",
                   true}));

TEST(ReportMailTest, CorpusDetails) {
  const auto google = ParseReportMail(ReadTestData("eml/mjl-mox/example.eml"));
  ASSERT_TRUE(google.ok()) << google.status();
  EXPECT_EQ(google->message_id, "<000000000000f47cc505e8c8905c@google.com>");
  EXPECT_EQ(google->from, "noreply-smtp-tls-reporting@google.com");
  EXPECT_EQ(google->filename, "google.com!test.xmox.nl!1663200000!1663286399!001.json.gz");
  EXPECT_THAT(google->warnings, IsEmpty());
  EXPECT_EQ(google->raw_headers.find("\n\r\n"), std::string::npos);

  // The folded Subject of Microsoft's reports is unfolded.
  const auto microsoft = ParseReportMail(ReadTestData("eml/mjl-mox/microsoft.eml"));
  ASSERT_TRUE(microsoft.ok()) << microsoft.status();
  EXPECT_EQ(microsoft->subject,
            "Report Domain: test.xmox.nl Submitter: microsoft.com Report-ID: "
            "133198585438131172+test.xmox.nl");

  // application/tlsrpt is not in RFC 8460: read, with a warning.
  const auto bare = ParseReportMail(ReadTestData("eml/stalwartlabs-mail-auth/rpt02.eml"));
  ASSERT_TRUE(bare.ok()) << bare.status();
  EXPECT_THAT(bare->warnings, ElementsAre(HasSubstr("application/tlsrpt,")));
}

TEST(ReportMailTest, HeadersAgreeWithRealReports) {
  struct Case {
    std::string file;
    std::string domain;
    std::string report_id;
    std::string organization;
  };
  for (const Case& c : {
           Case{"mjl-mox/example.eml", "test.xmox.nl", "2022-09-15T00:00:00Z_test.xmox.nl",
                "Google Inc."},
           Case{"mjl-mox/microsoft.eml", "test.xmox.nl", "133198585438131172+test.xmox.nl",
                "Microsoft Corporation"},
           Case{"isseis-tlsrpt-digest/tlsrpt_success_google_1.eml", "example.com",
                "2026-05-11T00:00:00Z_example.com", "Google Inc."},
           Case{"isseis-tlsrpt-digest/tlsrpt_success_microsoft.eml", "example.com",
                "134232617934286362+example.com", "Microsoft Corporation"},
           Case{"domainaware-parsedmarc/google.com_smtp_tls_report.eml", "cardinalhealth.ca",
                "2024-09-03T00:00:00Z_cardinalhealth.ca", "Google Inc."},
       }) {
    const auto mail = ParseReportMail(ReadTestData("eml/" + c.file));
    ASSERT_TRUE(mail.ok()) << c.file << ": " << mail.status();
    EXPECT_THAT(CheckReportHeaders(*mail, c.domain, c.report_id, c.organization), IsEmpty())
        << c.file;
  }
}

TEST(ReportMailTest, EditedPayloadDisagreesWithItsHeaders) {
  // The JSON was edited to another report (2026-02-08) while the Subject still names the report
  // of 2026-05-12.
  const auto mail = ParseReportMail(ReadTestData("eml/isseis-tlsrpt-digest/tlsrpt_failure.eml"));
  ASSERT_TRUE(mail.ok()) << mail.status();
  ASSERT_THAT(mail->json, HasSubstr("\"2026-02-08T00:00:00Z_example.com\""));
  EXPECT_THAT(
      CheckReportHeaders(*mail, "example.com", "2026-02-08T00:00:00Z_example.com", "Google Inc."),
      ElementsAre("The Subject's Report-ID is <2026.05.12T00.00.00Z+example.com@google.com>"
                  " but the report's report-id is 2026-02-08T00:00:00Z_example.com."));
  // A report for another domain than the header fields name.
  EXPECT_THAT(CheckReportHeaders(*mail, "example.net", "", ""),
              ElementsAre("TLS-Report-Domain is example.com but the report is for example.net.",
                          "The Subject's Report Domain is example.com but the report is for "
                          "example.net."));
  // The RFC 8460 example e-mail: its Subject's Report-ID and its organization-name do not match
  // its JSON either.
  const auto example = ParseReportMail(ReadTestData("eml/stalwartlabs-mail-auth/rpt01.eml"));
  ASSERT_TRUE(example.ok()) << example.status();
  EXPECT_THAT(CheckReportHeaders(*example, "company-y.example",
                                 "5065427c-23d3-47ca-b6e0-946ea0e8c4be", "Company-X"),
              ElementsAre(HasSubstr("TLS-Report-Domain is example.net"),
                          HasSubstr("Subject's Report Domain is example.net"),
                          HasSubstr("Report-ID is <735ff.e317+bf22029@example.net>"),
                          "TLS-Report-Submitter is mail.sender.example.com but the report's "
                          "organization-name \"Company-X\" does not name it."));
}

TEST(ReportMailTest, LfAndCrlfGiveTheSameReport) {
  const std::string lf = ReadTestData("eml/stalwartlabs-mail-auth/rpt01.eml");
  std::string crlf;
  for (const char c : lf) {
    if (c == '\n') {
      crlf.push_back('\r');
    }
    crlf.push_back(c);
  }
  const auto a = ParseReportMail(lf);
  const auto b = ParseReportMail(crlf);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->json, b->json);
  EXPECT_EQ(a->subject, b->subject);
  EXPECT_EQ(a->report_submitter, b->report_submitter);
}

TEST(ReportMailTest, NestedQuotedPrintableJsonAndEncodedSubject) {
  const auto mail = ParseReportMail(ReadTestData("mail/nested_json_qp.eml"));
  ASSERT_TRUE(mail.ok()) << mail.status();
  EXPECT_EQ(mail->content_type, "application/tlsrpt+json");
  EXPECT_FALSE(mail->gzip);
  EXPECT_THAT(mail->json, AllOf(StartsWith("{\"organization-name\":\"Example Sender\""),
                                HasSubstr("\"report-id\":\"crafted-0001\"")));
  EXPECT_EQ(mail->json.back(), '}');
  EXPECT_EQ(mail->subject,
            "Report Domain: example.org Submitter: sender.example Report-ID: "
            "<crafted-0001@sender.example>");
  EXPECT_EQ(mail->from, "S\xc3\xa9nder <tlsrpt@sender.example>");
  EXPECT_EQ(mail->report_domain, "example.org");
  EXPECT_EQ(mail->report_submitter, "sender.example");
  EXPECT_THAT(mail->warnings,
              ElementsAre(HasSubstr("nested inside the message's multipart/mixed")));
  EXPECT_THAT(CheckReportHeaders(*mail, "example.org", "crafted-0001", "Example Sender"),
              IsEmpty());
}

TEST(ReportMailTest, CraftedGzipReport) {
  const auto mail = ParseReportMail(ReadTestData("mail/good_gzip.eml"));
  ASSERT_TRUE(mail.ok()) << mail.status();
  EXPECT_TRUE(mail->gzip);
  EXPECT_THAT(mail->json, HasSubstr("\"report-id\":\"crafted-0001\""));
  EXPECT_EQ(mail->filename, "sender.example!example.org!1767225600!1767311999.json.gz");
}

TEST(ReportMailTest, EncodedWords) {
  EXPECT_EQ(DecodeEncodedWords("=?UTF-8?B?w6k=?= =?utf-8?q?_x?= y"), "\xc3\xa9 x y");
  EXPECT_EQ(DecodeEncodedWords("=?ISO-8859-1?Q?caf=E9?="), "caf\xc3\xa9");
  EXPECT_EQ(DecodeEncodedWords("a =?koi8-r?B?wd4=?= b"), "a =?koi8-r?B?wd4=?= b");
  EXPECT_EQ(DecodeEncodedWords("=?utf-8?Q?unterminated"), "=?utf-8?Q?unterminated");
}

TEST(ReportMailTest, PlainTextMessageIsNoReport) {
  const auto mail = ParseReportMail(ReadTestData("mail/plain_text.eml"));
  ASSERT_FALSE(mail.ok());
  EXPECT_EQ(mail.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(mail.status().message(),
            "The message is text/plain, not a multipart/report; report-type=tlsrpt (RFC 8460 "
            "§5.3).");
}

TEST(ReportMailTest, DeliveryStatusReportIsNamed) {
  const auto mail = ParseReportMail(ReadTestData("mail/delivery_status.eml"));
  ASSERT_FALSE(mail.ok());
  EXPECT_EQ(mail.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(mail.status().message()), HasSubstr("report-type=delivery-status"));
}

TEST(ReportMailTest, TruncatedGzip) {
  const auto mail = ParseReportMail(ReadTestData("mail/truncated_gzip.eml"));
  ASSERT_FALSE(mail.ok());
  EXPECT_EQ(mail.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(mail.status().message()),
              HasSubstr("gzip data of the report is truncated"));
}

TEST(ReportMailTest, BadBase64) {
  const auto mail = ParseReportMail(ReadTestData("mail/bad_base64.eml"));
  ASSERT_FALSE(mail.ok());
  EXPECT_EQ(mail.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(mail.status().message()),
              AllOf(HasSubstr("not valid base64"), HasSubstr("0x2a"), HasSubstr("line 1")));
}

TEST(ReportMailTest, GzipPartThatIsNotGzip) {
  const auto mail = ParseReportMail(ReadTestData("mail/not_gzip.eml"));
  ASSERT_FALSE(mail.ok());
  EXPECT_THAT(std::string(mail.status().message()), HasSubstr("lacks the gzip magic number"));
}

TEST(ReportMailTest, NoReportPart) {
  std::string message = ReadTestData("mail/good_gzip.eml");
  const std::size_t at = message.find("application/tlsrpt+gzip");
  ASSERT_NE(at, std::string::npos);
  message.replace(at, std::string("application/tlsrpt+gzip").size(), "application/gzip");
  const auto mail = ParseReportMail(message);
  ASSERT_FALSE(mail.ok());
  EXPECT_THAT(std::string(mail.status().message()), HasSubstr("has no application/tlsrpt+gzip"));
}

std::string Gzip(const std::string& data) {
  z_stream stream{};
  EXPECT_EQ(deflateInit2(&stream, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&stream, data.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

std::string Base64Lines(const std::string& data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve(data.size() * 4 / 3 + data.size() / 38 + 8);
  std::size_t column = 0;
  for (std::size_t i = 0; i < data.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, data.size() - i);
    std::uint32_t v = 0;
    for (std::size_t j = 0; j < 3; ++j) {
      v = (v << 8) | (j < n ? static_cast<unsigned char>(data[i + j]) : 0U);
    }
    for (std::size_t j = 0; j < 4; ++j) {
      out.push_back(j <= n ? kAlphabet[(v >> (18 - 6 * j)) & 0x3f] : '=');
    }
    column += 4;
    if (column == 76) {
      out.append("\r\n");
      column = 0;
    }
  }
  return out;
}

TEST(ReportMailTest, GzipBombIsRefusedAtTheLimit) {
  // 100 MiB of zeros compress to about 100 KiB.
  const std::string bomb = Gzip(std::string(std::size_t{100} << 20, '\0'));
  ASSERT_LT(bomb.size(), std::size_t{200} << 10);
  std::string message = ReadTestData("mail/good_gzip.eml");
  const std::size_t begin = message.find("\n\n", message.find("Content-Disposition")) + 2;
  const std::size_t end = message.find("\n--b1--");
  message.replace(begin, end - begin, Base64Lines(bomb));
  const auto mail = ParseReportMail(message);
  ASSERT_FALSE(mail.ok());
  EXPECT_EQ(mail.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(mail.status().message()),
              AllOf(HasSubstr("exceeds the limit of 10485760 bytes"), HasSubstr("gzip bomb")));

  // A lower limit applies as well; a larger one lets the same data through.
  MailOptions small;
  small.max_report_bytes = 100;
  EXPECT_THAT(
      std::string(ParseReportMail(ReadTestData("mail/good_gzip.eml"), small).status().message()),
      HasSubstr("limit of 100 bytes"));
  MailOptions large;
  large.max_report_bytes = std::size_t{101} << 20;
  const auto inflated = ParseReportMail(message, large);
  ASSERT_TRUE(inflated.ok()) << inflated.status();
  EXPECT_THAT(inflated->json, SizeIs(std::size_t{100} << 20));
}

TEST(ReportMailTest, OversizedMessage) {
  MailOptions options;
  options.max_message_bytes = 100;
  const auto mail = ParseReportMail(ReadTestData("mail/good_gzip.eml"), options);
  ASSERT_FALSE(mail.ok());
  EXPECT_THAT(std::string(mail.status().message()), HasSubstr("more than the limit of 100"));
}

TEST(ReportMailTest, HostileStructureIsBounded) {
  // Deep nesting of multiparts: no recursion past the depth limit, no crash.
  std::string message = "Content-Type: multipart/mixed; boundary=b0\n\n";
  for (int i = 1; i < 200; ++i) {
    message += "--b" + std::to_string(i - 1) + "\nContent-Type: multipart/mixed; boundary=b" +
               std::to_string(i) + "\n\n";
  }
  EXPECT_FALSE(ParseReportMail(message).ok());
  EXPECT_FALSE(ParseReportMail("").ok());
  EXPECT_FALSE(ParseReportMail("\n\n\n").ok());
  EXPECT_FALSE(ParseReportMail("Content-Type: multipart/report; report-type=tlsrpt\n\nx").ok());
}

}  // namespace
}  // namespace stswatch::tlsrpt
