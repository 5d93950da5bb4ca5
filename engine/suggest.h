#pragma once

// "Did you mean": the known name closest to a misspelt one, for the
// checker's unknown-name diagnostics.

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace creditd::engine {

// The candidate closest to `name` by edit distance (insertions, deletions,
// substitutions and swaps of neighbours, letter case ignored), when it is
// close enough to be a likely typo: at most 1 edit for names of up to 4
// characters (none below 3, but for letter case), 2 up to 8, a third of the
// length beyond. Ties go to the
// first candidate. Nullopt when none is that close, or `name` is itself a
// candidate.
std::optional<std::string> Closest(absl::string_view name,
                                   const std::vector<std::string>& candidates);

// "did you mean `X`?" for Closest, or an empty string.
std::string DidYouMean(absl::string_view name, const std::vector<std::string>& candidates);

}  // namespace creditd::engine
