#include "server/echo.h"

namespace creditd::server {

namespace {

// The length of the UTF-8 sequence starting at text[i], or 0 when it is not
// a valid one.
size_t Utf8Length(absl::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = byte(i);
  size_t n = 0;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
  } else {
    return 0;
  }
  if (i + n > text.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
  }
  return n;
}

}  // namespace

std::string Echo(absl::string_view text, size_t max) {
  std::string out;
  out.reserve(std::min(text.size(), max) + 3);
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    size_t n = 1;
    if (c >= 0x80) n = Utf8Length(text, i);
    if (out.size() + (n == 0 ? 1 : n) > max) break;
    if (c < 0x20 || c == 0x7f || n == 0) {
      out.push_back('?');
      i += 1;
    } else {
      out.append(text.data() + i, n);
      i += n;
    }
  }
  if (i < text.size()) out += "\u2026";
  return out;
}

}  // namespace creditd::server
