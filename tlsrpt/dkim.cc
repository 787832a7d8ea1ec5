#include "tlsrpt/dkim.h"

#include <algorithm>
#include <array>
#include <memory>
#include <utility>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tlsrpt/text.h"

namespace stswatch::tlsrpt {
namespace {

bool EndsWith(std::string_view text, std::string_view suffix) { return text.ends_with(suffix); }

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) { return Lower(a) == Lower(b); }

struct HeaderField {
  std::string name;  // Lower case, without trailing whitespace.
  std::string raw;   // The whole field as received, folding and final CRLF included.

  std::string Value() const {
    std::string value;
    const std::size_t colon = raw.find(':');
    for (std::size_t i = colon + 1; i < raw.size(); ++i) {
      if (raw[i] != '\r' && raw[i] != '\n') {
        value.push_back(raw[i]);
      }
    }
    return std::string(Trim(value));
  }
};

struct Message {
  std::vector<HeaderField> fields;
  std::string body;  // After the empty line, CRLF line ends.
};

// LF alone becomes CRLF: a message stored with LF line ends was signed with CRLF on the wire.
std::string NormalizeLineEnds(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 32);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) {
      out.push_back('\r');
    }
    out.push_back(text[i]);
  }
  return out;
}

Message SplitMessage(const std::string& text) {
  Message message;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find("\r\n", pos);
    end = end == std::string::npos ? text.size() : end + 2;
    const std::string_view line(text.data() + pos, end - pos);
    if (line == "\r\n") {
      message.body = text.substr(end);
      return message;
    }
    if ((line.front() == ' ' || line.front() == '\t') && !message.fields.empty()) {
      message.fields.back().raw.append(line);
    } else {
      const std::size_t colon = line.find(':');
      if (colon != std::string_view::npos) {
        HeaderField field;
        field.name = Lower(TrimRight(line.substr(0, colon)));
        field.raw = std::string(line);
        message.fields.push_back(std::move(field));
      }
    }
    pos = end;
  }
  return message;
}

bool IsWsp(char c) { return c == ' ' || c == '\t'; }

bool IsFws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view TrimFws(std::string_view text) {
  while (!text.empty() && IsFws(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && IsFws(text.back())) {
    text.remove_suffix(1);
  }
  return text;
}

// RFC 6376 §3.2 tag-list. Tag names are case-sensitive; a duplicate tag is an error.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseTagList(
    std::string_view text) {
  std::vector<std::pair<std::string, std::string>> tags;
  const std::vector<std::string_view> specs = Split(text, ';');
  tags.reserve(specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const std::string_view spec = TrimFws(specs[i]);
    if (spec.empty()) {
      if (i + 1 == specs.size()) {
        break;  // A trailing ';' is allowed.
      }
      return absl::InvalidArgumentError("an empty tag between two ';'");
    }
    const std::size_t eq = spec.find('=');
    if (eq == std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("the tag \"", std::string(spec), "\" has no '='"));
    }
    std::string name(TrimFws(spec.substr(0, eq)));
    if (name.empty()) {
      return absl::InvalidArgumentError("a tag without a name");
    }
    for (const auto& [existing, value] : tags) {
      if (existing == name) {
        return absl::InvalidArgumentError(absl::StrCat("the tag ", name, "= appears twice"));
      }
    }
    tags.emplace_back(std::move(name), std::string(TrimFws(spec.substr(eq + 1))));
  }
  return tags;
}

const std::string* FindTag(const std::vector<std::pair<std::string, std::string>>& tags,
                           std::string_view name) {
  for (const auto& [key, value] : tags) {
    if (key == name) {
      return &value;
    }
  }
  return nullptr;
}

