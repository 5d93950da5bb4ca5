#include "cli/lsp_protocol.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "dsl/utf8.h"

namespace creditd::cli::lsp {

const char* EncodingName(Encoding encoding) {
  return encoding == Encoding::kUtf8 ? "utf-8" : "utf-16";
}

LineIndex::LineIndex(absl::string_view text) : text_(text) {
  engine_starts_.push_back(0);
  lsp_starts_.push_back(0);
  for (size_t i = 0; i < text_.size(); ++i) {
    const char c = text_[i];
    if (c == '\n') engine_starts_.push_back(i + 1);
    if (c == '\n' || c == '\r') {
      lsp_ends_.push_back(i);
      if (c == '\r' && i + 1 < text_.size() && text_[i + 1] == '\n') {
        ++i;
        engine_starts_.push_back(i + 1);
      }
      lsp_starts_.push_back(i + 1);
    }
  }
  lsp_ends_.push_back(text_.size());
}

size_t LineIndex::CharLength(size_t i) const {
  const size_t n = dsl::Utf8SequenceLength(text_, i);
  return n == 0 ? 1 : n;
}

int LineIndex::Units(size_t char_length, Encoding encoding) {
  if (encoding == Encoding::kUtf8) return static_cast<int>(char_length);
  // Four UTF-8 bytes are a character beyond U+FFFF: a UTF-16 surrogate pair.
  return char_length == 4 ? 2 : 1;
}

size_t LineIndex::FromEngine(int line, int column) const {
  if (line < 1) return 0;
  if (static_cast<size_t>(line) > engine_starts_.size()) return text_.size();
  const size_t start = engine_starts_[static_cast<size_t>(line - 1)];
  const size_t end = static_cast<size_t>(line) < engine_starts_.size()
                         ? engine_starts_[static_cast<size_t>(line)] - 1
                         : text_.size();
  size_t offset = start;
  for (int k = 1; k < column && offset < end; ++k) offset += CharLength(offset);
  return std::min(offset, end);
}

EngineLocation LineIndex::ToEngine(size_t offset) const {
  offset = std::min(offset, text_.size());
  const size_t line =
      static_cast<size_t>(std::upper_bound(engine_starts_.begin(), engine_starts_.end(), offset) -
                          engine_starts_.begin());
  EngineLocation location;
  location.line = static_cast<int>(line);
  size_t at = engine_starts_[line - 1];
  while (at < offset) {
    const size_t n = CharLength(at);
    if (at + n > offset) break;
    at += n;
    ++location.column;
  }
  return location;
}

Position LineIndex::ToLsp(size_t offset, Encoding encoding) const {
  offset = std::min(offset, text_.size());
  const size_t line =
      static_cast<size_t>(std::upper_bound(lsp_starts_.begin(), lsp_starts_.end(), offset) -
                          lsp_starts_.begin()) -
      1;
  const size_t limit = std::min(offset, lsp_ends_[line]);
  Position position;
  position.line = static_cast<int64_t>(line);
  size_t at = lsp_starts_[line];
  while (at < limit) {
    const size_t n = CharLength(at);
    if (at + n > limit) break;
    position.character += Units(n, encoding);
    at += n;
  }
  return position;
}

size_t LineIndex::FromLsp(const Position& position, Encoding encoding) const {
  if (position.line < 0) return 0;
  if (static_cast<uint64_t>(position.line) >= lsp_starts_.size()) return text_.size();
  const size_t line = static_cast<size_t>(position.line);
  const size_t end = lsp_ends_[line];
  size_t at = lsp_starts_[line];
  int64_t remaining = position.character;
  while (at < end && remaining > 0) {
    const size_t n = CharLength(at);
    const int units = Units(n, encoding);
    if (units > remaining) break;  // inside a character: its start
    remaining -= units;
    at += n;
  }
  return at;
}

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string> FilePathFromUri(absl::string_view uri) {
  if (uri.size() < 5 || !absl::EqualsIgnoreCase(uri.substr(0, 5), "file:")) return std::nullopt;
  absl::string_view rest = uri.substr(5);
  if (absl::StartsWith(rest, "//")) {
    rest.remove_prefix(2);
    const size_t slash = rest.find('/');
    if (slash == absl::string_view::npos) return std::nullopt;
    const absl::string_view host = rest.substr(0, slash);
    if (!host.empty() && !absl::EqualsIgnoreCase(host, "localhost")) return std::nullopt;
    rest.remove_prefix(slash);
  }
  if (rest.empty() || rest[0] != '/') return std::nullopt;
  std::string path;
  for (size_t i = 0; i < rest.size(); ++i) {
    const char c = rest[i];
    if (c == '?' || c == '#') return std::nullopt;
    if (c != '%') {
      path.push_back(c);
      continue;
    }
    if (i + 2 >= rest.size()) return std::nullopt;
    const int high = HexDigit(rest[i + 1]);
    const int low = HexDigit(rest[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    path.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  if (path.find('\0') != std::string::npos) return std::nullopt;
  return path;
}

std::string UriFromFilePath(absl::string_view path) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string uri = "file://";
  for (const char c : path) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
        c == '~' || c == '/') {
      uri.push_back(c);
    } else {
      const auto byte = static_cast<unsigned char>(c);
      uri.push_back('%');
      uri.push_back(kHex[byte >> 4]);
      uri.push_back(kHex[byte & 0xF]);
    }
  }
  return uri;
}

std::string ValidUtf8(absl::string_view text) {
  if (dsl::FindInvalidUtf8(text) == absl::string_view::npos) return std::string(text);
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t n = dsl::Utf8SequenceLength(text, i);
    if (n == 0) {
      out.append("\xEF\xBF\xBD");
      ++i;
    } else {
      out.append(text.data() + i, n);
      i += n;
    }
  }
  return out;
}

