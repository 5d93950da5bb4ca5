#pragma once

// How the versions of one decision are ordered, and when each takes effect.

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace creditd::engine {

// Semantic-version precedence (semver.org, item 11) of two versions as the
// language writes them (MAJOR.MINOR.PATCH, optionally -PRERELEASE):
// negative, 0 or positive. Numbers compare by value whatever their length; a
// pre-release comes before its release. Two texts of equal precedence
// ("1.0.0" and "01.0.0") then compare by their text, so that the order is
// total and 0 means the same text.
int CompareVersions(absl::string_view a, absl::string_view b);

// The instant a policy `effective` on `date` (YYYY-MM-DD) takes effect in
// `zone`: the start of that day there (midnight; where a clock change skips
// midnight, the first instant of the day). InvalidArgument for a text that
// is not a date the language accepts.
absl::StatusOr<absl::Time> EffectiveInstant(absl::string_view date, absl::TimeZone zone);

}  // namespace creditd::engine
