#include "cli/text_diff.h"

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace creditd::cli {
namespace {

std::vector<absl::string_view> Lines(absl::string_view text) {
  std::vector<absl::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    if (end == absl::string_view::npos) {
      lines.push_back(text.substr(start));
      break;
    }
    lines.push_back(text.substr(start, end - start + 1));
    start = end + 1;
  }
  return lines;
}

// One step of an edit script: a line kept, removed from `a` or added from `b`.
struct Step {
  char kind;  // ' ', '-', '+'
  size_t a, b;
};

// Beyond this many differing lines the diff is one hunk of the whole text:
// Myers' trace takes memory in the square of the differences.
constexpr int kMaxDifferences = 2000;

// Myers' O((N+M)D) shortest edit script, or nothing past kMaxDifferences.
bool EditScript(const std::vector<absl::string_view>& a, const std::vector<absl::string_view>& b,
                std::vector<Step>* steps) {
  const int n = static_cast<int>(a.size());
  const int m = static_cast<int>(b.size());
  const int max = std::min(n + m, kMaxDifferences);
  // v[k + offset]: the furthest x on diagonal k; one copy per d for the
  // walk back.
  const int offset = max + 1;
  std::vector<int> v(static_cast<size_t>(2 * max + 3), 0);
  std::vector<std::vector<int>> trace;
  int found = -1;
  for (int d = 0; d <= max && found < 0; ++d) {
    trace.push_back(v);
    for (int k = -d; k <= d; k += 2) {
      int x = (k == -d || (k != d && v[k - 1 + offset] < v[k + 1 + offset]))
                  ? v[k + 1 + offset]
                  : v[k - 1 + offset] + 1;
      int y = x - k;
      while (x < n && y < m && a[x] == b[y]) ++x, ++y;
      v[k + offset] = x;
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
  }
  if (found < 0) return false;
  // Walk back from (n, m).
  std::vector<Step> reversed;
  int x = n, y = m;
  for (int d = found; d > 0; --d) {
    const std::vector<int>& prev = trace[static_cast<size_t>(d)];
    const int k = x - y;
    const bool down = k == -d || (k != d && prev[k - 1 + offset] < prev[k + 1 + offset]);
    const int prev_k = down ? k + 1 : k - 1;
    const int prev_x = prev[prev_k + offset];
    const int prev_y = prev_x - prev_k;
    while (x > prev_x + (down ? 0 : 1) && y > prev_y + (down ? 1 : 0)) {
      --x, --y;
      reversed.push_back({' ', static_cast<size_t>(x), static_cast<size_t>(y)});
    }
    if (down) {
      --y;
      reversed.push_back({'+', static_cast<size_t>(x), static_cast<size_t>(y)});
    } else {
      --x;
      reversed.push_back({'-', static_cast<size_t>(x), static_cast<size_t>(y)});
    }
  }
  while (x > 0 && y > 0) {
    --x, --y;
    reversed.push_back({' ', static_cast<size_t>(x), static_cast<size_t>(y)});
  }
  steps->assign(reversed.rbegin(), reversed.rend());
  return true;
}

void AppendLine(char kind, absl::string_view line, std::string* out) {
  out->push_back(kind);
  out->append(line.data(), line.size());
  if (line.empty() || line.back() != '\n') out->append("\n\\ No newline at end of file\n");
}

// "start,count" as unified diffs write a range (start is 1-based; an empty
// range starts at the line before).
std::string Range(size_t start, size_t count) {
  if (count == 0) return absl::StrCat(start, ",0");
  if (count == 1) return absl::StrCat(start + 1);
  return absl::StrCat(start + 1, ",", count);
}

}  // namespace

std::string UnifiedDiff(absl::string_view before, absl::string_view after,
                        absl::string_view before_name, absl::string_view after_name, int context) {
  if (before == after) return "";
  const std::vector<absl::string_view> a = Lines(before);
  const std::vector<absl::string_view> b = Lines(after);
  std::string out = absl::StrCat("--- ", before_name, "\n+++ ", after_name, "\n");
  std::vector<Step> steps;
  if (!EditScript(a, b, &steps)) {
    absl::StrAppend(&out, "@@ -", Range(0, a.size()), " +", Range(0, b.size()), " @@\n");
    for (absl::string_view line : a) AppendLine('-', line, &out);
    for (absl::string_view line : b) AppendLine('+', line, &out);
    return out;
  }
  const size_t ctx = static_cast<size_t>(std::max(0, context));
  size_t i = 0;
  while (i < steps.size()) {
    if (steps[i].kind == ' ') {
      ++i;
      continue;
    }
    // A hunk: from `ctx` kept lines before the first change to `ctx` after
    // the last change that is within 2 * ctx kept lines of the next one.
    const size_t first = i >= ctx ? i - ctx : 0;
    size_t last = i;  // one past the last change
    size_t j = i;
    while (j < steps.size()) {
      if (steps[j].kind != ' ') {
        last = j + 1;
        ++j;
        continue;
      }
      size_t kept = j;
      while (kept < steps.size() && steps[kept].kind == ' ') ++kept;
      if (kept == steps.size() || kept - j > 2 * ctx) break;
      j = kept;
    }
    const size_t end = std::min(steps.size(), last + ctx);
    size_t a_start = steps[first].a, b_start = steps[first].b, a_count = 0, b_count = 0;
    for (size_t k = first; k < end; ++k) {
      if (steps[k].kind != '+') ++a_count;
      if (steps[k].kind != '-') ++b_count;
    }
    absl::StrAppend(&out, "@@ -", Range(a_start, a_count), " +", Range(b_start, b_count), " @@\n");
    for (size_t k = first; k < end; ++k) {
      const Step& s = steps[k];
      AppendLine(s.kind, s.kind == '+' ? b[s.b] : a[s.a], &out);
    }
    i = end;
  }
  return out;
}

}  // namespace creditd::cli
