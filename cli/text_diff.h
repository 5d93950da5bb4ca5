#pragma once

// A unified diff of two texts, line by line, as `diff -u` prints it: what
// `creditctl fmt --check` shows for a file that is not in canonical form.

#include <string>

#include "absl/strings/string_view.h"

namespace creditd::cli {

// The unified diff from `before` (named `before_name`) to `after`, with
// `context` lines around each change; empty when the texts are equal. Lines
// end at '\n'; a last line without one is marked as diff marks it. When the
// texts differ in more lines than a diff can be worked out for cheaply
// (thousands of changed lines), one hunk replaces the whole text.
std::string UnifiedDiff(absl::string_view before, absl::string_view after,
                        absl::string_view before_name, absl::string_view after_name,
                        int context = 3);

}  // namespace creditd::cli