// Base64 with folding whitespace anywhere (RFC 6376 §2.6 base64string).
std::optional<std::string> DecodeBase64(std::string_view text) {
  std::string out;
  out.reserve(text.size() / 4 * 3);
  std::uint32_t accumulator = 0;
  int bits = 0;
  bool padding = false;
  for (const char c : text) {
    if (IsFws(c)) {
      continue;
    }
    if (c == '=') {
      padding = true;
      continue;
    }
    const int v = Base64Value(c);
    if (v < 0 || padding) {
      return std::nullopt;
    }
    accumulator = (accumulator << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((accumulator >> bits) & 0xff));
    }
  }
  if (bits >= 6) {
    return std::nullopt;
  }
  return out;
}

std::string RelaxedHeader(const HeaderField& field) {
  const std::size_t colon = field.raw.find(':');
  std::string value;
  bool space = false;
  for (std::size_t i = colon + 1; i < field.raw.size(); ++i) {
    const char c = field.raw[i];
    if (c == '\r' || c == '\n') {
      continue;  // Unfold.
    }
    if (IsWsp(c)) {
      space = true;
      continue;
    }
    if (space && !value.empty()) {
      value.push_back(' ');
    }
    space = false;
    value.push_back(c);
  }
  return absl::StrCat(field.name, ":", value, "\r\n");
}

std::string CanonicalHeader(const HeaderField& field, bool relaxed) {
  return relaxed ? RelaxedHeader(field) : field.raw;
}

std::string CanonicalBody(std::string_view body, bool relaxed) {
  std::string out;
  out.reserve(body.size() + 2);
  if (!relaxed) {
    out.assign(body);
  } else {
    std::size_t pos = 0;
    while (pos < body.size()) {
      std::size_t end = body.find("\r\n", pos);
      const bool has_break = end != std::string_view::npos;
      end = has_break ? end : body.size();
      std::string line;
      bool space = false;
      for (std::size_t i = pos; i < end; ++i) {
        if (IsWsp(body[i])) {
          space = true;
          continue;
        }
        if (space) {
          line.push_back(' ');
        }
        space = false;
        line.push_back(body[i]);
      }
      // Whitespace at the end of a line is dropped (the pending space is never written).
      out.append(line);
      out.append("\r\n");
      pos = has_break ? end + 2 : end;
    }
  }
  // Both: no empty lines at the end; simple ends with exactly one CRLF, relaxed with one CRLF
  // unless the body is empty (RFC 6376 §3.4.3, §3.4.4).
  while (EndsWith(out, "\r\n")) {
    out.resize(out.size() - 2);
  }
  if (!out.empty() || !relaxed) {
    out.append("\r\n");
  }
  return out;
}

// The DKIM-Signature field with the value of its b= tag removed (RFC 6376 §3.7).
HeaderField WithoutSignatureValue(const HeaderField& field) {
  HeaderField result = field;
  std::string& raw = result.raw;
  std::size_t end = raw.size();
  if (EndsWith(raw, "\r\n")) {
    end -= 2;
  }
  std::size_t pos = raw.find(':') + 1;
  while (pos < end) {
    std::size_t segment_end = raw.find(';', pos);
    if (segment_end == std::string::npos || segment_end > end) {
      segment_end = end;
    }
    const std::size_t eq = raw.find('=', pos);
    if (eq != std::string::npos && eq < segment_end &&
        TrimFws(std::string_view(raw).substr(pos, eq - pos)) == "b") {
      raw.erase(eq + 1, segment_end - eq - 1);
      return result;
    }
    pos = segment_end + 1;
  }
  return result;
}

struct Signature {
  std::string algorithm;
  bool relaxed_header = false;
  bool relaxed_body = false;
  std::string domain;
  std::string selector;
  std::vector<std::string> headers;
  std::string body_hash;
  std::string signature;
  std::optional<std::uint64_t> length;
  std::string identity_domain;  // Domain of i=, lower case.
  std::size_t field_index = 0;
};

