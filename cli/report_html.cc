#include "cli/report_html.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace creditd::cli::html {
namespace {

// Elements after whose end tag a line break keeps the source readable;
// between inline elements it would show as a space.
bool IsBlock(absl::string_view tag) {
  for (absl::string_view block :
       {"html",    "head",   "body",    "title", "meta", "link", "main", "nav",
        "header",  "footer", "section", "div",   "h1",   "h2",   "h3",   "h4",
        "p",       "ul",     "ol",      "li",    "dl",   "dt",   "dd",   "table",
        "caption", "thead",  "tbody",   "tr",    "th",   "td",   "pre"}) {
    if (tag == block) return true;
  }
  return false;
}

}  // namespace

std::string Escape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      case '\t':
      case '\n':
      case '\r':
        out += c;
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          out += "\xEF\xBF\xBD";  // U+FFFD
        } else {
          out += c;
        }
    }
  }
  return out;
}

void Writer::StartTag(absl::string_view tag, Attributes attributes) {
  absl::StrAppend(&out_, "<", tag);
  for (const Attribute& a : attributes) {
    if (a.second.empty()) continue;
    absl::StrAppend(&out_, " ", a.first, "=\"", Escape(a.second), "\"");
  }
  out_ += ">";
}

Writer& Writer::Open(absl::string_view tag, Attributes attributes) {
  StartTag(tag, attributes);
  if (tag == "html" || tag == "head" || tag == "body" || tag == "table" || tag == "thead" ||
      tag == "tbody" || tag == "tr" || tag == "ul" || tag == "ol" || tag == "dl" ||
      tag == "section" || tag == "main" || tag == "nav") {
    out_ += "\n";
  }
  open_.emplace_back(tag);
  return *this;
}

Writer& Writer::Close() {
  if (open_.empty()) return *this;
  absl::StrAppend(&out_, "</", open_.back(), ">");
  if (IsBlock(open_.back())) out_ += "\n";
  open_.pop_back();
  return *this;
}

Writer& Writer::Text(absl::string_view text) {
  out_ += Escape(text);
  return *this;
}

Writer& Writer::Element(absl::string_view tag, absl::string_view text, Attributes attributes) {
  Open(tag, attributes);
  Text(text);
  return Close();
}

Writer& Writer::Void(absl::string_view tag, Attributes attributes) {
  StartTag(tag, attributes);
  if (IsBlock(tag)) out_ += "\n";
  return *this;
}

std::string Writer::Finish() {
  while (!open_.empty()) Close();
  return absl::StrCat("<!DOCTYPE html>\n", out_);
}

}  // namespace creditd::cli::html
