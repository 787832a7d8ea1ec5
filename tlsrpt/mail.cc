#include "tlsrpt/mail.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "tlsrpt/text.h"

namespace stswatch::tlsrpt {
namespace {

bool StartsWith(std::string_view text, std::string_view prefix) { return text.starts_with(prefix); }

bool ConsumePrefix(std::string_view* text, std::string_view prefix) {
  if (!text->starts_with(prefix)) {
    return false;
  }
  text->remove_prefix(prefix.size());
  return true;
}

bool ConsumeSuffix(std::string_view* text, std::string_view suffix) {
  if (!text->ends_with(suffix)) {
    return false;
  }
  text->remove_suffix(suffix.size());
  return true;
}

constexpr int kMaxDepth = 16;
constexpr int kMaxParts = 1000;

struct Field {
  std::string name;   // Lower case.
  std::string value;  // Unfolded, trimmed.
};

struct Entity {
  std::vector<Field> fields;
  std::string_view raw_headers;
  std::string_view body;
};

struct ContentType {
  std::string type = "text/plain";                          // Lower case type/subtype.
  std::vector<std::pair<std::string, std::string>> params;  // Names lower case.

  std::string Param(std::string_view name) const {
    for (const auto& [key, value] : params) {
      if (key == name) {
        return value;
      }
    }
    return "";
  }
};

// The end of the line starting at `pos` (the index of its '\n', or size) and the start of the
// next line.
std::pair<std::size_t, std::size_t> LineAt(std::string_view text, std::size_t pos) {
  const std::size_t nl = text.find('\n', pos);
  if (nl == std::string_view::npos) {
    return {text.size(), text.size()};
  }
  return {nl, nl + 1};
}

// The line's content without its CR LF / LF.
std::string_view LineContent(std::string_view text, std::size_t begin, std::size_t end) {
  std::string_view line = text.substr(begin, end - begin);
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  return line;
}

// Splits an entity into its header fields and body at the first empty line. An entity without
// an empty line is all header (a part may have no body) unless its first line is no header
// field, in which case it is all body (RFC 2046 §5.1.1: a part may have no header).
Entity SplitEntity(std::string_view text) {
  Entity entity;
  std::size_t pos = 0;
  std::string current;
  bool have_current = false;
  auto flush = [&] {
    if (!have_current) {
      return;
    }
    const std::size_t colon = current.find(':');
    if (colon != std::string::npos) {
      Field field;
      field.name = Lower(Trim(current.substr(0, colon)));
      field.value = std::string(Trim(current.substr(colon + 1)));
      entity.fields.push_back(std::move(field));
    }
    current.clear();
    have_current = false;
  };
  while (pos < text.size()) {
    const auto [end, next] = LineAt(text, pos);
    const std::string_view line = LineContent(text, pos, end);
    if (line.empty()) {
      flush();
      entity.raw_headers = text.substr(0, pos);
      entity.body = text.substr(next);
      return entity;
    }
    if (line.front() == ' ' || line.front() == '\t') {
      // RFC 5322 §2.2.3: unfolding removes the line break, keeping the whitespace.
      if (have_current) {
        current.append(line);
      }
    } else {
      flush();
      if (pos == 0 && line.find(':') == std::string_view::npos) {
        entity.body = text;
        return entity;
      }
      current.assign(line);
      have_current = true;
    }
    pos = next;
  }
  flush();
  entity.raw_headers = text;
  return entity;
}

std::string FieldValue(const std::vector<Field>& fields, std::string_view name) {
  for (const Field& field : fields) {
    if (field.name == name) {
      return field.value;
    }
  }
  return "";
}

// RFC 2045 §5.1 parameters: token or quoted-string values; comments in parentheses skipped.
ContentType ParseContentType(std::string_view value) {
  ContentType result;
  std::size_t i = 0;
  auto skip_space = [&] {
    while (i < value.size()) {
      if (value[i] == ' ' || value[i] == '\t' || value[i] == '\r' || value[i] == '\n') {
        ++i;
      } else if (value[i] == '(') {
        int depth = 0;
        while (i < value.size()) {
          if (value[i] == '\\') {
            i += 2;
            continue;
          }
          if (value[i] == '(') {
            ++depth;
          } else if (value[i] == ')' && --depth == 0) {
            ++i;
            break;
          }
          ++i;
        }
      } else {
        break;
      }
    }
  };
  skip_space();
  const std::size_t type_end = std::min(value.find(';', i), value.size());
  std::string type = Lower(Trim(value.substr(i, type_end - i)));
  if (const std::size_t paren = type.find('('); paren != std::string::npos) {
    type = std::string(Trim(type.substr(0, paren)));
  }
  if (type.find('/') != std::string::npos) {
    result.type = type;
  }
  i = type_end;
  while (i < value.size()) {
    ++i;  // ';'
    skip_space();
    const std::size_t eq = value.find('=', i);
    if (eq == std::string_view::npos) {
      break;
    }
    if (const std::size_t semi = value.find(';', i); semi < eq) {
      i = semi;  // A parameter without a value.
      continue;
    }
    std::string name = Lower(Trim(value.substr(i, eq - i)));
    i = eq + 1;
    skip_space();
    std::string param;
    if (i < value.size() && value[i] == '"') {
      ++i;
      while (i < value.size() && value[i] != '"') {
        if (value[i] == '\\' && i + 1 < value.size()) {
          ++i;
        }
        param.push_back(value[i]);
        ++i;
      }
      ++i;  // Closing quote.
      while (i < value.size() && value[i] != ';') {
        ++i;
      }
    } else {
      const std::size_t end = std::min(value.find(';', i), value.size());
      param = std::string(Trim(value.substr(i, end - i)));
      i = end;
    }
    result.params.emplace_back(std::move(name), std::move(param));
  }
  return result;
}

absl::StatusOr<std::string> DecodeBase64(std::string_view text) {
  std::string out;
  out.reserve(text.size() / 4 * 3);
  std::uint32_t accumulator = 0;
  int bits = 0;
  bool padding = false;
  std::size_t line = 1;
  for (const char c : text) {
    if (c == '\n') {
      ++line;
      continue;
    }
    if (c == '\r' || c == ' ' || c == '\t') {
      continue;
    }
    if (c == '=') {
      padding = true;
      continue;
    }
    const int v = Base64Value(c);
    if (v < 0 || padding) {
      return absl::InvalidArgumentError(absl::StrCat(
          "The report part is not valid base64: ",
          v < 0 ? absl::StrCat("the character 0x", absl::Hex(static_cast<unsigned char>(c)))
                : std::string("data after the '=' padding"),
          " on line ", line, " of the part's body."));
    }
    accumulator = (accumulator << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((accumulator >> bits) & 0xff));
    }
  }
  if (bits >= 6) {
    return absl::InvalidArgumentError(
        "The report part is not valid base64: its length leaves a single dangling character.");
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;
}

// RFC 2045 §6.7. Lenient like common readers: a '=' not followed by two hex digits is kept.
std::string DecodeQuotedPrintable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto [end, next] = LineAt(text, pos);
    std::string_view line = LineContent(text, pos, end);
    const bool has_break = end < text.size();
    // Trailing whitespace is added by transport and removed by the decoder (rule 3).
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) {
      line.remove_suffix(1);
    }
    bool soft_break = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
      if (line[i] != '=') {
        out.push_back(line[i]);
        continue;
      }
      if (i + 1 == line.size()) {
        soft_break = true;
        break;
      }
      if (i + 2 < line.size() && HexValue(line[i + 1]) >= 0 && HexValue(line[i + 2]) >= 0) {
        out.push_back(static_cast<char>(HexValue(line[i + 1]) * 16 + HexValue(line[i + 2])));
        i += 2;
      } else {
        out.push_back('=');
      }
    }
    if (has_break && !soft_break) {
      out.append("\r\n");
    }
    pos = next;
  }
  return out;
}