bool IsDomainName(std::string_view name) {
  if (name.empty() || name.size() > 253) {
    return false;
  }
  for (const std::string_view label : Split(name, '.')) {
    if (label.empty() || label.size() > 63) {
      return false;
    }
    for (const char c : label) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
        return false;
      }
    }
  }
  return true;
}

bool SameOrSubdomain(std::string_view name, std::string_view domain) {
  return name == domain || EndsWith(name, absl::StrCat(".", std::string(domain)));
}

bool Aligned(std::string_view signer, std::string_view domain) {
  return !signer.empty() && !domain.empty() &&
         (SameOrSubdomain(signer, domain) || SameOrSubdomain(domain, signer));
}

// The domain of the (first) address in a From field's value.
std::string AddressDomain(std::string_view value) {
  std::string_view address = value;
  if (const std::size_t lt = value.rfind('<'); lt != std::string_view::npos) {
    address = value.substr(lt + 1);
    address = address.substr(0, address.find('>'));
  }
  const std::size_t at = address.rfind('@');
  if (at == std::string_view::npos) {
    return "";
  }
  std::string_view domain = address.substr(at + 1);
  const std::size_t stop = domain.find_first_of(" \t>,;()");
  domain = Trim(domain.substr(0, stop));
  return Lower(domain);
}