void WriteString(JsonWriter& writer, absl::string_view text) {
  const std::string valid = ValidUtf8(text);
  writer.String(valid.data(), static_cast<rapidjson::SizeType>(valid.size()));
}

bool MessageReader::ReadLine(std::string* line) {
  line->clear();
  while (true) {
    const int c = in_.get();
    if (c == std::char_traits<char>::eof()) return false;
    if (c == '\n') break;
    if (line->size() < kMaxHeaderLine) line->push_back(static_cast<char>(c));
  }
  if (!line->empty() && line->back() == '\r') line->pop_back();
  return true;
}

MessageReader::Result MessageReader::Next(std::string* body, std::string* problem) {
  problem->clear();
  bool any_header = false;
  bool too_large = false;
  // A length and whether one was read (not std::optional: GCC's -O2 takes
  // its value for maybe uninitialised).
  bool has_length = false;
  uint64_t length = 0;
  std::string line;
  while (true) {
    if (!ReadLine(&line)) return Result::kEnd;
    if (line.empty()) {
      if (any_header) break;
      continue;  // blank lines between messages
    }
    any_header = true;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) {
      *problem = "a header line without a colon";
      continue;
    }
    const absl::string_view name =
        absl::StripAsciiWhitespace(absl::string_view(line).substr(0, colon));
    const absl::string_view value =
        absl::StripAsciiWhitespace(absl::string_view(line).substr(colon + 1));
    if (!absl::EqualsIgnoreCase(name, "Content-Length")) continue;
    const bool digits = !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
      return absl::ascii_isdigit(static_cast<unsigned char>(c));
    });
    uint64_t n = 0;
    if (!digits) {
      *problem = "a Content-Length that is not a number";
      has_length = false;
    } else if (!absl::SimpleAtoi(value, &n) || n > max_bytes_) {
      too_large = true;
    } else {
      length = n;
      has_length = true;
    }
  }
  if (too_large) {
    *problem = absl::StrCat("a message longer than ", max_bytes_, " bytes");
    return Result::kTooLarge;
  }
  if (!has_length) {
    if (problem->empty()) *problem = "a header without Content-Length";
    return Result::kSkipped;
  }
  body->resize(static_cast<size_t>(length));
  in_.read(body->data(), static_cast<std::streamsize>(length));
  if (static_cast<uint64_t>(in_.gcount()) != length) return Result::kEnd;
  return Result::kMessage;
}

std::string Frame(absl::string_view body) {
  return absl::StrCat("Content-Length: ", body.size(), "\r\n\r\n", body);
}

}  // namespace creditd::cli::lsp
