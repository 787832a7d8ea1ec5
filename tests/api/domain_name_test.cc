// NormalizeDomainName: the spelling every API call stores and compares, and the messages a person
// gets for what is not a domain name.

#include "api/domain_name.h"

#include <random>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace stswatch::api {
namespace {

using ::testing::HasSubstr;

std::string Normalized(std::string_view input) {
  const absl::StatusOr<std::string> name = NormalizeDomainName(input);
  EXPECT_TRUE(name.ok()) << input << ": " << name.status();
  return name.value_or("");
}

std::string Error(std::string_view input) {
  const absl::StatusOr<std::string> name = NormalizeDomainName(input);
  EXPECT_FALSE(name.ok()) << input << " was accepted as " << name.value_or("");
  EXPECT_EQ(name.status().code(), absl::StatusCode::kInvalidArgument) << input;
  return std::string(name.status().message());
}

TEST(DomainNameTest, AsciiNamesAreTrimmedLowerCasedAndLoseOneTrailingDot) {
  EXPECT_EQ(Normalized("example.com"), "example.com");
  EXPECT_EQ(Normalized("  Mail.Example.COM.\n"), "mail.example.com");
  EXPECT_EQ(Normalized("a.b"), "a.b");
  EXPECT_EQ(Normalized("0x1.com"), "0x1.com");
  EXPECT_EQ(Normalized("a.1b"), "a.1b");
  EXPECT_EQ(Normalized("x-1.y--z.example"), "x-1.y--z.example");
  EXPECT_EQ(Normalized("123.example"), "123.example");
}

TEST(DomainNameTest, ULabelsBecomeALabels) {
  EXPECT_EQ(Normalized("bücher.example"), "xn--bcher-kva.example");
  EXPECT_EQ(Normalized("Bücher.Example."), "xn--bcher-kva.example");
  // UTS #46 non-transitional: ß stays ß.
  EXPECT_EQ(Normalized("faß.de"), "xn--fa-hia.de");
  // NFC input: u + combining diaeresis is ü.
  EXPECT_EQ(Normalized("bu\xcc\x88"
                       "cher.example"),
            "xn--bcher-kva.example");
  // The ideographic full stop separates labels.
  EXPECT_EQ(Normalized("bücher\xe3\x80\x82"
                       "example"),
            "xn--bcher-kva.example");
  EXPECT_EQ(Normalized("mañana.com"), "xn--maana-pta.com");
}

TEST(DomainNameTest, ValidALabelsAreKept) {
  EXPECT_EQ(Normalized("xn--bcher-kva.example"), "xn--bcher-kva.example");
  EXPECT_EQ(Normalized("XN--BCHER-KVA.EXAMPLE"), "xn--bcher-kva.example");
  EXPECT_EQ(Normalized("xn--maana-pta.xn--bcher-kva.example"),
            "xn--maana-pta.xn--bcher-kva.example");
}

TEST(DomainNameTest, BadALabelsAreRefused) {
  EXPECT_THAT(Error("xn--zz.example"), HasSubstr("\"xn--zz\" is not a valid A-label: "));
  EXPECT_THAT(Error("shop.xn--zz"), HasSubstr("\"xn--zz\" is not a valid A-label: "));
  // Decodes to a snowman, which IDNA2008 disallows.
  EXPECT_THAT(Error("xn--n3h.com"), HasSubstr("\"xn--n3h\" is not a valid A-label: it decodes to"));
  // Decodes to an emoji.
  EXPECT_THAT(Error("xn--ls8h.la"), HasSubstr("\"xn--ls8h\" is not a valid A-label"));
  EXPECT_THAT(Error("xn--a.com"), HasSubstr("\"xn--a\" is not a valid A-label"));
  EXPECT_THAT(Error("xn--.com"), HasSubstr("starts or ends with '-'"));
}

TEST(DomainNameTest, ULabelsIdnaRefusesAreRefusedWithLibidn2sReason) {
  EXPECT_THAT(Error("\xe2\x98\x83.net"),
              HasSubstr("\"\xe2\x98\x83.net\" cannot be converted to an A-label (IDNA2008): "));
  EXPECT_THAT(Error("\xe2\x98\x83.net"), HasSubstr("disallowed"));
  // Not UTF-8: the message escapes the bytes, so it stays UTF-8 itself.
  EXPECT_THAT(Error("\xff\xfe.com"), HasSubstr("\"\\xff\\xfe.com\" cannot be converted"));
}

TEST(DomainNameTest, MalformedNamesSayWhatIsWrong) {
  EXPECT_EQ(Error("bad..name"), "\"bad..name\" is not a domain name: empty label");
  EXPECT_EQ(Error(".example.com"), "\".example.com\" is not a domain name: empty label");
  EXPECT_EQ(Error("example.com.."), "\"example.com..\" is not a domain name: empty label");
  EXPECT_EQ(Error(""), "\"\" is not a domain name: it is empty");
  EXPECT_EQ(Error("   "), "\"\" is not a domain name: it is empty");
  EXPECT_EQ(Error("."), "\".\" is not a domain name: the root is not a domain name");
  EXPECT_THAT(Error("localhost"), HasSubstr("a single label"));
  EXPECT_THAT(Error("a_b.com"), HasSubstr("contains \"_\""));
  EXPECT_THAT(Error("bü_x.example"), HasSubstr("contains \"_\""));
  EXPECT_THAT(Error("exa mple.com"), HasSubstr("a space or a control character"));
  EXPECT_THAT(Error(std::string("exa\0mple.com", 12)), HasSubstr("\"exa\\x00mple.com\""));
  EXPECT_THAT(Error("-a.com"), HasSubstr("label \"-a\" starts or ends with '-'"));
  EXPECT_THAT(Error("a-.com"), HasSubstr("label \"a-\" starts or ends with '-'"));
  EXPECT_THAT(Error("127.0.0.1"), HasSubstr("the top-level label \"1\" is all digits"));
  EXPECT_THAT(Error("a.123"), HasSubstr("is all digits"));
  EXPECT_THAT(Error("user@example.com"), HasSubstr("contains \"@\""));
  EXPECT_THAT(Error("https://example.com/"), HasSubstr("contains \":\""));
}

TEST(DomainNameTest, LengthLimits) {
  const std::string label63(63, 'a');
  const std::string label64(64, 'a');
  EXPECT_EQ(Normalized(label63 + ".com"), label63 + ".com");
  EXPECT_THAT(Error(label64 + ".com"), HasSubstr("has 64 characters, at most 63"));
  // 4 labels of 63 and one of 1: 63*4 + 3 dots + 1 dot + 1 = 257 > 253.
  std::string name = label63 + "." + label63 + "." + label63 + ".";
  // 3*63 + 3 = 192; up to 253 leaves 61 for the last label.
  EXPECT_EQ(Normalized(name + std::string(61, 'b')), name + std::string(61, 'b'));
  EXPECT_EQ(Normalized(name + std::string(61, 'b') + "."), name + std::string(61, 'b'));
  EXPECT_THAT(Error(name + std::string(62, 'b')), HasSubstr("254 characters, at most 253"));
  // Long inputs are cut in the message.
  const std::string huge(100000, 'x');
  const std::string message = Error(huge);
  EXPECT_THAT(message, HasSubstr("longer than 253 characters"));
  EXPECT_LT(message.size(), 200u);
  // A U-label whose A-label is too long.
  // A U-label of 31 characters (à to ÿ) is "xn--" and 41 more; twice that is too long.
  const std::string letters =
      "àáâãäåæçèéêëìíî"
      "ïðñòóôõöøùúûüýþ"
      "ÿ";
  EXPECT_EQ(Normalized(letters + ".example").size(), 4 + 41 + 8u);
  EXPECT_THAT(Error(letters + letters + ".example"),
              HasSubstr("is not a domain name: a label is longer than 63 characters once "
                        "converted to an A-label"));
  // Five such labels: 5 * 45 + 4 dots, then 16 + 1 + 8 more: 254 once converted.
  std::string five = letters;
  for (int i = 0; i < 4; ++i) {
    five += "." + letters;
  }
  EXPECT_THAT(Error(five + "." + std::string(16, 'a') + ".example"),
              HasSubstr("is not a domain name: longer than 253 characters once converted"));
  EXPECT_EQ(Normalized(five + "." + std::string(15, 'a') + ".example").size(), 253u);
}

TEST(DomainNameTest, NormalizingIsIdempotent) {
  for (const char* input : {"Bücher.Example.", "faß.de", "EXAMPLE.org", "mañana.com"}) {
    const std::string once = Normalized(input);
    EXPECT_EQ(Normalized(once), once);
  }
}

// Whatever the bytes, an answer and no crash (ASan/UBSan builds run this too).
TEST(DomainNameTest, RandomBytesNeverCrash) {
  std::mt19937 random(20240611);
  const std::string alphabet = std::string("abcxyz019-._ \t\0\x7f", 16) +
                               "\xc3\xbc\xc3\x9f\xe2\x98\x83\xf0\x9f\x92\xa9\xe3\x80\x82\xff\xc0";
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string input;
    const int length = static_cast<int>(random() % 80);
    for (int j = 0; j < length; ++j) {
      if (i % 3 == 0) {
        input += static_cast<char>(random() & 0xFF);
      } else if (i % 3 == 1) {
        input += "abcdefghijklmnopqrstuvwxyz0123456789-.\xc3\xbc"[random() % 40];
      } else {
        input += alphabet[random() % alphabet.size()];
      }
    }
    if (i % 7 == 0) {
      input.insert(0, "xn--");
    }
    const absl::StatusOr<std::string> name = NormalizeDomainName(input);
    if (name.ok()) {
      ++accepted;
      // What is accepted is normalized for good.
      const absl::StatusOr<std::string> again = NormalizeDomainName(*name);
      ASSERT_TRUE(again.ok()) << *name << ": " << again.status();
      EXPECT_EQ(*again, *name);
      EXPECT_LE(name->size(), 253u);
    } else {
      EXPECT_EQ(name.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
  EXPECT_GT(accepted, 0);
}

}  // namespace
}  // namespace stswatch::api