// Reads the signature's tags; a failure is a permerror with its reason.
absl::StatusOr<Signature> ParseSignature(const HeaderField& field, absl::Time now) {
  const std::string value = field.raw.substr(field.raw.find(':') + 1);
  auto tags = ParseTagList(value);
  if (!tags.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("The DKIM-Signature is malformed: ", tags.status().message(), "."));
  }
  for (const char* required : {"v", "a", "b", "bh", "d", "h", "s"}) {
    if (FindTag(*tags, required) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("The DKIM-Signature lacks the required tag ", required, "=."));
    }
  }
  if (*FindTag(*tags, "v") != "1") {
    return absl::InvalidArgumentError(
        absl::StrCat("The DKIM-Signature has version v=", *FindTag(*tags, "v"), ", not 1."));
  }
  Signature sig;
  sig.algorithm = Lower(*FindTag(*tags, "a"));
  if (sig.algorithm == "rsa-sha1") {
    return absl::InvalidArgumentError(
        "The DKIM-Signature uses rsa-sha1, which verifiers must not accept (RFC 8301 §3.1).");
  }
  if (sig.algorithm != "rsa-sha256" && sig.algorithm != "ed25519-sha256") {
    return absl::InvalidArgumentError(
        absl::StrCat("The DKIM-Signature uses the unsupported algorithm a=", sig.algorithm, "."));
  }
  if (const std::string* c = FindTag(*tags, "c")) {
    // Split() views into its argument: keep the lower-cased string alive.
    const std::string canonicalization = Lower(*c);
    const std::vector<std::string_view> parts = Split(canonicalization, '/');
    if (parts.size() > 2 || (parts[0] != "simple" && parts[0] != "relaxed") ||
        (parts.size() == 2 && parts[1] != "simple" && parts[1] != "relaxed")) {
      return absl::InvalidArgumentError(
          absl::StrCat("The DKIM-Signature has the unknown canonicalization c=", *c, "."));
    }
    sig.relaxed_header = parts[0] == "relaxed";
    sig.relaxed_body = parts.size() == 2 && parts[1] == "relaxed";
  }
  sig.domain = Lower(*FindTag(*tags, "d"));
  sig.selector = Lower(*FindTag(*tags, "s"));
  if (!IsDomainName(sig.domain) || !IsDomainName(sig.selector)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "The DKIM-Signature's d=", sig.domain, " or s=", sig.selector, " is not a domain name."));
  }
  for (const std::string_view name : Split(*FindTag(*tags, "h"), ':')) {
    const std::string_view trimmed = TrimFws(name);
    if (!trimmed.empty()) {
      sig.headers.push_back(Lower(trimmed));
    }
  }
  // RFC 6376 §6.1.1: the From field MUST be signed.
  if (std::find(sig.headers.begin(), sig.headers.end(), "from") == sig.headers.end()) {
    return absl::InvalidArgumentError("The DKIM-Signature does not sign the From header field.");
  }
  auto body_hash = DecodeBase64(*FindTag(*tags, "bh"));
  auto signature = DecodeBase64(*FindTag(*tags, "b"));
  if (!body_hash || !signature || signature->empty()) {
    return absl::InvalidArgumentError("The DKIM-Signature's b= or bh= is not valid base64.");
  }
  sig.body_hash = *std::move(body_hash);
  sig.signature = *std::move(signature);
  if (const std::string* q = FindTag(*tags, "q"); q != nullptr && !Contains(Lower(*q), "dns/txt")) {
    return absl::InvalidArgumentError(
        absl::StrCat("The DKIM-Signature asks for the unknown key query method q=", *q, "."));
  }
  if (const std::string* i = FindTag(*tags, "i")) {
    const std::size_t at = i->rfind('@');
    sig.identity_domain = Lower(at == std::string::npos ? "" : i->substr(at + 1));
    // RFC 6376 §6.1.1: the i= domain must be d= or a subdomain of it.
    if (!SameOrSubdomain(sig.identity_domain, sig.domain)) {
      return absl::InvalidArgumentError(
          absl::StrCat("The DKIM-Signature's i=", *i, " is not within its d=", sig.domain, "."));
    }
  }
  if (const std::string* l = FindTag(*tags, "l")) {
    std::uint64_t length = 0;
    if (l->empty() || l->size() > 76 || !absl::SimpleAtoi(*l, &length)) {
      return absl::InvalidArgumentError(
          absl::StrCat("The DKIM-Signature's l=", *l, " is not a number."));
    }
    sig.length = length;
  }
  std::optional<std::int64_t> signed_at;
  std::optional<std::int64_t> expires;
  for (const char* tag : {"t", "x"}) {
    if (const std::string* text = FindTag(*tags, tag)) {
      std::int64_t seconds = 0;
      if (text->empty() || !absl::ascii_isdigit(static_cast<unsigned char>(text->front())) ||
          !absl::SimpleAtoi(*text, &seconds)) {
        return absl::InvalidArgumentError(
            absl::StrCat("The DKIM-Signature's ", tag, "=", *text, " is not a timestamp."));
      }
      (std::string_view(tag) == "t" ? signed_at : expires) = seconds;
    }
  }
  if (expires && signed_at && *expires < *signed_at) {
    return absl::InvalidArgumentError("The DKIM-Signature expires (x=) before it was made (t=).");
  }
  if (expires && absl::FromUnixSeconds(*expires) < now) {
    // Not InvalidArgument: an expired signature is a failure, not a malformed one.
    return absl::FailedPreconditionError(
        absl::StrCat("The DKIM-Signature expired at ",
                     absl::FormatTime(absl::FromUnixSeconds(*expires)), " (x=)."));
  }
  return sig;
}

struct Key {
  std::string type;  // "rsa" or "ed25519".
  std::string data;  // p= decoded.
  bool testing = false;
  bool strict = false;  // t=s: i= must be exactly d=.
};

