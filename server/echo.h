#pragma once

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace creditd::server {

// A caller's value as it may be repeated back in a message or a log line:
// at most `max` bytes (cut on a character boundary, then "…"), with control
// characters and bytes that are not UTF-8 shown as `?`. A caller can send
// megabytes, NULs and line breaks; what comes back must stay short and on
// one line.
std::string Echo(absl::string_view text, size_t max = 64);

}  // namespace creditd::server