absl::StatusOr<std::string> DecodeTransfer(const Entity& part, std::vector<std::string>& warnings) {
  std::string encoding = Lower(FieldValue(part.fields, "content-transfer-encoding"));
  if (encoding.empty() || encoding == "7bit" || encoding == "8bit" || encoding == "binary") {
    return std::string(part.body);
  }
  if (encoding == "base64") {
    return DecodeBase64(part.body);
  }
  if (encoding == "quoted-printable") {
    return DecodeQuotedPrintable(part.body);
  }
  warnings.push_back(absl::StrCat("The report part has the unknown Content-Transfer-Encoding '",
                                  encoding, "'; its body was taken as it is."));
  return std::string(part.body);
}

// The parts of a multipart body (RFC 2046 §5.1.1): text between delimiter lines "--boundary"
// (optionally followed by whitespace); the line break before a delimiter belongs to it.
std::vector<std::string_view> SplitMultipart(std::string_view body, std::string_view boundary,
                                             bool& closed) {
  std::vector<std::string_view> parts;
  closed = false;
  const std::string delimiter = absl::StrCat("--", std::string(boundary));
  std::size_t pos = 0;
  std::optional<std::size_t> part_start;
  while (pos < body.size()) {
    const auto [end, next] = LineAt(body, pos);
    std::string_view line = LineContent(body, pos, end);
    if (StartsWith(line, delimiter)) {
      std::string_view rest = line.substr(delimiter.size());
      const bool closing = ConsumePrefix(&rest, "--");
      if (TrimRight(rest).empty()) {
        if (part_start) {
          std::size_t part_end = pos;
          if (part_end > *part_start && body[part_end - 1] == '\n') {
            --part_end;
            if (part_end > *part_start && body[part_end - 1] == '\r') {
              --part_end;
            }
          }
          parts.push_back(body.substr(*part_start, part_end - *part_start));
        }
        if (closing) {
          closed = true;
          return parts;
        }
        part_start = next;
        if (parts.size() >= static_cast<std::size_t>(kMaxParts)) {
          return parts;
        }
      }
    }
    pos = next;
  }
  if (part_start) {
    parts.push_back(body.substr(std::min(*part_start, body.size())));
  }
  return parts;
}

