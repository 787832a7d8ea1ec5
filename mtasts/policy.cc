#include "mtasts/policy.h"

#include <array>

#include "mtasts/finding_codes.h"
#include "mtasts/hostname.h"
#include "mtasts/mx_pattern.h"
#include "mtasts/text.h"
#include "mtasts/txt_fields.h"

namespace stswatch::mtasts {
namespace {

constexpr std::array<std::string_view, 4> kKnownKeys = {"version", "mode", "max_age", "mx"};

struct Line {
  std::string_view text;  // Without its line end.
  int number;             // 1-based.
};

// Policy extension values: UTF-8 text without control characters (RFC 8461 sts-policy-ext-value;
// the leading and trailing spaces are consumed by the field delimiter and the record rule).
bool IsValidPolicyExtensionValue(std::string_view value) {
  if (value.empty()) {
    return false;
  }
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) {
      return false;
    }
  }
  return true;
}

// The known key an unknown key was probably meant to be, if any ("Mode", "nmx", "max-age").
std::optional<std::string_view> LikelyTypoOf(std::string_view key) {
  const std::string lower = ToLowerAscii(key);
  for (const std::string_view known : kKnownKeys) {
    const int allowed = known.size() <= 2 ? 1 : 2;
    if (lower == known || EditDistance(lower, known) <= allowed) {
      return known;
    }
  }
  return std::nullopt;
}

class PolicyParser {
 public:
  explicit PolicyParser(std::string_view body) : body_(body) {}

  PolicyResult Run() {
    if (body_.empty()) {
      Add(MakeFinding(kPolicyEmpty,
                      "The policy file is empty; serve at least the version, mode, max_age and "
                      "mx lines."));
      return Finish();
    }
    if (body_.size() > kMaxPolicyBytes) {
      Add(MakeFinding(kPolicyTooLarge, "The policy file is " + std::to_string(body_.size()) +
                                           " bytes; senders read at most 65536. A policy needs "
                                           "only a few lines."));
      return Finish();
    }
    if (!IsText()) {
      return Finish();
    }
    SplitLines();
    for (const Line& line : lines_) {
      ParseLine(line);
    }
    CheckRequired();
    return Finish();
  }

 private:
  void Add(Finding finding) { result_.findings.push_back(std::move(finding)); }

  // Binary junk and invalid UTF-8 make the whole body unusable; report it once.
  bool IsText() {
    if (!IsValidUtf8(body_)) {
      Add(MakeFinding(kPolicyNotText,
                      "The policy file is not valid UTF-8 text; serve a plain-text file with the "
                      "version, mode, max_age and mx lines."));
      return false;
    }
    for (std::size_t i = 0; i < body_.size(); ++i) {
      const auto u = static_cast<unsigned char>(body_[i]);
      if ((u < 0x20 && u != '\t' && u != '\r' && u != '\n') || u == 0x7F) {
        Add(MakeFinding(kPolicyNotText, "The policy file contains the control byte \\x" + Hex(u) +
                                            " at offset " + std::to_string(i) +
                                            "; it is not a text file."));
        return false;
      }
    }
    return true;
  }

  static std::string Hex(unsigned char u) {
    static constexpr char kHex[] = "0123456789abcdef";
    return {kHex[u >> 4], kHex[u & 0xF]};
  }

  void SplitLines() {
    std::size_t start = 0;
    int number = 1;
    int lf_only = 0;
    int crlf = 0;
    while (start < body_.size()) {
      const std::size_t lf = body_.find('\n', start);
      std::string_view text =
          body_.substr(start, lf == std::string_view::npos ? body_.size() - start : lf - start);
      if (lf != std::string_view::npos) {
        if (!text.empty() && text.back() == '\r') {
          text.remove_suffix(1);
          ++crlf;
        } else {
          ++lf_only;
        }
      }
      lines_.push_back(Line{text, number++});
      if (lf == std::string_view::npos) {
        break;
      }
      start = lf + 1;
    }
    if (lf_only > 0) {
      std::string message = crlf > 0 ? "Line ends are mixed: " + std::to_string(crlf) +
                                           " CRLF and " + std::to_string(lf_only) + " LF only. "
                                     : std::string("Lines end in LF only. ");
      message +=
          "RFC 8461 as published says CRLF-separated while its grammar allows LF (erratum "
          "6253); most senders accept both, but CRLF is the safe choice.";
      Add(MakeFinding(kPolicyLfLineEndings, message));
    }
  }

