#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace creditd::dsl {

// A place in a source file: 1-based line and column of the first character,
// and of the character one past the last (same line for most spans).
struct SourceSpan {
  int file = -1;  // index in the SourceSet; -1 when the span is unknown
  int line = 0;
  int column = 0;
  int end_line = 0;
  int end_column = 0;

  bool known() const { return file >= 0 && line > 0; }
  friend bool operator==(const SourceSpan& a, const SourceSpan& b) {
    return a.file == b.file && a.line == b.line && a.column == b.column &&
           a.end_line == b.end_line && a.end_column == b.end_column;
  }
};

// One source file's path and text, with its line starts indexed.
class SourceFile {
 public:
  SourceFile(std::string path, std::string text);

  const std::string& path() const { return path_; }
  const std::string& text() const { return text_; }
  int line_count() const { return static_cast<int>(line_starts_.size()); }
  // The text of 1-based `line` without its line break; empty when out of range.
  absl::string_view Line(int line) const;

 private:
  std::string path_;
  std::string text_;
  std::vector<size_t> line_starts_;
};

// The files of one load (a policy and everything it imports). Spans name a
// file by its index here. Files are never removed, so indexes stay valid.
class SourceSet {
 public:
  // Adds a file and returns its index.
  int Add(std::string path, std::string text);
  const SourceFile& file(int index) const { return *files_[static_cast<size_t>(index)]; }
  int size() const { return static_cast<int>(files_.size()); }

 private:
  std::vector<std::unique_ptr<SourceFile>> files_;
};

}  // namespace creditd::dsl
