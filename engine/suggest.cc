#include "engine/suggest.h"

#include <algorithm>
#include <cstddef>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace creditd::engine {
namespace {

// Optimal string alignment distance, case-insensitive, giving up (returning
// more than `limit`) once every alignment costs more.
size_t Distance(absl::string_view a, absl::string_view b, size_t limit) {
  const size_t n = a.size(), m = b.size();
  if ((n > m ? n - m : m - n) > limit) return limit + 1;
  std::vector<size_t> before(m + 1), previous(m + 1), current(m + 1);
  for (size_t j = 0; j <= m; ++j) previous[j] = j;
  for (size_t i = 1; i <= n; ++i) {
    current[0] = i;
    size_t row_min = current[0];
    for (size_t j = 1; j <= m; ++j) {
      const bool same = absl::ascii_tolower(static_cast<unsigned char>(a[i - 1])) ==
                        absl::ascii_tolower(static_cast<unsigned char>(b[j - 1]));
      size_t d = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (same ? 0 : 1)});
      if (i > 1 && j > 1 &&
          absl::ascii_tolower(static_cast<unsigned char>(a[i - 1])) ==
              absl::ascii_tolower(static_cast<unsigned char>(b[j - 2])) &&
          absl::ascii_tolower(static_cast<unsigned char>(a[i - 2])) ==
              absl::ascii_tolower(static_cast<unsigned char>(b[j - 1]))) {
        d = std::min(d, before[j - 2] + 1);
      }
      current[j] = d;
      row_min = std::min(row_min, d);
    }
    if (row_min > limit) return limit + 1;
    before.swap(previous);
    previous.swap(current);
  }
  return previous[m];
}

}  // namespace

std::optional<std::string> Closest(absl::string_view name,
                                   const std::vector<std::string>& candidates) {
  // Names are short; a long one (hostile or not) is not worth comparing.
  if (name.empty() || name.size() > 128) return std::nullopt;
  const size_t limit =
      name.size() <= 2 ? 0 : (name.size() <= 4 ? 1 : (name.size() <= 8 ? 2 : name.size() / 3));
  std::optional<std::string> best;
  size_t best_distance = limit + 1;
  for (const std::string& candidate : candidates) {
    if (candidate == name) return std::nullopt;
    const size_t d = Distance(name, candidate, limit);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

std::string DidYouMean(absl::string_view name, const std::vector<std::string>& candidates) {
  std::optional<std::string> closest = Closest(name, candidates);
  return closest ? absl::StrCat("did you mean `", *closest, "`?") : std::string();
}

}  // namespace creditd::engine