struct Walk {
  std::vector<std::string>& warnings;
  int parts_seen = 0;
};

// Depth-first search for the first entity of `type`-matching predicate.
template <typename Predicate>
std::optional<Entity> FindEntity(const Entity& entity, const Predicate& matches, int depth,
                                 Walk& walk) {
  const ContentType type = ParseContentType(FieldValue(entity.fields, "content-type"));
  if (matches(type)) {
    return entity;
  }
  if (!StartsWith(type.type, "multipart/") || depth >= kMaxDepth || walk.parts_seen > kMaxParts) {
    return std::nullopt;
  }
  const std::string boundary = type.Param("boundary");
  if (boundary.empty()) {
    walk.warnings.push_back(absl::StrCat("A ", type.type, " part has no boundary parameter."));
    return std::nullopt;
  }
  bool closed = false;
  const std::vector<std::string_view> parts = SplitMultipart(entity.body, boundary, closed);
  if (!closed) {
    walk.warnings.push_back(absl::StrCat("The ", type.type, " with boundary \"", boundary,
                                         "\" has no closing delimiter."));
  }
  for (const std::string_view part : parts) {
    ++walk.parts_seen;
    const Entity child = SplitEntity(part);
    if (auto found = FindEntity(child, matches, depth + 1, walk)) {
      return found;
    }
  }
  return std::nullopt;
}

