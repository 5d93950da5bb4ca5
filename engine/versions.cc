#include "engine/versions.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/value.h"

namespace creditd::engine {
namespace {

bool AllDigits(absl::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Two runs of digits by value, however long.
int CompareNumbers(absl::string_view a, absl::string_view b) {
  while (a.size() > 1 && a[0] == '0') a.remove_prefix(1);
  while (b.size() > 1 && b[0] == '0') b.remove_prefix(1);
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  return a.compare(b) < 0 ? -1 : (a == b ? 0 : 1);
}

int CompareText(absl::string_view a, absl::string_view b) {
  const int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

// Pre-release identifiers, dot-separated: numeric ones by value and before
// alphanumeric ones, which compare as ASCII; a shorter list that is a prefix
// of a longer one comes first.
int ComparePrerelease(absl::string_view a, absl::string_view b) {
  const std::vector<absl::string_view> x = absl::StrSplit(a, '.');
  const std::vector<absl::string_view> y = absl::StrSplit(b, '.');
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
    const bool xn = AllDigits(x[i]);
    const bool yn = AllDigits(y[i]);
    int c = 0;
    if (xn && yn) {
      c = CompareNumbers(x[i], y[i]);
    } else if (xn != yn) {
      c = xn ? -1 : 1;
    } else {
      c = CompareText(x[i], y[i]);
    }
    if (c != 0) return c;
  }
  if (x.size() != y.size()) return x.size() < y.size() ? -1 : 1;
  return 0;
}

int Precedence(absl::string_view a, absl::string_view b) {
  const size_t a_dash = a.find('-');
  const size_t b_dash = b.find('-');
  const absl::string_view a_core = a.substr(0, a_dash);
  const absl::string_view b_core = b.substr(0, b_dash);
  const std::vector<absl::string_view> x = absl::StrSplit(a_core, '.');
  const std::vector<absl::string_view> y = absl::StrSplit(b_core, '.');
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
    const int c = CompareNumbers(x[i], y[i]);
    if (c != 0) return c;
  }
  if (x.size() != y.size()) return x.size() < y.size() ? -1 : 1;
  const bool a_pre = a_dash != absl::string_view::npos;
  const bool b_pre = b_dash != absl::string_view::npos;
  if (a_pre != b_pre) return a_pre ? -1 : 1;  // 1.0.0-rc.1 < 1.0.0
  if (!a_pre) return 0;
  return ComparePrerelease(a.substr(a_dash + 1), b.substr(b_dash + 1));
}

}  // namespace

int CompareVersions(absl::string_view a, absl::string_view b) {
  const int c = Precedence(a, b);
  return c != 0 ? c : CompareText(a, b);
}

absl::StatusOr<absl::Time> EffectiveInstant(absl::string_view date, absl::TimeZone zone) {
  absl::StatusOr<int64_t> days = ParseDate(date);
  if (!days.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("`effective` ", date, " is not a calendar date: ", days.status().message()));
  }
  return absl::FromCivil(absl::CivilDay(1970, 1, 1) + *days, zone);
}

}  // namespace creditd::engine
