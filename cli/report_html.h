#pragma once

// Writing HTML whose text comes from policies, approvals and test files,
// all of which may be hostile: every piece of text and every attribute
// value goes through Escape, and the writer has no way to add markup that
// was not spelled out in creditctl's own code.

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace creditd::cli::html {

// `text` safe in element content and in a double- or single-quoted
// attribute value: `&`, `<`, `>`, `"` and `'` as character references, and
// control characters other than tab, line feed and carriage return (which
// HTML does not allow) as U+FFFD.
std::string Escape(absl::string_view text);

// An attribute: a name spelled out in creditctl's code, and a value, which
// is escaped. An attribute whose value is empty is left out.
using Attribute = std::pair<absl::string_view, absl::string_view>;
using Attributes = std::initializer_list<Attribute>;

// A document written front to back: elements opened and closed in order,
// with text in between. Tag and attribute names are the caller's literals;
// text and attribute values are always escaped.
class Writer {
 public:
  // Opens `<tag ...>`.
  Writer& Open(absl::string_view tag, Attributes attributes = {});
  // Closes the element opened last; does nothing when none is open.
  Writer& Close();
  // Writes `text`, escaped.
  Writer& Text(absl::string_view text);
  // `<tag ...>text</tag>`.
  Writer& Element(absl::string_view tag, absl::string_view text, Attributes attributes = {});
  // An element without content or end tag: `<meta ...>`, `<link ...>`, `<br>`.
  Writer& Void(absl::string_view tag, Attributes attributes = {});

  // The document: `<!DOCTYPE html>`, what was written, and the end tag of
  // every element still open.
  std::string Finish();

 private:
  void StartTag(absl::string_view tag, Attributes attributes);

  std::string out_;
  std::vector<std::string> open_;
};

}  // namespace creditd::cli::html
