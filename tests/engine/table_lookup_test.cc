// Compiled tables pick the rows their tests say, for every value: random
// tables over an int and an enum column, evaluated for every input, against
// the tests read directly.
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/engine/policy_fixture.h"

namespace creditd::engine {
namespace {

using testing::CompileText;
using testing::Header;
using testing::Out;

struct Cell {
  std::string text;
  std::function<bool(int)> matches;
};

Cell RandomIntCell(std::mt19937& rng) {
  const int k = static_cast<int>(rng() % 21) - 10;
  const int j = k + 2 + static_cast<int>(rng() % 6);
  switch (rng() % 9) {
    case 0:
      return {"any", [](int) { return true; }};
    case 1:
      return {absl::StrCat("< ", k), [k](int a) { return a < k; }};
    case 2:
      return {absl::StrCat("<= ", k), [k](int a) { return a <= k; }};
    case 3:
      return {absl::StrCat("> ", k), [k](int a) { return a > k; }};
    case 4:
      return {absl::StrCat(">= ", k), [k](int a) { return a >= k; }};
    case 5:
      return {absl::StrCat("[", k, ", ", j, "]"), [k, j](int a) { return a >= k && a <= j; }};
    case 6:
      return {absl::StrCat("(", k, ", ", j, ")"), [k, j](int a) { return a > k && a < j; }};
    case 7:
      return {absl::StrCat("{", k, ", ", j + 3, "}"),
              [k, j](int a) { return a == k || a == j + 3; }};
    default:
      return {absl::StrCat(k), [k](int a) { return a == k; }};
  }
}

Cell RandomColorCell(std::mt19937& rng) {
  switch (rng() % 4) {
    case 0:
      return {"any", [](int) { return true; }};
    case 1:
      return {"{red, blue}", [](int c) { return c != 1; }};
    case 2:
      return {"green", [](int c) { return c == 1; }};
    default:
      return {"!= red", [](int c) { return c != 0; }};
  }
}

TEST(TableLookupTest, CompiledTablesMatchTheirRows) {
  const char* kColors[] = {"red", "green", "blue"};
  std::mt19937 rng(5);
  for (int table = 0; table < 40; ++table) {
    const int rows = 1 + static_cast<int>(rng() % 12);
    std::vector<Cell> a_cells;
    std::vector<Cell> c_cells;
    std::string first = "table first_hit hit first\n  | a | c => x: int\n";
    std::string sum = "table all_hits hit collect sum\n  | a | c => x: int\n";
    for (int r = 0; r < rows; ++r) {
      a_cells.push_back(RandomIntCell(rng));
      c_cells.push_back(RandomColorCell(rng));
      absl::StrAppend(&first, "  | ", a_cells.back().text, " | ", c_cells.back().text, " => ", r,
                      "\n");
      absl::StrAppend(&sum, "  | ", a_cells.back().text, " | ", c_cells.back().text, " => ", 1 << r,
                      "\n");
    }
    absl::StrAppend(&first, "  | any | any => -1\n");
    const std::string text =
        absl::StrCat(Header(), "enum Color { red, green, blue }\ninput a: int in [-20, 20]\n",
                     "input c: Color\n", first, sum,
                     "output first: int = first_hit.x\noutput all: int = all_hits.x\n");
    std::shared_ptr<const CompiledPolicy> policy = CompileText(text);
    ASSERT_NE(policy, nullptr) << text;
    for (int a = -20; a <= 20; ++a) {
      for (int c = 0; c < 3; ++c) {
        int want_first = -1;
        int want_all = 0;
        for (int r = 0; r < rows; ++r) {
          if (!a_cells[static_cast<size_t>(r)].matches(a) ||
              !c_cells[static_cast<size_t>(r)].matches(c)) {
            continue;
          }
          if (want_first < 0) want_first = r;
          want_all += 1 << r;
        }
        Facts facts;
        facts.Add("a", FactValue::Int(a)).Add("c", FactValue::Symbol(kColors[c]));
        absl::StatusOr<Decision> d = Evaluate(*policy, facts);
        ASSERT_TRUE(d.ok()) << d.status() << "\n" << text;
        EXPECT_EQ(Out(*d, "first"), absl::StrCat(want_first)) << "a=" << a << " c=" << c << "\n"
                                                              << text;
        EXPECT_EQ(Out(*d, "all"), absl::StrCat(want_all)) << "a=" << a << " c=" << c << "\n"
                                                          << text;
      }
    }
  }
}

}  // namespace
}  // namespace creditd::engine
