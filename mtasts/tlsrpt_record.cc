#include "mtasts/tlsrpt_record.h"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include "mtasts/finding_codes.h"
#include "mtasts/hostname.h"
#include "mtasts/text.h"
#include "mtasts/txt_fields.h"

namespace stswatch::mtasts {
namespace {

// RFC 5322 atext.
bool IsAtext(char c) {
  return IsAlnum(c) || std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

// RFC 5322 addr-spec with a dot-atom or quoted-string local part and a host name or address
// literal domain. Returns nullopt when valid, otherwise why not.
std::optional<std::string> CheckAddress(std::string_view address) {
  const std::size_t at = address.rfind('@');
  if (at == std::string_view::npos) {
    return "it has no \"@\"";
  }
  const std::string_view local = address.substr(0, at);
  const std::string_view domain = address.substr(at + 1);
  if (local.empty()) {
    return "the part before \"@\" is empty";
  }
  if (local.size() >= 2 && local.front() == '"' && local.back() == '"') {
    for (const char c : local.substr(1, local.size() - 2)) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u > 0x7E) {
        return "the quoted local part contains a control or non-ASCII byte";
      }
    }
  } else {
    if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) {
      return "the local part " + Quote(local) + " has a misplaced dot";
    }
    for (const char c : local) {
      if (c != '.' && !IsAtext(c)) {
        return "the local part " + Quote(local) + " contains " + Quote(std::string_view(&c, 1));
      }
    }
  }
  if (domain.size() >= 2 && domain.front() == '[' && domain.back() == ']') {
    return std::nullopt;  // Address literal (RFC 5321 §4.1.3); rare but valid.
  }
  if (const auto error = CheckHostname(domain)) {
    return "the domain " + Quote(domain) + " is not valid: " + *error;
  }
  return std::nullopt;
}

std::optional<TlsRptRecord> ParseCandidate(std::string_view text, std::vector<Finding>& findings) {
  const internal::TxtFields split = internal::SplitTxtFields(text.substr(kTlsRptVersion.size()));
  bool valid = true;
  if (split.error) {
    findings.push_back(MakeFinding(
        kTlsRptRecordSyntax,
        "The _smtp._tls record " + Quote(text) + " is malformed: " + *split.error + "."));
    valid = false;
  }
  TlsRptRecord record;
  bool have_rua = false;
  for (const internal::TxtField& field : split.fields) {
    if (field.name == "rua") {
      if (have_rua) {
        // RFC 8460 §3 lets a record declare more than one rua; some senders read only the first
        // field, so every URI is kept and the split is flagged.
        findings.push_back(MakeFinding(kTlsRptRecordRuaDuplicate,
                                       "The record has more than one rua field; some senders read "
                                       "only the first. List every URI in one rua field, "
                                       "separated by commas."));
      }
      have_rua = true;
      // tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
      std::string_view rest = field.value;
      while (true) {
        const std::size_t comma = rest.find(',');
        const std::string_view uri = TrimWsp(rest.substr(0, comma));
        if (uri.empty()) {
          findings.push_back(MakeFinding(
              kTlsRptRecordSyntax, "The rua field " + Quote(field.value) +
                                       " has an empty entry; give one or more URIs separated by "
                                       "commas, e.g. rua=mailto:tlsrpt@example.com."));
          valid = false;
        } else {
          std::vector<Finding> uri_findings = CheckRuaUri(uri);
          if (HasError(uri_findings)) {
            valid = false;
          }
          findings.insert(findings.end(), uri_findings.begin(), uri_findings.end());
          record.rua.emplace_back(uri);
        }
        if (comma == std::string_view::npos) {
          break;
        }
        rest.remove_prefix(comma + 1);
      }
      continue;
    }
    if (!internal::IsValidExtensionValue(field.value)) {
      findings.push_back(MakeFinding(
          kTlsRptRecordSyntax,
          "The value of field " + Quote(field.name) + ", " + Quote(field.value) +
              ", is not valid: extension values are one or more visible ASCII characters other "
              "than \"=\" and \";\"."));
      valid = false;
      continue;
    }
    std::string hint;
    if (EqualsIgnoreCase(field.name, "rua")) {
      hint = " Field names are case-sensitive: the rua field must be written \"rua\".";
    }
    findings.push_back(MakeFinding(
        kTlsRptRecordExtension, "The record carries the extension field " + Quote(field.name) +
                                    "=" + Quote(field.value) + ", which senders ignore." + hint));
  }
  if (!have_rua) {
    findings.push_back(MakeFinding(kTlsRptRecordRuaMissing,
                                   "The record has no rua field, so senders have nowhere to send "
                                   "reports; add e.g. \"rua=mailto:tlsrpt@example.com\"."));
    valid = false;
  }
  if (!valid) {
    return std::nullopt;
  }
  return record;
}

}  // namespace