// RFC 6376 §3.6.1 key record. Errors are reasons for a permerror.
absl::StatusOr<Key> ParseKey(std::string_view record) {
  auto tags = ParseTagList(record);
  if (!tags.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the key record is malformed: ", tags.status().message()));
  }
  if (const std::string* v = FindTag(*tags, "v"); v != nullptr && *v != "DKIM1") {
    return absl::InvalidArgumentError(absl::StrCat("the key record has v=", *v, ", not DKIM1"));
  }
  Key key;
  key.type = "rsa";
  if (const std::string* k = FindTag(*tags, "k")) {
    key.type = Lower(*k);
  }
  if (const std::string* h = FindTag(*tags, "h")) {
    bool sha256 = false;
    for (const std::string_view hash : Split(*h, ':')) {
      sha256 = sha256 || EqualsIgnoreCase(TrimFws(hash), "sha256");
    }
    if (!sha256) {
      return absl::InvalidArgumentError(
          absl::StrCat("the key record allows only the hashes h=", *h));
    }
  }
  if (const std::string* s = FindTag(*tags, "s")) {
    bool email = false;
    for (const std::string_view service : Split(*s, ':')) {
      email = email || TrimFws(service) == "*" || TrimFws(service) == "email";
    }
    if (!email) {
      return absl::InvalidArgumentError(
          absl::StrCat("the key record is for the services s=", *s, ", not e-mail"));
    }
  }
  if (const std::string* t = FindTag(*tags, "t")) {
    for (const std::string_view flag : Split(*t, ':')) {
      key.testing = key.testing || TrimFws(flag) == "y";
      key.strict = key.strict || TrimFws(flag) == "s";
    }
  }
  const std::string* p = FindTag(*tags, "p");
  if (p == nullptr) {
    return absl::InvalidArgumentError("the key record has no p= tag");
  }
  if (TrimFws(*p).empty()) {
    return absl::InvalidArgumentError("the key has been revoked (empty p=)");
  }
  auto data = DecodeBase64(*p);
  if (!data) {
    return absl::InvalidArgumentError("the key record's p= is not valid base64");
  }
  key.data = *std::move(data);
  return key;
}

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

absl::StatusOr<PkeyPtr> LoadKey(const Key& key) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(key.data.data());
  if (key.type == "rsa") {
    const unsigned char* cursor = bytes;
    PkeyPtr pkey(d2i_PUBKEY(nullptr, &cursor, static_cast<long>(key.data.size())));
    if (!pkey) {
      // Some publish the bare RSAPublicKey rather than a SubjectPublicKeyInfo.
      cursor = bytes;
      pkey.reset(d2i_PublicKey(EVP_PKEY_RSA, nullptr, &cursor, static_cast<long>(key.data.size())));
    }
    if (!pkey || EVP_PKEY_get_base_id(pkey.get()) != EVP_PKEY_RSA) {
      return absl::InvalidArgumentError("the key record's p= is not an RSA public key");
    }
    if (EVP_PKEY_get_bits(pkey.get()) < 1024) {
      return absl::InvalidArgumentError(absl::StrCat("the RSA key has ",
                                                     EVP_PKEY_get_bits(pkey.get()),
                                                     " bits, fewer than 1024 (RFC 8301 §3.2)"));
    }
    return pkey;
  }
  // RFC 8463 §4.2: the bare 32-byte Ed25519 public key.
  PkeyPtr pkey;
  if (key.data.size() == 32) {
    pkey.reset(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, bytes, key.data.size()));
  }
  if (!pkey) {
    return absl::InvalidArgumentError("the key record's p= is not a 32-byte Ed25519 public key");
  }
  return pkey;
}

bool VerifySignature(EVP_PKEY* pkey, bool ed25519, std::string_view data,
                     std::string_view signature) {
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  if (!ctx) {
    return false;
  }
  const auto* sig = reinterpret_cast<const unsigned char*>(signature.data());
  if (ed25519) {
    // RFC 8463 §3: Ed25519 signs the SHA-256 hash of the canonicalized header data.
    std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
    SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data());
    return EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey) == 1 &&
           EVP_DigestVerify(ctx.get(), sig, signature.size(), digest.data(), digest.size()) == 1;
  }
  return EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey) == 1 &&
         EVP_DigestVerify(ctx.get(), sig, signature.size(),
                          reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
}

std::string Sha256(std::string_view data) {
  std::string digest(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         reinterpret_cast<unsigned char*>(digest.data()));
  return digest;
}

