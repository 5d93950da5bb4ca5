#pragma once

// Well-formed UTF-8 (The Unicode Standard, table 3-7): no overlong forms,
// no surrogates, nothing past U+10FFFF. What policy files must be, what
// protobuf's proto3 strings must be, and what the facts' canonical text
// writes as it is.

#include <cstddef>

#include "absl/strings/string_view.h"

namespace creditd::dsl {

// The length (1 to 4) of the well-formed UTF-8 sequence that starts at
// text[i], or 0 when none does. `i` must be inside `text`.
size_t Utf8SequenceLength(absl::string_view text, size_t i);

// The byte offset of the first byte that starts no well-formed sequence, or
// npos when all of `text` is well-formed UTF-8.
size_t FindInvalidUtf8(absl::string_view text);

}  // namespace creditd::dsl