bool IsReportType(const ContentType& type) {
  return type.type == "application/tlsrpt+gzip" || type.type == "application/tlsrpt+json" ||
         type.type == "application/tlsrpt";
}

}  // namespace

bool IsGzip(std::string_view data) {
  return data.size() >= 2 && static_cast<unsigned char>(data[0]) == 0x1f &&
         static_cast<unsigned char>(data[1]) == 0x8b;
}

absl::StatusOr<std::string> Gunzip(std::string_view data, std::size_t limit,
                                   std::vector<std::string>& warnings) {
  z_stream stream{};
  // 16 + MAX_WBITS: a gzip wrapper (RFC 1952), not zlib or raw deflate.
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) {
    return absl::InternalError("zlib could not be initialised.");
  }
  struct Closer {
    z_stream* stream;
    ~Closer() { inflateEnd(stream); }
  } closer{&stream};
  std::string out;
  std::array<unsigned char, std::size_t{64} << 10> buffer;
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  while (true) {
    stream.next_out = buffer.data();
    stream.avail_out = static_cast<uInt>(buffer.size());
    const int rc = inflate(&stream, Z_NO_FLUSH);
    const std::size_t produced = buffer.size() - stream.avail_out;
    if (out.size() + produced > limit) {
      return absl::ResourceExhaustedError(
          absl::StrCat("The decompressed report exceeds the limit of ", limit,
                       " bytes; decompression was stopped there (", data.size(),
                       " compressed bytes: a gzip bomb or an oversized report)."));
    }
    out.append(reinterpret_cast<const char*>(buffer.data()), produced);
    if (rc == Z_STREAM_END) {
      if (stream.avail_in == 0) {
        return out;
      }
      // RFC 1952 §2.2: a gzip file may hold several members, one after the other.
      if (IsGzip(
              std::string_view(reinterpret_cast<const char*>(stream.next_in), stream.avail_in))) {
        if (inflateReset(&stream) != Z_OK) {
          return absl::InternalError("zlib could not be reset.");
        }
        continue;
      }
      warnings.push_back(absl::StrCat("The gzip stream is followed by ", stream.avail_in,
                                      " bytes of other data, which were ignored."));
      return out;
    }
    if (rc == Z_OK) {
      continue;
    }
    if (rc == Z_BUF_ERROR && stream.avail_in == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("The gzip data of the report is truncated: it ends after ", data.size(),
                       " bytes, before the end of the compressed stream (", out.size(),
                       " bytes decompressed so far)."));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("The gzip data of the report is corrupt: ",
                     stream.msg != nullptr ? stream.msg : "zlib error " + std::to_string(rc),
                     " (after ", out.size(), " decompressed bytes)."));
  }
}

namespace {

std::string DomainKey(std::string_view domain) {
  std::string key = Lower(Trim(domain));
  if (!key.empty() && key.back() == '.') {
    key.pop_back();
  }
  return key;
}

std::string AlnumKey(std::string_view text) {
  std::string key;
  key.reserve(text.size());
  for (const char c : text) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c))) {
      key.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
    }
  }
  return key;
}

void AppendUtf8(std::string& out, unsigned char latin1) {
  if (latin1 < 0x80) {
    out.push_back(static_cast<char>(latin1));
  } else {
    out.push_back(static_cast<char>(0xc0 | (latin1 >> 6)));
    out.push_back(static_cast<char>(0x80 | (latin1 & 0x3f)));
  }
}