// RFC 6376 §6.1.3: the body hash, then the signature over the signed header fields (each
// name taking the last not yet used instance, bottom up) and the DKIM-Signature itself.
DkimSignatureResult CheckWithKey(const Message& message, const Signature& sig,
                                 const absl::StatusOr<std::vector<std::string>>& txt) {
  DkimSignatureResult result;
  result.domain = sig.domain;
  result.selector = sig.selector;
  result.algorithm = sig.algorithm;
  const std::string name = absl::StrCat(sig.selector, "._domainkey.", sig.domain);
  if (!txt.ok() && !absl::IsNotFound(txt.status())) {
    result.status = DkimStatus::kTempError;
    result.reason =
        absl::StrCat("The key lookup of ", name, " failed for now: ", txt.status().message(), ".");
    return result;
  }
  if (!txt.ok() || txt->empty()) {
    // RFC 6376 §6.1.2 step 3: no key record is PERMFAIL (no key for signature).
    result.status = DkimStatus::kPermError;
    result.reason = absl::StrCat("There is no DKIM key record at ", name, ".");
    return result;
  }
  const std::string wanted = sig.algorithm == "ed25519-sha256" ? "ed25519" : "rsa";
  absl::StatusOr<Key> key = absl::InvalidArgumentError("no key record");
  // RFC 6376 §6.1.2 step 4: with several records, the verifier may try them in turn.
  for (const std::string& record : *txt) {
    absl::StatusOr<Key> candidate = ParseKey(record);
    if (candidate.ok() && candidate->type != wanted) {
      candidate = absl::InvalidArgumentError(
          absl::StrCat("the key is k=", candidate->type, " but the signature is ", sig.algorithm));
    }
    if (candidate.ok() || &record == &txt->front()) {
      key = std::move(candidate);
    }
    if (key.ok()) {
      break;
    }
  }
  if (!key.ok()) {
    result.status = DkimStatus::kPermError;
    result.reason = absl::StrCat("At ", name, ": ", key.status().message(), ".");
    return result;
  }
  result.testing = key->testing;
  if (key->strict && !sig.identity_domain.empty() && sig.identity_domain != sig.domain) {
    result.status = DkimStatus::kPermError;
    result.reason = absl::StrCat("The key at ", name, " has t=s but i= is in the subdomain ",
                                 sig.identity_domain, ".");
    return result;
  }
  auto pkey = LoadKey(*key);
  if (!pkey.ok()) {
    result.status = DkimStatus::kPermError;
    result.reason = absl::StrCat("At ", name, ": ", pkey.status().message(), ".");
    return result;
  }

  std::string body = CanonicalBody(message.body, sig.relaxed_body);
  if (sig.length) {
    result.body_length_limited = true;
    result.body_length = *sig.length;
    if (*sig.length > body.size()) {
      result.status = DkimStatus::kFail;
      result.reason = absl::StrCat("The signature's l=", *sig.length,
                                   " is longer than the canonicalized body (", body.size(),
                                   " bytes): the body was shortened.");
      return result;
    }
    body.resize(*sig.length);
  }
  if (Sha256(body) != sig.body_hash) {
    result.status = DkimStatus::kFail;
    result.reason = "The body hash (bh=) does not match: the body was changed after signing.";
    return result;
  }

  std::string data;
  std::map<std::string, std::size_t> used;
  for (const std::string& header : sig.headers) {
    std::size_t& skip = used[header];
    std::size_t seen = 0;
    for (std::size_t i = message.fields.size(); i-- > 0;) {
      if (message.fields[i].name != header) {
        continue;
      }
      if (seen++ == skip) {
        data.append(CanonicalHeader(message.fields[i], sig.relaxed_header));
        break;
      }
    }
    // A name with no instance left is signed as the null string (RFC 6376 §5.4.2).
    ++skip;
  }
  std::string own =
      CanonicalHeader(WithoutSignatureValue(message.fields[sig.field_index]), sig.relaxed_header);
  if (EndsWith(own, "\r\n")) {
    own.resize(own.size() - 2);
  }
  data.append(own);
  if (!VerifySignature(pkey->get(), sig.algorithm == "ed25519-sha256", data, sig.signature)) {
    result.status = DkimStatus::kFail;
    result.reason =
        "The signature (b=) does not verify: a signed header field was changed after signing.";
    return result;
  }
  result.status = DkimStatus::kPass;
  result.reason = absl::StrCat(
      "Signed by ", sig.domain, " (selector ", sig.selector, ", ", sig.algorithm, ")",
      sig.length
          ? absl::StrCat("; only the first ", *sig.length, " bytes of the body are signed (l=)")
          : std::string(),
      key->testing ? "; the key is in testing mode (t=y)" : "", ".");
  return result;
}