  void ParseLine(const Line& line) {
    const std::string_view text = line.text;
    if (TrimWsp(text).empty()) {
      Add(MakeFinding(kPolicyBlankLine,
                      "Line " + std::to_string(line.number) +
                          " is empty; the policy grammar allows no empty lines (and at most one "
                          "line end after the last line). Remove it.",
                      line.number));
      return;
    }
    if (text.find('\r') != std::string_view::npos) {
      Add(MakeFinding(kPolicySyntax,
                      "Line " + std::to_string(line.number) +
                          " contains a carriage return that is not part of a CRLF line end.",
                      line.number));
      return;
    }
    if (IsWsp(text.front())) {
      Add(MakeFinding(kPolicySyntax,
                      "Line " + std::to_string(line.number) + " " + Quote(text) +
                          " begins with whitespace; every line must begin with its key.",
                      line.number));
      return;
    }
    const std::size_t colon = text.find(':');
    if (colon == std::string_view::npos) {
      Add(MakeFinding(kPolicySyntax,
                      "Line " + std::to_string(line.number) + " " + Quote(text) +
                          " is not a key: value pair (no \":\").",
                      line.number));
      return;
    }
    const std::string_view key = text.substr(0, colon);
    if (!internal::IsValidFieldName(key)) {
      std::string why = "is not a valid key";
      if (!key.empty() && IsWsp(key.back())) {
        why += " (no whitespace is allowed before \":\")";
      }
      Add(MakeFinding(kPolicySyntax,
                      "Line " + std::to_string(line.number) + ": " + Quote(key) + " " + why +
                          "; keys are 1 to 32 letters, digits, \"_\", \"-\" or \".\".",
                      line.number));
      return;
    }
    const std::string_view value = TrimWsp(text.substr(colon + 1));
    if (key == "version") {
      ParseVersion(value, line.number);
    } else if (key == "mode") {
      ParseMode(value, line.number);
    } else if (key == "max_age") {
      ParseMaxAge(value, line.number);
    } else if (key == "mx") {
      ParseMx(value, line.number);
    } else {
      ParseExtension(key, value, line.number);
    }
  }

  // RFC 8461 §3.2: if a field other than mx is repeated, all but the first SHALL be ignored.
  bool IsDuplicate(std::string_view key, int& first_line, int line) {
    if (first_line == 0) {
      first_line = line;
      return false;
    }
    Add(MakeFinding(kPolicyDuplicateKey,
                    "Line " + std::to_string(line) + " repeats the key \"" + std::string(key) +
                        "\" of line " + std::to_string(first_line) +
                        "; senders use the first and ignore this one. Remove one of them.",
                    line));
    return true;
  }

  void ParseVersion(std::string_view value, int line) {
    if (IsDuplicate("version", version_line_, line)) {
      return;
    }
    if (value != "STSv1") {
      Add(MakeFinding(
          kPolicyVersionInvalid,
          "version is " + Quote(value) + "; the only version is \"STSv1\" (case-sensitive).",
          line));
      return;
    }
    policy_.version = std::string(value);
    version_ok_ = true;
  }