// Decodes one encoded-word's text; nullopt when it cannot be decoded.
std::optional<std::string> DecodeWord(std::string_view charset, char encoding,
                                      std::string_view text) {
  std::string lower = Lower(charset);
  if (const std::size_t star = lower.find('*'); star != std::string::npos) {
    lower.resize(star);  // RFC 2231 §5 language suffix.
  }
  const bool latin1 = lower == "iso-8859-1" || lower == "latin1";
  if (lower != "utf-8" && lower != "us-ascii" && !latin1) {
    return std::nullopt;
  }
  std::string bytes;
  if (encoding == 'b' || encoding == 'B') {
    auto decoded = DecodeBase64(text);
    if (!decoded.ok()) {
      return std::nullopt;
    }
    bytes = *std::move(decoded);
  } else {
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '_') {
        bytes.push_back(' ');
      } else if (text[i] == '=' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
                 HexValue(text[i + 2]) >= 0) {
        bytes.push_back(static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2])));
        i += 2;
      } else {
        bytes.push_back(text[i]);
      }
    }
  }
  if (!latin1) {
    return bytes;
  }
  std::string utf8;
  utf8.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    AppendUtf8(utf8, static_cast<unsigned char>(c));
  }
  return utf8;
}

struct SubjectParts {
  std::string domain;
  std::string submitter;
  std::string report_id;
  bool matched = false;
};

// "Report Domain: <domain> Submitter: <submitter> Report-ID: <id>" (RFC 8460 §5.3).
SubjectParts ParseSubject(std::string_view subject) {
  SubjectParts parts;
  const std::string lower = Lower(subject);
  const std::size_t d = lower.find("report domain:");
  const std::size_t s = lower.find("submitter:");
  const std::size_t r = lower.find("report-id:");
  if (d == std::string::npos || s == std::string::npos || r == std::string::npos || d > s ||
      s > r) {
    return parts;
  }
  parts.matched = true;
  const std::size_t d_begin = d + std::string_view("report domain:").size();
  const std::size_t s_begin = s + std::string_view("submitter:").size();
  const std::size_t r_begin = r + std::string_view("report-id:").size();
  parts.domain = std::string(Trim(subject.substr(d_begin, s - d_begin)));
  parts.submitter = std::string(Trim(subject.substr(s_begin, r - s_begin)));
  parts.report_id = std::string(Trim(subject.substr(r_begin)));
  return parts;
}

}  // namespace

std::string DecodeEncodedWords(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  std::size_t i = 0;
  std::size_t pending_space_begin = std::string::npos;  // Whitespace after an encoded-word.
  while (i < value.size()) {
    if (value.substr(i, 2) == "=?") {
      // =?charset?E?text?=
      const std::size_t q1 = value.find('?', i + 2);
      const std::size_t q2 = q1 == std::string_view::npos ? q1 : value.find('?', q1 + 1);
      const std::size_t end = q2 == std::string_view::npos ? q2 : value.find("?=", q2 + 1);
      if (end != std::string_view::npos && q2 == q1 + 2) {
        const auto decoded = DecodeWord(value.substr(i + 2, q1 - i - 2), value[q1 + 1],
                                        value.substr(q2 + 1, end - q2 - 1));
        if (decoded) {
          // RFC 2047 §6.2: whitespace between adjacent encoded-words is not displayed.
          if (pending_space_begin != std::string::npos) {
            out.resize(pending_space_begin);
          }
          out.append(*decoded);
          i = end + 2;
          pending_space_begin = out.size();
          continue;
        }
      }
    }
    const char c = value[i];
    if (c != ' ' && c != '\t') {
      pending_space_begin = std::string::npos;
    }
    out.push_back(c);
    ++i;
  }
  return out;
}