struct Pending {
  std::optional<Signature> signature;
  std::optional<DkimSignatureResult> early;  // Decided without a key lookup.
};

struct State {
  Message message;
  std::vector<Pending> pending;
  std::size_t next = 0;
  std::string submitter_domain;
  std::string from_domain;
  DkimKeySource* keys = nullptr;
  std::function<void(DkimResult)> done;
  DkimResult result;
};

void Record(State& state, DkimSignatureResult result) {
  result.aligned_with_submitter = Aligned(result.domain, state.submitter_domain);
  result.aligned_with_from = Aligned(result.domain, state.from_domain);
  state.result.signatures.push_back(std::move(result));
}

void Finish(State& state) {
  DkimResult& result = state.result;
  for (const DkimStatus status :
       {DkimStatus::kPass, DkimStatus::kTempError, DkimStatus::kFail, DkimStatus::kPermError}) {
    const auto it =
        std::find_if(result.signatures.begin(), result.signatures.end(),
                     [status](const DkimSignatureResult& s) { return s.status == status; });
    if (it != result.signatures.end()) {
      result.status = status;
      result.domain = it->domain;
      result.selector = it->selector;
      result.reason = it->reason;
      result.aligned_with_submitter = it->aligned_with_submitter;
      result.aligned_with_from = it->aligned_with_from;
      break;
    }
  }
  if (result.signatures.empty()) {
    result.status = DkimStatus::kNone;
    result.reason = "The message has no DKIM-Signature header field.";
  }
  auto done = std::move(state.done);
  done(std::move(result));
}

void Next(const std::shared_ptr<State>& state) {
  while (state->next < state->pending.size()) {
    Pending& pending = state->pending[state->next];
    if (pending.early) {
      Record(*state, *std::move(pending.early));
      ++state->next;
      continue;
    }
    const std::string name =
        absl::StrCat(pending.signature->selector, "._domainkey.", pending.signature->domain);
    auto answered = std::make_shared<bool>(false);
    state->keys->Lookup(name,
                        [state, answered](const absl::StatusOr<std::vector<std::string>>& txt) {
                          if (*answered) {
                            return;  // A second answer from a misbehaving source is ignored.
                          }
                          *answered = true;
                          const Pending& current = state->pending[state->next];
                          Record(*state, CheckWithKey(state->message, *current.signature, txt));
                          ++state->next;
                          Next(state);
                        });
    return;
  }
  Finish(*state);
}

}  // namespace

std::string_view DkimStatusName(DkimStatus status) {
  switch (status) {
    case DkimStatus::kPass:
      return "pass";
    case DkimStatus::kFail:
      return "fail";
    case DkimStatus::kNone:
      return "none";
    case DkimStatus::kTempError:
      return "temperror";
    case DkimStatus::kPermError:
      return "permerror";
  }
  return "permerror";
}