std::vector<Finding> CheckRuaUri(std::string_view uri) {
  std::vector<Finding> findings;
  // RFC 8460 §3: commas, exclamation points and semicolons in a URI MUST be percent-encoded.
  if (uri.find('!') != std::string_view::npos) {
    findings.push_back(MakeFinding(kTlsRptRecordRuaInvalidUri,
                                   "The rua URI " + Quote(uri) +
                                       " contains \"!\", which must be percent-encoded as %21 "
                                       "(there is no size limit suffix in TLS-RPT)."));
    return findings;
  }
  const auto parsed = boost::urls::parse_uri(boost::core::string_view(uri.data(), uri.size()));
  if (!parsed) {
    findings.push_back(MakeFinding(
        kTlsRptRecordRuaInvalidUri,
        "The rua entry " + Quote(uri) +
            " is not a valid URI; write mailto:address or https://host/path, with spaces and "
            "other special characters percent-encoded."));
    return findings;
  }
  const boost::urls::url_view& url = *parsed;
  const std::string scheme =
      ToLowerAscii(std::string_view(url.scheme().data(), url.scheme().size()));
  if (scheme == "mailto") {
    const std::string to = url.path();  // Percent-decoded.
    if (to.empty()) {
      findings.push_back(MakeFinding(
          kTlsRptRecordRuaMailto,
          "The rua URI " + Quote(uri) + " has no address; write mailto:tlsrpt@example.com."));
      return findings;
    }
    std::string_view rest = to;
    while (true) {
      const std::size_t comma = rest.find(',');
      const std::string_view address = rest.substr(0, comma);
      if (const auto error = CheckAddress(address)) {
        findings.push_back(MakeFinding(kTlsRptRecordRuaMailto,
                                       "The rua URI " + Quote(uri) + " has no valid address: " +
                                           Quote(address) + ": " + *error + "."));
        return findings;
      }
      if (comma == std::string_view::npos) {
        break;
      }
      rest.remove_prefix(comma + 1);
    }
    return findings;
  }
  if (scheme == "https") {
    const std::string host = url.host();
    if (!url.has_authority() || host.empty()) {
      findings.push_back(MakeFinding(
          kTlsRptRecordRuaHttps,
          "The rua URI " + Quote(uri) + " has no host; write https://host.example.com/path."));
      return findings;
    }
    if (url.host_type() == boost::urls::host_type::name) {
      std::string_view name = host;
      if (name.size() > 1 && name.back() == '.') {
        name.remove_suffix(1);
      }
      if (const auto error = CheckHostname(name)) {
        findings.push_back(
            MakeFinding(kTlsRptRecordRuaHttps,
                        "The rua URI " + Quote(uri) + " has an invalid host: " + *error + "."));
      }
    }
    return findings;
  }
  std::string hint = "use mailto: or https:";
  if (scheme == "http") {
    hint = "reports must be posted over https:";
  }
  findings.push_back(MakeFinding(kTlsRptRecordRuaScheme,
                                 "The rua URI " + Quote(uri) + " uses the scheme " + Quote(scheme) +
                                     ", which TLS-RPT does not support; " + hint + "."));
  return findings;
}

TlsRptRecordResult ParseTlsRptRecordSet(std::span<const std::string> records) {
  TlsRptRecordResult result;
  std::vector<std::string_view> candidates;
  for (const std::string& text : records) {
    if (internal::HasVersionTag(text, kTlsRptVersion)) {
      candidates.push_back(text);
    } else if (internal::IsVersionNearMiss(text, kTlsRptVersion)) {
      result.findings.push_back(MakeFinding(
          kTlsRptRecordVersionNearMiss,
          "The record " + Quote(text) +
              " looks meant as a TLS-RPT record but does not begin with exactly \"v=TLSRPTv1\" "
              "(case-sensitive, no leading space, followed by \";\"), so senders ignore it."));
    } else {
      result.findings.push_back(MakeFinding(
          kTlsRptRecordDiscarded,
          "The record " + Quote(text) + " does not begin with v=TLSRPTv1 and is ignored."));
    }
  }
  if (candidates.empty()) {
    result.findings.push_back(MakeFinding(
        kTlsRptRecordNone,
        "No record begins with v=TLSRPTv1, so senders send no TLS reports. Publish one record "
        "such as \"v=TLSRPTv1; rua=mailto:tlsrpt@example.com\"."));
    return result;
  }
  if (candidates.size() > 1) {
    result.findings.push_back(MakeFinding(
        kTlsRptRecordMultiple,
        std::to_string(candidates.size()) +
            " records begin with v=TLSRPTv1; senders must then ignore TLS reporting for the "
            "domain. Keep exactly one, listing every destination in its rua field."));
    return result;
  }
  result.record = ParseCandidate(candidates.front(), result.findings);
  return result;
}

}  // namespace stswatch::mtasts
