#include "cli/lsp_protocol.h"

#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace creditd::cli::lsp {
namespace {

// "é" is 2 UTF-8 bytes and 1 UTF-16 unit; "😀" 4 bytes and 2 units (a
// surrogate pair); both one character (one column) for the parser.
const char kText[] = "policy p\n  description \"é 😀 x\" y\n";

TEST(LineIndexTest, ParserColumnsCountCharacters) {
  const LineIndex lines(kText);
  const std::string text(kText);
  const size_t y = text.find(" y") + 1;
  // Line 2: `  description "é 😀 x" y`; `y` is character 23 (1-based column 23).
  EXPECT_EQ(lines.FromEngine(2, 23), y);
  const EngineLocation at = lines.ToEngine(y);
  EXPECT_EQ(at.line, 2);
  EXPECT_EQ(at.column, 23);
  EXPECT_EQ(lines.ToLsp(y, Encoding::kUtf8), (Position{1, 26}));
  EXPECT_EQ(lines.ToLsp(y, Encoding::kUtf16), (Position{1, 23}));
  EXPECT_EQ(lines.FromLsp(Position{1, 26}, Encoding::kUtf8), y);
  EXPECT_EQ(lines.FromLsp(Position{1, 23}, Encoding::kUtf16), y);
}

TEST(LineIndexTest, PlacesInsideACharacterAreItsStart) {
  const LineIndex lines(kText);
  const std::string text(kText);
  const size_t emoji = text.find("😀");
  // UTF-16: the emoji's second unit; UTF-8: its third byte.
  const Position utf16 = lines.ToLsp(emoji, Encoding::kUtf16);
  EXPECT_EQ(lines.FromLsp(Position{1, utf16.character + 1}, Encoding::kUtf16), emoji);
  const Position utf8 = lines.ToLsp(emoji, Encoding::kUtf8);
  EXPECT_EQ(lines.FromLsp(Position{1, utf8.character + 2}, Encoding::kUtf8), emoji);
  EXPECT_EQ(lines.ToLsp(emoji + 2, Encoding::kUtf16), utf16);
}

TEST(LineIndexTest, ClampsPastTheEnds) {
  const LineIndex lines(kText);
  const std::string text(kText);
  EXPECT_EQ(lines.FromLsp(Position{0, 1000}, Encoding::kUtf16), text.find('\n'));
  EXPECT_EQ(lines.FromLsp(Position{1000, 0}, Encoding::kUtf16), text.size());
  EXPECT_EQ(lines.FromLsp(Position{-1, -1}, Encoding::kUtf16), 0u);
  EXPECT_EQ(lines.FromEngine(1, 1000), text.find('\n'));
  EXPECT_EQ(lines.FromEngine(1000, 1), text.size());
  EXPECT_EQ(lines.FromEngine(0, 0), 0u);
  EXPECT_EQ(lines.ToLsp(text.size() + 5, Encoding::kUtf8), (Position{2, 0}));
  EXPECT_EQ(lines.End(Encoding::kUtf16), (Position{2, 0}));
}

TEST(LineIndexTest, LineBreaksAsEachSideCountsThem) {
  // The parser breaks lines at "\n" only; LSP also at "\r\n" and "\r".
  const std::string text = "a\r\nb\rc\nd";
  const LineIndex lines(text);
  EXPECT_EQ(lines.ToLsp(text.find('b'), Encoding::kUtf16), (Position{1, 0}));
  EXPECT_EQ(lines.ToLsp(text.find('c'), Encoding::kUtf16), (Position{2, 0}));
  EXPECT_EQ(lines.ToLsp(text.find('d'), Encoding::kUtf16), (Position{3, 0}));
  // For the parser `c` is on line 2, after `b` and the "\r".
  EXPECT_EQ(lines.FromEngine(2, 3), text.find('c'));
  EXPECT_EQ(lines.FromEngine(3, 1), text.find('d'));
  // The end of line 0 is before its "\r\n".
  EXPECT_EQ(lines.FromLsp(Position{0, 9}, Encoding::kUtf16), 1u);
  EXPECT_EQ(lines.ToLsp(2, Encoding::kUtf16), (Position{0, 1}));
}

TEST(LineIndexTest, BytesThatAreNotUtf8CountOneUnitEach) {
  const std::string text =
      "a\xff\xfe"
      "b";
  const LineIndex lines(text);
  EXPECT_EQ(lines.ToLsp(3, Encoding::kUtf16), (Position{0, 3}));
  EXPECT_EQ(lines.FromEngine(1, 4), 3u);
}

TEST(UriTest, FileUrisAndPaths) {
  EXPECT_EQ(FilePathFromUri("file:///a/b%20c.credit"), "/a/b c.credit");
  EXPECT_EQ(FilePathFromUri("file://localhost/a.credit"), "/a.credit");
  EXPECT_EQ(FilePathFromUri("FILE:///x/%C3%A9.credit"), "/x/é.credit");
  EXPECT_EQ(FilePathFromUri("file:/a.credit"), "/a.credit");
  EXPECT_EQ(FilePathFromUri("untitled:Untitled-1"), std::nullopt);
  EXPECT_EQ(FilePathFromUri("file://server/share/a.credit"), std::nullopt);
  EXPECT_EQ(FilePathFromUri("file:///a%2"), std::nullopt);
  EXPECT_EQ(FilePathFromUri("file:///a%zz"), std::nullopt);
  EXPECT_EQ(FilePathFromUri("file:///a%00b"), std::nullopt);
  EXPECT_EQ(FilePathFromUri("file:///a?b"), std::nullopt);
  EXPECT_EQ(FilePathFromUri("file://"), std::nullopt);
  EXPECT_EQ(UriFromFilePath("/a/b c/é.credit"), "file:///a/b%20c/%C3%A9.credit");
  EXPECT_EQ(FilePathFromUri(UriFromFilePath("/x y/#%?.credit")), "/x y/#%?.credit");
}

TEST(JsonTest, StringsAreAlwaysUtf8) {
  EXPECT_EQ(ValidUtf8("é"), "é");
  EXPECT_EQ(ValidUtf8("a\xff"
                      "b"),
            "a\xEF\xBF\xBD"
            "b");
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  WriteString(writer, std::string("a\0b\"", 4));
  EXPECT_EQ(std::string(buffer.GetString()), "\"a\\u0000b\\\"\"");
}

TEST(MessageReaderTest, FramesAndWhatIsNotAFrame) {
  std::istringstream in(
      "Content-Length: 2\r\n\r\n{}"
      "content-length:  3\r\nContent-Type: x\r\n\r\n[1]"
      "no colon here\r\n\r\n"
      "Content-Length: -1\r\n\r\n"
      "Content-Length: 99999999999999999999999\r\n\r\n");
  MessageReader reader(in, 100);
  std::string body, problem;
  EXPECT_EQ(reader.Next(&body, &problem), MessageReader::Result::kMessage);
  EXPECT_EQ(body, "{}");
  EXPECT_EQ(reader.Next(&body, &problem), MessageReader::Result::kMessage);
  EXPECT_EQ(body, "[1]");
  EXPECT_EQ(reader.Next(&body, &problem), MessageReader::Result::kSkipped);
  EXPECT_EQ(reader.Next(&body, &problem), MessageReader::Result::kSkipped);
  EXPECT_EQ(reader.Next(&body, &problem), MessageReader::Result::kTooLarge);

  std::istringstream cut("Content-Length: 10\r\n\r\nabc");
  MessageReader short_reader(cut, 100);
  EXPECT_EQ(short_reader.Next(&body, &problem), MessageReader::Result::kEnd);

  std::istringstream large("Content-Length: 101\r\n\r\n");
  MessageReader bounded(large, 100);
  EXPECT_EQ(bounded.Next(&body, &problem), MessageReader::Result::kTooLarge);
  EXPECT_EQ(Frame("{}"), "Content-Length: 2\r\n\r\n{}");
}

}  // namespace
}  // namespace creditd::cli::lsp