absl::StatusOr<ReportMail> ParseReportMail(std::string_view message, const MailOptions& options) {
  if (message.size() > options.max_message_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("The message has ", message.size(),
                                                   " bytes, more than the limit of ",
                                                   options.max_message_bytes, "."));
  }
  ReportMail mail;
  // An mbox "From " separator line is not part of the message.
  if (StartsWith(message, "From ")) {
    message.remove_prefix(LineAt(message, 0).second);
    mail.warnings.push_back("The message starts with an mbox \"From \" line, which was skipped.");
  }
  const Entity top = SplitEntity(message);
  mail.raw_headers = std::string(top.raw_headers);
  mail.report_domain = FieldValue(top.fields, "tls-report-domain");
  mail.report_submitter = FieldValue(top.fields, "tls-report-submitter");
  mail.subject = DecodeEncodedWords(FieldValue(top.fields, "subject"));
  mail.from = DecodeEncodedWords(FieldValue(top.fields, "from"));
  mail.message_id = FieldValue(top.fields, "message-id");
  mail.date = FieldValue(top.fields, "date");

  const ContentType top_type = ParseContentType(FieldValue(top.fields, "content-type"));
  Walk walk{mail.warnings};
  const std::optional<Entity> report = FindEntity(
      top, [](const ContentType& t) { return t.type == "multipart/report"; }, 0, walk);
  if (!report) {
    return absl::InvalidArgumentError(
        absl::StrCat("The message is ", top_type.type,
                     ", not a multipart/report; report-type=tlsrpt (RFC 8460 §5.3)."));
  }
  if (report->raw_headers.data() != top.raw_headers.data()) {
    mail.warnings.push_back(absl::StrCat("The multipart/report is nested inside the message's ",
                                         top_type.type, " rather than being the message itself."));
  }
  const ContentType report_type = ParseContentType(FieldValue(report->fields, "content-type"));
  const std::string report_kind = Lower(report_type.Param("report-type"));
  if (report_kind != "tlsrpt") {
    return absl::InvalidArgumentError(absl::StrCat(
        "The message is a multipart/report with ",
        report_kind.empty() ? std::string("no report-type")
                            : absl::StrCat("report-type=", report_kind),
        ", not report-type=tlsrpt (RFC 8460 §5.3)",
        report_kind == "delivery-status" ? ": it is a delivery status notification." : "."));
  }
  const std::optional<Entity> part = FindEntity(*report, IsReportType, 0, walk);
  if (!part) {
    return absl::InvalidArgumentError(
        "The multipart/report; report-type=tlsrpt has no application/tlsrpt+gzip or "
        "application/tlsrpt+json part.");
  }
  const ContentType part_type = ParseContentType(FieldValue(part->fields, "content-type"));
  mail.content_type = part_type.type;
  const ContentType disposition = ParseContentType(FieldValue(part->fields, "content-disposition"));
  mail.filename = disposition.Param("filename");
  if (mail.filename.empty()) {
    mail.filename = part_type.Param("name");
  }
  absl::StatusOr<std::string> data = DecodeTransfer(*part, mail.warnings);
  if (!data.ok()) {
    return data.status();
  }
  const bool magic = IsGzip(*data);
  if (part_type.type == "application/tlsrpt") {
    mail.warnings.push_back(absl::StrCat(
        "The report part is typed application/tlsrpt, which RFC 8460 §5.3 does not define "
        "(application/tlsrpt+gzip or application/tlsrpt+json); its content is ",
        magic ? "gzip." : "not gzip and was read as JSON."));
  } else if (part_type.type == "application/tlsrpt+gzip" && !magic) {
    const std::string_view trimmed = TrimLeft(*data);
    if (!StartsWith(trimmed, "{")) {
      return absl::InvalidArgumentError(
          "The application/tlsrpt+gzip part is not gzip data: it lacks the gzip magic number "
          "1f 8b.");
    }
    mail.warnings.push_back("The application/tlsrpt+gzip part holds uncompressed JSON.");
  } else if (part_type.type == "application/tlsrpt+json" && magic) {
    mail.warnings.push_back("The application/tlsrpt+json part holds gzip data.");
  }
  mail.gzip = magic;
  if (magic) {
    absl::StatusOr<std::string> json = Gunzip(*data, options.max_report_bytes, mail.warnings);
    if (!json.ok()) {
      // A message over a limit is as unacceptable as a corrupt one.
      return absl::InvalidArgumentError(json.status().message());
    }
    mail.json = *std::move(json);
  } else {
    if (data->size() > options.max_report_bytes) {
      return absl::InvalidArgumentError(absl::StrCat("The report has ", data->size(),
                                                     " bytes, more than the limit of ",
                                                     options.max_report_bytes, "."));
    }
    mail.json = *std::move(data);
  }
  return mail;
}

