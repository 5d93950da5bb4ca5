#pragma once

// The parts of the Language Server Protocol that do not know about
// policies: message framing, positions in the negotiated encoding, file
// URIs, and JSON strings that are always valid UTF-8.

#include <cstddef>
#include <cstdint>
#include <istream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace creditd::cli::lsp {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// What a Position's `character` counts (LSP 3.17 PositionEncodingKind).
enum class Encoding { kUtf8, kUtf16 };

// "utf-8" or "utf-16".
const char* EncodingName(Encoding encoding);

// An LSP position: 0-based line, and the offset in the line in units of the
// negotiated encoding.
struct Position {
  int64_t line = 0;
  int64_t character = 0;

  friend bool operator==(const Position& a, const Position& b) {
    return a.line == b.line && a.character == b.character;
  }
};

// A place in a policy as the parser gives it: 1-based line, and 1-based
// column counted in Unicode code points (the parser reads the text as code
// points), lines ending at '\n' only.
struct EngineLocation {
  int line = 1;
  int column = 1;
};

// Converts between byte offsets in a text, the parser's lines and columns,
// and LSP positions. LSP lines end at "\n", "\r\n" or "\r"; the parser's at
// "\n" only: offsets are the common ground. Text that is not UTF-8 counts one
// unit per byte that starts no sequence. Every conversion clamps: a place
// past a line's end is its end, past the last line the end of the text, and
// a place inside a character its start. The text must outlive the index.
class LineIndex {
 public:
  explicit LineIndex(absl::string_view text);

  size_t FromEngine(int line, int column) const;
  EngineLocation ToEngine(size_t offset) const;
  Position ToLsp(size_t offset, Encoding encoding) const;
  size_t FromLsp(const Position& position, Encoding encoding) const;
  // The position just past the last character.
  Position End(Encoding encoding) const { return ToLsp(text_.size(), encoding); }

 private:
  // The byte length of the character at `i` (1 for a byte that starts no
  // UTF-8 sequence) and its size in `encoding`'s units.
  size_t CharLength(size_t i) const;
  static int Units(size_t char_length, Encoding encoding);

  absl::string_view text_;
  std::vector<size_t> engine_starts_;  // where each '\n'-ended line starts
  std::vector<size_t> lsp_starts_;     // where each LSP line starts
  std::vector<size_t> lsp_ends_;       // where its content ends (before the break)
};

// "file:///a/b%20c.credit" -> "/a/b c.credit". nullopt for another scheme, a
// host other than "localhost", a bad escape, a relative or NUL-holding path.
std::optional<std::string> FilePathFromUri(absl::string_view uri);

// "/a/b c.credit" -> "file:///a/b%20c.credit": every byte but letters, digits,
// "-._~/" percent-encoded.
std::string UriFromFilePath(absl::string_view path);

// `text` with every byte that starts no well-formed UTF-8 sequence replaced
// by U+FFFD, so that JSON written from it is valid.
std::string ValidUtf8(absl::string_view text);

// Writes `text` as a JSON string, made valid UTF-8 first.
void WriteString(JsonWriter& writer, absl::string_view text);

// Reads messages framed by `Content-Length` headers (LSP base protocol).
class MessageReader {
 public:
  enum class Result {
    kMessage,   // `body` holds one message
    kEnd,       // the input ended (cleanly or inside a message)
    kSkipped,   // a header block without a usable Content-Length; `problem` says why
    kTooLarge,  // a message longer than max_bytes: the stream cannot be trusted further
  };

  MessageReader(std::istream& in, size_t max_bytes) : in_(in), max_bytes_(max_bytes) {}

  Result Next(std::string* body, std::string* problem);

 private:
  // Reads one header line without its line break, keeping at most
  // kMaxHeaderLine bytes of it; false at the end of the input.
  bool ReadLine(std::string* line);

  static constexpr size_t kMaxHeaderLine = 1024;

  std::istream& in_;
  size_t max_bytes_;
};

// `body` with its Content-Length header.
std::string Frame(absl::string_view body);

}  // namespace creditd::cli::lsp
