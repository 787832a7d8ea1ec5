#include "mtasts/sts_record.h"

#include "mtasts/finding_codes.h"
#include "mtasts/text.h"
#include "mtasts/txt_fields.h"

namespace stswatch::mtasts {
namespace {

bool IsValidId(std::string_view id) {
  if (id.empty() || id.size() > 32) {
    return false;
  }
  for (const char c : id) {
    if (!IsAlnum(c)) {
      return false;
    }
  }
  return true;
}

// Parses the one candidate record. Appends findings; returns the record when it is valid.
std::optional<StsRecord> ParseCandidate(std::string_view text, std::vector<Finding>& findings) {
  const internal::TxtFields split = internal::SplitTxtFields(text.substr(kStsVersion.size()));
  bool valid = true;
  if (split.error) {
    findings.push_back(MakeFinding(kStsRecordSyntax, "The _mta-sts record " + Quote(text) +
                                                         " is malformed: " + *split.error + "."));
    valid = false;
  }
  StsRecord record;
  bool have_id = false;
  for (const internal::TxtField& field : split.fields) {
    if (field.name == "id") {
      if (have_id) {
        findings.push_back(
            MakeFinding(kStsRecordIdDuplicate,
                        "The record has more than one id field; senders use the first, " +
                            Quote(record.id) + ", or may reject the record. Keep one."));
        continue;
      }
      have_id = true;
      if (!IsValidId(field.value)) {
        findings.push_back(MakeFinding(
            kStsRecordIdInvalid,
            "id=" + Quote(field.value) +
                " is not valid: the id must be 1 to 32 letters and digits (no dots, dashes or "
                "spaces), e.g. a timestamp such as 20240101000000."));
        valid = false;
        continue;
      }
      record.id = std::string(field.value);
      continue;
    }
    if (!internal::IsValidExtensionValue(field.value)) {
      findings.push_back(MakeFinding(
          kStsRecordSyntax,
          "The value of field " + Quote(field.name) + ", " + Quote(field.value) +
              ", is not valid: extension values are one or more visible ASCII characters other "
              "than \"=\" and \";\"."));
      valid = false;
      continue;
    }
    std::string hint;
    if (EqualsIgnoreCase(field.name, "id")) {
      hint = " Field names are case-sensitive: the id field must be written \"id\".";
    }
    findings.push_back(MakeFinding(
        kStsRecordExtension, "The record carries the extension field " + Quote(field.name) + "=" +
                                 Quote(field.value) + ", which senders ignore." + hint));
    record.extensions.emplace_back(field.name, field.value);
  }
  if (!have_id) {
    findings.push_back(MakeFinding(kStsRecordIdMissing,
                                   "The record has no id field; add one, e.g. "
                                   "\"v=STSv1; id=20240101000000;\", and change it whenever the "
                                   "policy changes."));
    valid = false;
  }
  if (!valid) {
    return std::nullopt;
  }
  return record;
}

}  // namespace

StsRecordResult ParseStsRecordSet(std::span<const std::string> records) {
  StsRecordResult result;
  std::vector<std::string_view> candidates;
  for (const std::string& text : records) {
    if (internal::HasVersionTag(text, kStsVersion)) {
      candidates.push_back(text);
    } else if (internal::IsVersionNearMiss(text, kStsVersion)) {
      result.findings.push_back(MakeFinding(
          kStsRecordVersionNearMiss,
          "The record " + Quote(text) +
              " looks meant as an MTA-STS record but does not begin with exactly \"v=STSv1\" "
              "(case-sensitive, no leading space, followed by \";\"), so senders ignore it."));
    } else {
      result.findings.push_back(MakeFinding(
          kStsRecordDiscarded,
          "The record " + Quote(text) + " does not begin with v=STSv1 and is ignored."));
    }
  }
  if (candidates.empty()) {
    result.findings.push_back(MakeFinding(
        kStsRecordNone,
        "No record begins with v=STSv1, so senders treat the domain as having no MTA-STS "
        "policy. Publish one record such as \"v=STSv1; id=20240101000000;\"."));
    return result;
  }
  if (candidates.size() > 1) {
    result.findings.push_back(MakeFinding(
        kStsRecordMultiple,
        std::to_string(candidates.size()) +
            " records begin with v=STSv1; senders must then ignore MTA-STS for the domain. Keep "
            "exactly one."));
    return result;
  }
  result.record = ParseCandidate(candidates.front(), result.findings);
  return result;
}

}  // namespace stswatch::mtasts
