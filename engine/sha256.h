#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace creditd::engine {

// The SHA-256 digest of `data` (FIPS 180-4), as 64 lowercase hex digits.
std::string Sha256Hex(absl::string_view data);

}  // namespace creditd::engine