std::vector<std::string> CheckReportHeaders(const ReportMail& mail, std::string_view report_domain,
                                            std::string_view report_id,
                                            std::string_view organization) {
  std::vector<std::string> problems;
  const std::string domain = DomainKey(report_domain);
  if (mail.report_domain.empty()) {
    problems.emplace_back("The TLS-Report-Domain header field is missing (RFC 8460 §5.3).");
  } else if (!domain.empty() && DomainKey(mail.report_domain) != domain) {
    problems.push_back(absl::StrCat("TLS-Report-Domain is ", mail.report_domain,
                                    " but the report is for ", std::string(report_domain), "."));
  }
  if (mail.report_submitter.empty()) {
    problems.emplace_back("The TLS-Report-Submitter header field is missing (RFC 8460 §5.3).");
  }
  const SubjectParts subject = ParseSubject(mail.subject);
  if (!subject.matched) {
    problems.push_back(absl::StrCat("The Subject \"", mail.subject,
                                    "\" is not \"Report Domain: <domain> Submitter: <submitter> "
                                    "Report-ID: <id>\" (RFC 8460 §5.3)."));
  } else {
    if (!domain.empty() && DomainKey(subject.domain) != domain) {
      problems.push_back(absl::StrCat("The Subject's Report Domain is ", subject.domain,
                                      " but the report is for ", std::string(report_domain), "."));
    }
    if (!mail.report_submitter.empty() &&
        DomainKey(subject.submitter) != DomainKey(mail.report_submitter)) {
      problems.push_back(absl::StrCat("The Subject's Submitter is ", subject.submitter,
                                      " but TLS-Report-Submitter is ", mail.report_submitter, "."));
    }
    if (!report_id.empty()) {
      std::string_view id = subject.report_id;
      ConsumePrefix(&id, "<");
      ConsumeSuffix(&id, ">");
      const std::string_view json_id = report_id;
      // "<id@submitter>" in the subject; the JSON id has no "@submitter" (Google's form).
      if (const std::size_t at = id.rfind('@');
          at != std::string_view::npos && json_id.find('@') == std::string_view::npos) {
        id = id.substr(0, at);
      }
      if (AlnumKey(id) != AlnumKey(json_id)) {
        problems.push_back(absl::StrCat("The Subject's Report-ID is ", subject.report_id,
                                        " but the report's report-id is ", std::string(report_id),
                                        "."));
      }
    }
  }
  if (!organization.empty() && !mail.report_submitter.empty()) {
    // The organization-name is free text; it should at least name one distinctive label of the
    // submitter's domain ("Google Inc." for google.com).
    const std::string org = AlnumKey(organization);
    const std::string submitter = DomainKey(mail.report_submitter);
    std::vector<std::string_view> labels = Split(submitter, '.');
    if (!labels.empty()) {
      labels.pop_back();  // The top-level domain.
    }
    bool named = false;
    bool any_label = false;
    for (const std::string_view label : labels) {
      const std::string key = AlnumKey(label);
      if (key.size() < 3 || key == "mail" || key == "smtp" || key == "mx" || key == "www" ||
          key == "com" || key == "co" || key == "net" || key == "org") {
        continue;
      }
      any_label = true;
      named = named || org.find(key) != std::string::npos;
    }
    if (any_label && !named) {
      problems.push_back(absl::StrCat("TLS-Report-Submitter is ", mail.report_submitter,
                                      " but the report's organization-name \"",
                                      std::string(organization), "\" does not name it."));
    }
  }
  return problems;
}

}  // namespace stswatch::tlsrpt
