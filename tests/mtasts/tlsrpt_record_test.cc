#include "mtasts/tlsrpt_record.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/mtasts/test_util.h"

namespace stswatch::mtasts {
namespace {

using testing::Codes;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

TlsRptRecordResult Parse(std::vector<std::string> records) { return ParseTlsRptRecordSet(records); }

TEST(TlsRptRecordTest, RfcExamplesAreValid) {
  const TlsRptRecordResult mailto = Parse({"v=TLSRPTv1;rua=mailto:reports@example.com"});
  ASSERT_TRUE(mailto.valid());
  EXPECT_THAT(mailto.record->rua, ElementsAre("mailto:reports@example.com"));
  EXPECT_THAT(mailto.findings, IsEmpty());
  const TlsRptRecordResult https =
      Parse({"v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt"});
  ASSERT_TRUE(https.valid());
  EXPECT_THAT(https.record->rua, ElementsAre("https://reporting.example.com/v1/tlsrpt"));
}

TEST(TlsRptRecordTest, CommaSeparatedListWithOptionalWhitespace) {
  const TlsRptRecordResult r = Parse(
      {"v=TLSRPTv1; rua=mailto:a@example.com , https://r.example.net:8443/x?y=1,mailto:b@x.org;"});
  ASSERT_TRUE(r.valid()) << ::testing::PrintToString(Codes(r.findings));
  EXPECT_THAT(r.record->rua, ElementsAre("mailto:a@example.com", "https://r.example.net:8443/x?y=1",
                                         "mailto:b@x.org"));
}

TEST(TlsRptRecordTest, RuaIsRequired) {
  EXPECT_THAT(Codes(Parse({"v=TLSRPTv1"}).findings), ElementsAre("tlsrpt_record.rua_missing"));
  EXPECT_THAT(Codes(Parse({"v=TLSRPTv1;"}).findings), ElementsAre("tlsrpt_record.rua_missing"));
  const TlsRptRecordResult upper = Parse({"v=TLSRPTv1; RUA=mailto:a@example.com"});
  EXPECT_FALSE(upper.valid());
  EXPECT_THAT(Codes(upper.findings),
              ElementsAre("tlsrpt_record.extension", "tlsrpt_record.rua_missing"));
}

TEST(TlsRptRecordTest, UnsupportedSchemesAreErrors) {
  for (const char* uri : {"http://r.example/", "ftp://r.example/", "tel:+1234", "urn:x:y"}) {
    const TlsRptRecordResult r = Parse({std::string("v=TLSRPTv1; rua=") + uri});
    EXPECT_FALSE(r.valid()) << uri;
    EXPECT_THAT(Codes(r.findings), ElementsAre("tlsrpt_record.rua_unsupported_scheme")) << uri;
  }
  // One bad entry makes the record invalid.
  EXPECT_FALSE(Parse({"v=TLSRPTv1; rua=mailto:a@example.com,http://r.example/"}).valid());
}

TEST(TlsRptRecordTest, SchemeIsCaseInsensitive) {
  EXPECT_TRUE(Parse({"v=TLSRPTv1; rua=MAILTO:a@example.com,HTTPS://r.example/"}).valid());
}

TEST(TlsRptRecordTest, MailtoNeedsAnAddress) {
  for (const char* uri :
       {"mailto:", "mailto:reports", "mailto:@example.com", "mailto:a@",
        "mailto:a@bad_domain.example", "mailto:a..b@example.com", "mailto:a@-x.example"}) {
    const TlsRptRecordResult r = Parse({std::string("v=TLSRPTv1; rua=") + uri});
    EXPECT_FALSE(r.valid()) << uri;
    EXPECT_THAT(Codes(r.findings), ElementsAre("tlsrpt_record.rua_mailto_invalid")) << uri;
  }
  // Percent-encoded characters are decoded before the address is checked.
  EXPECT_TRUE(Parse({"v=TLSRPTv1; rua=mailto:tls%2Breports@example.com"}).valid());
  EXPECT_TRUE(Parse({"v=TLSRPTv1; rua=mailto:tlsrpt@example.com?subject=TLS%20report"}).valid());
  EXPECT_TRUE(Parse({"v=TLSRPTv1; rua=mailto:a@example.com%2Cb@example.org"}).valid());
}

TEST(TlsRptRecordTest, HttpsNeedsAHost) {
  for (const char* uri : {"https:", "https:/path", "https:///path", "https://bad_host.example/",
                          "https://-x.example/"}) {
    const TlsRptRecordResult r = Parse({std::string("v=TLSRPTv1; rua=") + uri});
    EXPECT_FALSE(r.valid()) << uri;
    EXPECT_THAT(Codes(r.findings), ElementsAre("tlsrpt_record.rua_https_invalid")) << uri;
  }
  EXPECT_TRUE(Parse({"v=TLSRPTv1; rua=https://192.0.2.1/tlsrpt"}).valid());
  EXPECT_TRUE(Parse({"v=TLSRPTv1; rua=https://[2001:db8::1]:443/tlsrpt"}).valid());
}

TEST(TlsRptRecordTest, InvalidUris) {
  for (const char* value : {"not a uri", "mailto:a@example.com!10m", "reports@example.com",
                            "https://r.example/a b", "https://r.example/%zz"}) {
    const TlsRptRecordResult r = Parse({std::string("v=TLSRPTv1; rua=") + value});
    EXPECT_FALSE(r.valid()) << value;
  }
  EXPECT_THAT(Codes(Parse({"v=TLSRPTv1; rua=mailto:a@example.com!10m"}).findings),
              ElementsAre("tlsrpt_record.rua_invalid_uri"));
}

TEST(TlsRptRecordTest, EmptyListEntriesAreSyntaxErrors) {
  for (const char* value : {"mailto:a@example.com,", ",mailto:a@example.com",
                            "mailto:a@example.com,,https://r.example/", ""}) {
    const TlsRptRecordResult r = Parse({std::string("v=TLSRPTv1; rua=") + value});
    EXPECT_FALSE(r.valid()) << value;
    EXPECT_THAT(Codes(r.findings), Contains("tlsrpt_record.syntax")) << value;
  }
}

TEST(TlsRptRecordTest, ExtensionsAreIgnored) {
  const TlsRptRecordResult r = Parse({"v=TLSRPTv1; ext=1; rua=mailto:a@example.com; x.y-z=ok"});
  ASSERT_TRUE(r.valid());
  EXPECT_THAT(Codes(r.findings), ElementsAre("tlsrpt_record.extension", "tlsrpt_record.extension"));
}

TEST(TlsRptRecordTest, SeveralRuaFieldsAreKeptWithWarning) {
  const TlsRptRecordResult r =
      Parse({"v=TLSRPTv1; rua=mailto:a@example.com; rua=https://r.example/"});
  ASSERT_TRUE(r.valid());
  EXPECT_THAT(r.record->rua, ElementsAre("mailto:a@example.com", "https://r.example/"));
  EXPECT_THAT(Codes(r.findings), ElementsAre("tlsrpt_record.rua_duplicate"));
}

TEST(TlsRptRecordTest, GrammarViolations) {
  for (const char* text :
       {"v=TLSRPTv1 rua=mailto:a@example.com", "v=TLSRPTv1;; rua=mailto:a@x.org",
        "v=TLSRPTv1; rua=mailto:a@example.com ", "v=TLSRPTv1; rua=mailto:a@x.org; x",
        "v=TLSRPTv1; rua=mailto:a@x.org; x=a b"}) {
    const TlsRptRecordResult r = Parse({text});
    EXPECT_FALSE(r.valid()) << text;
    EXPECT_THAT(Codes(r.findings), Contains("tlsrpt_record.syntax")) << text;
  }
}

TEST(TlsRptRecordTest, RecordSetRules) {
  EXPECT_THAT(Codes(Parse({}).findings), ElementsAre("tlsrpt_record.none"));
  const TlsRptRecordResult mixed =
      Parse({"v=spf1 -all", "v=TLSRPTv1; rua=mailto:a@example.com", "v=STSv1; id=1"});
  ASSERT_TRUE(mixed.valid());
  EXPECT_THAT(Codes(mixed.findings),
              ElementsAre("tlsrpt_record.discarded", "tlsrpt_record.discarded"));
  EXPECT_THAT(
      Codes(Parse({"v=TLSRPTv1; rua=mailto:a@example.com", "v=TLSRPTv1; rua=mailto:b@example.com"})
                .findings),
      ElementsAre("tlsrpt_record.multiple"));
  EXPECT_THAT(Codes(Parse({"v=tlsrptv1; rua=mailto:a@example.com"}).findings),
              ElementsAre("tlsrpt_record.version_near_miss", "tlsrpt_record.none"));
  EXPECT_THAT(Codes(Parse({"v=TLSRPTv10; rua=mailto:a@example.com"}).findings),
              ElementsAre("tlsrpt_record.version_near_miss", "tlsrpt_record.none"));
}

}  // namespace
}  // namespace stswatch::mtasts
