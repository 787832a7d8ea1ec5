#include "mtasts/sts_record.h"

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
using ::testing::Pair;

StsRecordResult Parse(std::vector<std::string> records) { return ParseStsRecordSet(records); }

TEST(StsRecordTest, RfcExampleIsValid) {
  const StsRecordResult r = Parse({"v=STSv1; id=20160831085700Z;"});
  ASSERT_TRUE(r.valid());
  EXPECT_EQ(r.record->id, "20160831085700Z");
  EXPECT_THAT(r.findings, IsEmpty());
}

TEST(StsRecordTest, DelimitersAndTrailingSemicolon) {
  for (const char* text : {"v=STSv1;id=a", "v=STSv1; id=a", "v=STSv1 ;id=a", "v=STSv1\t;\tid=a;",
                           "v=STSv1;id=a;", "v=STSv1; id=a;  ", "v=STSv1;  id=a  ;  "}) {
    const StsRecordResult r = Parse({text});
    EXPECT_TRUE(r.valid()) << text << " " << ::testing::PrintToString(Codes(r.findings));
  }
}

TEST(StsRecordTest, IdLengthAndCharacters) {
  EXPECT_TRUE(Parse({"v=STSv1; id=" + std::string(32, '7')}).valid());
  EXPECT_TRUE(Parse({"v=STSv1; id=a"}).valid());
  for (const std::string& id :
       {std::string(33, '7'), std::string(""), std::string("2024-01-01"), std::string("abc.def"),
        std::string("abc_def"), std::string("caf\xc3\xa9")}) {
    const StsRecordResult r = Parse({"v=STSv1; id=" + id + ";"});
    EXPECT_FALSE(r.valid()) << id;
    EXPECT_THAT(Codes(r.findings), Contains("sts_record.id_invalid")) << id;
  }
}

TEST(StsRecordTest, IdIsRequiredAndCaseSensitive) {
  EXPECT_THAT(Codes(Parse({"v=STSv1"}).findings), ElementsAre("sts_record.id_missing"));
  EXPECT_THAT(Codes(Parse({"v=STSv1;"}).findings), ElementsAre("sts_record.id_missing"));
  const StsRecordResult upper = Parse({"v=STSv1; ID=123"});
  EXPECT_FALSE(upper.valid());
  EXPECT_THAT(Codes(upper.findings), ElementsAre("sts_record.extension", "sts_record.id_missing"));
  EXPECT_THAT(upper.findings[0].message, ::testing::HasSubstr("case-sensitive"));
}

TEST(StsRecordTest, DuplicateIdUsesFirst) {
  const StsRecordResult r = Parse({"v=STSv1; id=first; id=second"});
  ASSERT_TRUE(r.valid());
  EXPECT_EQ(r.record->id, "first");
  EXPECT_THAT(Codes(r.findings), ElementsAre("sts_record.id_duplicate"));
}

TEST(StsRecordTest, ExtensionsAreAcceptedAndReported) {
  const StsRecordResult r = Parse({"v=STSv1; id=1; ext_1=x!y; a.b-c=~"});
  ASSERT_TRUE(r.valid());
  EXPECT_THAT(r.record->extensions, ElementsAre(Pair("ext_1", "x!y"), Pair("a.b-c", "~")));
  EXPECT_THAT(Codes(r.findings), ElementsAre("sts_record.extension", "sts_record.extension"));
  // Order of fields other than v is not significant.
  EXPECT_TRUE(Parse({"v=STSv1; foo=bar; id=1"}).valid());
}

TEST(StsRecordTest, GrammarViolationsAreInvalid) {
  for (const char* text : {
           "v=STSv1 id=1",                // No delimiter.
           "v=STSv1;; id=1",              // Empty field.
           "v=STSv1; id=1 ",              // Trailing whitespace without ";".
           "v=STSv1; id=1; foo",          // Field without "=".
           "v=STSv1; id=1; foo=",         // Empty extension value.
           "v=STSv1; id=1; foo=a=b",      // "=" in a value.
           "v=STSv1; id=1; foo=a b",      // Space in a value.
           "v=STSv1; id=1; _foo=a",       // Name must begin with a letter or digit.
           "v=STSv1; id=1; foo =a",       // Space before "=".
           "v=STSv1; id=1; f\xc3\xa9=a",  // Not US-ASCII.
           "v=STSv1; id=1; foo=\x01",     // Control character.
       }) {
    const StsRecordResult r = Parse({text});
    EXPECT_FALSE(r.valid()) << text;
    EXPECT_THAT(Codes(r.findings), Contains("sts_record.syntax")) << text;
  }
  const std::string long_name = "v=STSv1; id=1; " + std::string(33, 'n') + "=v";
  EXPECT_FALSE(Parse({long_name}).valid());
  EXPECT_TRUE(Parse({"v=STSv1; id=1; " + std::string(32, 'n') + "=v"}).valid());
}

TEST(StsRecordTest, RecordsNotBeginningWithVersionAreDiscarded) {
  const StsRecordResult r = Parse({"v=spf1 -all", "v=STSv1; id=abc", "google-site-verification=x"});
  ASSERT_TRUE(r.valid());
  EXPECT_EQ(r.record->id, "abc");
  EXPECT_THAT(Codes(r.findings), ElementsAre("sts_record.discarded", "sts_record.discarded"));
}

TEST(StsRecordTest, NoRecordOrTwoRecordsMeansNoPolicy) {
  EXPECT_THAT(Codes(Parse({}).findings), ElementsAre("sts_record.none"));
  EXPECT_THAT(Codes(Parse({"v=spf1 -all"}).findings),
              ElementsAre("sts_record.discarded", "sts_record.none"));
  const StsRecordResult two = Parse({"v=STSv1; id=1", "v=STSv1; id=2"});
  EXPECT_FALSE(two.valid());
  EXPECT_THAT(Codes(two.findings), ElementsAre("sts_record.multiple"));
  // Two records even if one of them is malformed.
  EXPECT_FALSE(Parse({"v=STSv1; id=1", "v=STSv1; id=bad-id"}).valid());
}

TEST(StsRecordTest, VersionIsCaseSensitiveAndFirst) {
  for (const char* text : {"V=STSv1; id=1", "v=stsv1; id=1", " v=STSv1; id=1", "v = STSv1; id=1",
                           "v=STSv10; id=1", "v=STSv1x; id=1"}) {
    const StsRecordResult r = Parse({text});
    EXPECT_FALSE(r.valid()) << text;
    EXPECT_THAT(Codes(r.findings), ElementsAre("sts_record.version_near_miss", "sts_record.none"))
        << text;
  }
  const StsRecordResult later = Parse({"id=1; v=STSv1"});
  EXPECT_FALSE(later.valid());
  EXPECT_THAT(Codes(later.findings), ElementsAre("sts_record.discarded", "sts_record.none"));
}

TEST(StsRecordTest, HostileInputIsQuotedNotEchoed) {
  const std::string junk = "v=STSv1; id=1; x=" + std::string(10000, 'A') + "\x1b[2J";
  const StsRecordResult r = Parse({junk});
  ASSERT_FALSE(r.valid());
  for (const Finding& f : r.findings) {
    EXPECT_LT(f.message.size(), 400u);
    EXPECT_EQ(f.message.find('\x1b'), std::string::npos);
  }
}

}  // namespace
}  // namespace stswatch::mtasts
