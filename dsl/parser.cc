#include "dsl/parser.h"

#include <cstdint>
#include <exception>
#include <memory>
#include <string>

#include "CreditPolicyLexer.h"
#include "CreditPolicyParser.h"
#include "absl/strings/str_cat.h"
#include "antlr4-runtime.h"

namespace creditd::dsl {
namespace {

using gen::CreditPolicyLexer;
using gen::CreditPolicyParser;

// Turns ANTLR's syntax errors into diagnostics.
class DiagnosticListener : public antlr4::BaseErrorListener {
 public:
  DiagnosticListener(int file, DiagnosticSink& sink) : file_(file), sink_(sink) {}

  void syntaxError(antlr4::Recognizer* /*recognizer*/, antlr4::Token* offending, size_t line,
                   size_t column, const std::string& message,
                   std::exception_ptr /*error*/) override {
    SourceSpan span{file_, static_cast<int>(line), static_cast<int>(column) + 1,
                    static_cast<int>(line), static_cast<int>(column) + 2};
    if (offending != nullptr && offending->getType() != antlr4::Token::EOF) {
      span.end_column = span.column + static_cast<int>(offending->getText().size());
    }
    sink_.Error("E0001", span, absl::StrCat("syntax error: ", message));
  }

 private:
  int file_;
  DiagnosticSink& sink_;
};

// Returns the byte offset of the first invalid UTF-8 sequence, or npos.
size_t FindInvalidUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t extra = 0;
    uint32_t min = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      min = 0x10000;
    } else {
      return i;
    }
    if (i + extra >= text.size()) return i;
    uint32_t code = c & (0x3F >> extra);
    for (size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return i;
      code = (code << 6) | (cc & 0x3F);
    }
    if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return i;
    i += extra + 1;
  }
  return absl::string_view::npos;
}

SourceSpan SpanAtOffset(const SourceFile& source, int file, size_t offset) {
  int line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < offset; ++i) {
    if (source.text()[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  const int column = static_cast<int>(offset - line_start) + 1;
  return SourceSpan{file, line, column, line, column + 1};
}

}  // namespace

absl::Status CheckSyntax(const SourceSet& sources, int file, DiagnosticSink& sink,
                         const ParseOptions& options) {
  if (file < 0 || file >= sources.size()) {
    return absl::InvalidArgumentError(absl::StrCat("no source file with index ", file));
  }
  const SourceFile& source = sources.file(file);
  if (source.text().size() > options.max_bytes) {
    sink.Error("E0002", SourceSpan{file, 1, 1, 1, 2},
               absl::StrCat("file is too large: ", source.text().size(), " bytes, at most ",
                            options.max_bytes, " are read"));
    return absl::OkStatus();
  }

  if (size_t bad = FindInvalidUtf8(source.text()); bad != absl::string_view::npos) {
    sink.Error("E0003", SpanAtOffset(source, file, bad), "file is not valid UTF-8",
               "save the file as UTF-8");
    return absl::OkStatus();
  }

  DiagnosticListener listener(file, sink);
  antlr4::ANTLRInputStream input(source.text());
  CreditPolicyLexer lexer(&input);
  lexer.removeErrorListeners();
  lexer.addErrorListener(&listener);
  antlr4::CommonTokenStream tokens(&lexer);
  CreditPolicyParser parser(&tokens);
  parser.removeErrorListeners();
  parser.addErrorListener(&listener);
  parser.file();
  return absl::OkStatus();
}

}  // namespace creditd::dsl