  void ParseMode(std::string_view value, int line) {
    if (IsDuplicate("mode", mode_line_, line)) {
      return;
    }
    if (value == "enforce") {
      policy_.mode = PolicyMode::kEnforce;
    } else if (value == "testing") {
      policy_.mode = PolicyMode::kTesting;
    } else if (value == "none") {
      policy_.mode = PolicyMode::kNone;
    } else {
      Add(MakeFinding(kPolicyModeInvalid,
                      "mode is " + Quote(value) +
                          "; it must be exactly \"enforce\", \"testing\" or \"none\" (lower case).",
                      line));
      return;
    }
    mode_ok_ = true;
  }

  void ParseMaxAge(std::string_view value, int line) {
    if (IsDuplicate("max_age", max_age_line_, line)) {
      return;
    }
    bool digits = !value.empty();
    for (const char c : value) {
      digits = digits && IsDigit(c);
    }
    if (!digits) {
      Add(MakeFinding(kPolicyMaxAgeInvalid,
                      "max_age is " + Quote(value) +
                          "; it must be a plain number of seconds (digits only, no sign, unit or "
                          "separator), e.g. 604800 for a week.",
                      line));
      return;
    }
    std::uint64_t seconds = 0;
    for (const char c : value) {
      seconds = seconds * 10 + static_cast<std::uint64_t>(c - '0');
      if (seconds > kMaxMaxAge) {
        break;  // Stop before the number can overflow.
      }
    }
    if (seconds > kMaxMaxAge || value.size() > 10) {
      Add(MakeFinding(
          kPolicyMaxAgeOutOfRange,
          "max_age is " + Quote(value) + "; the largest allowed value is 31557600 (one year).",
          line));
      return;
    }
    policy_.max_age = static_cast<std::uint32_t>(seconds);
    max_age_ok_ = true;
  }

  void ParseMx(std::string_view value, int line) {
    ++mx_lines_;
    std::vector<Finding> findings = CheckMxPattern(value, line);
    const bool ok = !HasError(findings);
    for (Finding& f : findings) {
      Add(std::move(f));
    }
    if (!ok) {
      return;
    }
    for (const std::string& seen : policy_.mx) {
      if (EqualsIgnoreCase(seen, value)) {
        Add(MakeFinding(kPolicyMxDuplicate,
                        "mx pattern " + Quote(value) + " is listed more than once.", line));
        return;
      }
    }
    policy_.mx.emplace_back(value);
  }

  void ParseExtension(std::string_view key, std::string_view value, int line) {
    if (!IsValidPolicyExtensionValue(value)) {
      Add(MakeFinding(kPolicySyntax,
                      "Line " + std::to_string(line) + ": the key " + Quote(key) +
                          " has no value; every line must be key: value.",
                      line));
      return;
    }
    if (const auto known = LikelyTypoOf(key)) {
      Add(MakeFinding(kPolicyKeyTypo,
                      "Line " + std::to_string(line) + ": the key " + Quote(key) +
                          " is unknown and senders ignore it; did you mean \"" +
                          std::string(*known) + "\"? Keys are case-sensitive.",
                      line));
      return;
    }
    Add(MakeFinding(kPolicyUnknownKey,
                    "Line " + std::to_string(line) + ": the key " + Quote(key) +
                        " is not defined by RFC 8461; senders ignore it.",
                    line));
  }