void DnsDkimKeySource::Lookup(std::string name, Callback done) {
  resolver_.Resolve(name, prober::RrType::kTxt,
                    [name, done = std::move(done)](const prober::DnsResult& result) {
                      switch (result.outcome) {
                        case mtasts::DnsOutcome::kOk: {
                          std::vector<std::string> records;
                          records.reserve(result.records.size());
                          for (const prober::DnsRecord& record : result.records) {
                            records.push_back(record.value);
                          }
                          done(std::move(records));
                          return;
                        }
                        case mtasts::DnsOutcome::kNoData:
                          done(absl::NotFoundError(absl::StrCat(name, " has no TXT record")));
                          return;
                        case mtasts::DnsOutcome::kNxDomain:
                          done(absl::NotFoundError(absl::StrCat(name, " does not exist")));
                          return;
                        case mtasts::DnsOutcome::kError:
                          break;
                      }
                      done(absl::UnavailableError(absl::StrCat("DNS error: ", result.error)));
                    });
}

void StaticDkimKeySource::Add(const std::string& name, const std::string& txt_record) {
  auto& entry = answers_[Lower(name)];
  if (!entry.ok()) {
    entry = std::vector<std::string>();
  }
  entry->push_back(txt_record);
}

void StaticDkimKeySource::Fail(const std::string& name, const absl::Status& status) {
  answers_[Lower(name)] = status;
}

void StaticDkimKeySource::Lookup(std::string name, Callback done) {
  lookups_.push_back(name);
  const auto it = answers_.find(Lower(name));
  if (it == answers_.end()) {
    done(absl::NotFoundError(absl::StrCat(name, " does not exist")));
    return;
  }
  done(it->second);
}

void VerifyDkim(std::string_view message, DkimKeySource& keys, std::function<void(DkimResult)> done,
                const DkimOptions& options) {
  auto state = std::make_shared<State>();
  state->keys = &keys;
  state->done = std::move(done);
  if (message.size() > options.max_message_bytes) {
    DkimSignatureResult result;
    result.status = DkimStatus::kPermError;
    result.reason =
        absl::StrCat("The message has ", message.size(), " bytes, more than the limit of ",
                     options.max_message_bytes, "; it was not verified.");
    Record(*state, std::move(result));
    Finish(*state);
    return;
  }
  state->message = SplitMessage(NormalizeLineEnds(message));
  const absl::Time now = options.now.value_or(absl::Now());
  for (std::size_t i = 0; i < state->message.fields.size(); ++i) {
    const HeaderField& field = state->message.fields[i];
    if (field.name == "from" && state->from_domain.empty()) {
      state->from_domain = AddressDomain(field.Value());
    } else if (field.name == "tls-report-submitter" && state->submitter_domain.empty()) {
      state->submitter_domain = Lower(field.Value());
      if (EndsWith(state->submitter_domain, ".")) {
        state->submitter_domain.pop_back();
      }
    }
    if (field.name != "dkim-signature" ||
        state->pending.size() >= static_cast<std::size_t>(std::max(options.max_signatures, 0))) {
      continue;
    }
    Pending pending;
    absl::StatusOr<Signature> sig = ParseSignature(field, now);
    if (sig.ok()) {
      sig->field_index = i;
      pending.signature = *std::move(sig);
    } else {
      DkimSignatureResult early;
      early.status =
          absl::IsFailedPrecondition(sig.status()) ? DkimStatus::kFail : DkimStatus::kPermError;
      early.reason = std::string(sig.status().message());
      // Name the signer even when the signature is unusable, when it can be read.
      if (auto tags = ParseTagList(field.raw.substr(field.raw.find(':') + 1)); tags.ok()) {
        if (const std::string* d = FindTag(*tags, "d")) {
          early.domain = Lower(*d);
        }
        if (const std::string* s = FindTag(*tags, "s")) {
          early.selector = *s;
        }
        if (const std::string* a = FindTag(*tags, "a")) {
          early.algorithm = *a;
        }
      }
      pending.early = std::move(early);
    }
    state->pending.push_back(std::move(pending));
  }
  Next(state);
}

}  // namespace stswatch::tlsrpt