  void CheckRequired() {
    if (version_line_ == 0) {
      Add(MakeFinding(kPolicyVersionMissing,
                      "The policy has no version line; add \"version: STSv1\"."));
    }
    if (mode_line_ == 0) {
      Add(MakeFinding(kPolicyModeMissing,
                      "The policy has no mode line; add \"mode: testing\" while you roll out, "
                      "\"mode: enforce\" once reports are clean."));
    }
    if (max_age_line_ == 0) {
      Add(MakeFinding(kPolicyMaxAgeMissing,
                      "The policy has no max_age line; add e.g. \"max_age: 604800\" (a week), "
                      "or 2592000 or more in enforce mode."));
    }
    const bool mode_none = mode_ok_ && policy_.mode == PolicyMode::kNone;
    if (mx_lines_ == 0 && !mode_none) {
      Add(MakeFinding(kPolicyMxMissing,
                      "The policy has no mx line; add one \"mx: host\" line per MX host (or a "
                      "\"*.\" pattern), or use mode none to withdraw the policy."));
    }
    if (mode_ok_ && policy_.mode == PolicyMode::kTesting) {
      Add(MakeFinding(kPolicyModeTesting,
                      "Testing mode: senders that fail to validate an MX report the failure "
                      "(TLS-RPT) but still deliver. Switch to enforce once reports are clean.",
                      mode_line_));
    }
    if (mode_none) {
      Add(MakeFinding(kPolicyModeNone,
                      "Mode none: senders treat the domain as having no active policy. Use it to "
                      "withdraw MTA-STS safely.",
                      mode_line_));
    }
    if (max_age_ok_) {
      const std::string seconds = std::to_string(policy_.max_age);
      if (mode_ok_ && policy_.mode == PolicyMode::kEnforce && policy_.max_age < kThirtyDays) {
        Add(MakeFinding(kPolicyMaxAgeShortEnforce,
                        "max_age is " + seconds +
                            " seconds in enforce mode; use at least 2592000 (30 days) so senders "
                            "keep the policy long enough to resist downgrade attacks.",
                        max_age_line_));
      }
      if (policy_.max_age < kOneDay) {
        Add(MakeFinding(kPolicyMaxAgeShort,
                        "max_age is " + seconds +
                            " seconds, under one day; senders forget the policy quickly, which "
                            "leaves little protection. Use 86400 or more (weeks in production).",
                        max_age_line_));
      }
    }
  }

  PolicyResult Finish() {
    if (!HasError(result_.findings) && version_ok_ && mode_ok_ && max_age_ok_) {
      result_.policy = std::move(policy_);
    }
    return std::move(result_);
  }

  std::string_view body_;
  std::vector<Line> lines_;
  PolicyResult result_;
  Policy policy_;
  int version_line_ = 0;
  int mode_line_ = 0;
  int max_age_line_ = 0;
  int mx_lines_ = 0;
  bool version_ok_ = false;
  bool mode_ok_ = false;
  bool max_age_ok_ = false;
};

}  // namespace

std::string_view PolicyModeName(PolicyMode mode) {
  switch (mode) {
    case PolicyMode::kEnforce:
      return "enforce";
    case PolicyMode::kTesting:
      return "testing";
    case PolicyMode::kNone:
      return "none";
  }
  return "none";
}

PolicyResult ParsePolicy(std::string_view body) { return PolicyParser(body).Run(); }

std::vector<MxCoverage> CoverMxHosts(const Policy& policy, std::span<const std::string> hosts,
                                     std::vector<Finding>& findings) {
  std::vector<MxCoverage> coverage;
  coverage.reserve(hosts.size());
  for (const std::string& host : hosts) {
    MxCoverage entry{host, FindCoveringPattern(policy.mx, host)};
    if (!entry.pattern) {
      Severity severity = Severity::kError;
      std::string consequence = "senders in enforce mode refuse to deliver mail to it";
      if (policy.mode == PolicyMode::kTesting) {
        severity = Severity::kWarning;
        consequence =
            "senders report a failure for it today and will refuse it once the mode is "
            "enforce";
      } else if (policy.mode == PolicyMode::kNone) {
        severity = Severity::kInfo;
        consequence = "this has no effect while the mode is none";
      }
      findings.push_back(MakeFinding(kMxNotCovered, severity,
                                     "MX host " + Quote(host) +
                                         " matches no mx pattern of the policy; " + consequence +
                                         ". Add \"mx: " + CanonicalHostname(host) +
                                         "\" (or a covering \"*.\" pattern) to the policy.",
                                     0, host));
    }
    coverage.push_back(std::move(entry));
  }
  return coverage;
}

}  // namespace stswatch::mtasts
