#include "engine/policy_diff.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/program.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/policy_fixture.h"
#include "tests/engine/test_files.h"

namespace creditd::engine {
namespace {

using testing::CompileText;
using testing::Edit;
using ::testing::HasSubstr;

// Every construct the comparison looks at, in edition 2.
constexpr char kBase[] = R"(policy t
  version 1.0.0
  effective 2026-01-01
  edition 2

enum Segment { new, existing, strategic, public_sector }
enum Decision { approve, refer, decline }
enum Grade { A, B, C, D }

reason LARGE "Large request of {requested_limit}"
reason GRADE_D "Grade D: no credit"
reason LOW_SCORE "Low score"
reason FEW_YEARS "Few years in business"

input segment: Segment
input requested_limit: money >= 0
input score: int in [0, 100]
input years: int in [0, 200]
input manual_limit: money? >= 0
input has_collateral: bool = false

outcome Decision = approve

band grade: Grade on score
  | >= 80    => A
  | [65, 80) => B
  | [50, 65) => C
  | < 50     => D

table terms hit first
  | grade | segment   => base_limit: money, days: int
  | A     | strategic => 5_000_000,         90
  | A     | any       => 2_000_000,         60
  | B     | any       => 1_000_000,         30
  | any   | any       => 0,                 0

let limit = if given(manual_limit) then manual_limit else terms.base_limit

scorecard rating
  group history weight 60%
    factor years reason FEW_YEARS
      | >= 10   => 100
      | [3, 10) => 50
      | < 3     => 0
  group quality weight 40%
    factor score reason LOW_SCORE when < 50
      | >= 70 => 100
      | < 70  => 20

output credit_limit: money = min(requested_limit, limit)
output fee: money(0) = 100
output days: int = terms.days
output points: decimal = rating.total
output collateral_needed: bool = not has_collateral and segment in {new, existing}

rule large
  when requested_limit > 500_000
  then refer LARGE
       cap credit_limit at 500_000

rule grade_d
  when grade = D
  then decline GRADE_D
       cap credit_limit at 0
)";

std::vector<Change> Diff(const std::string& before, const std::string& after) {
  std::shared_ptr<const CompiledPolicy> a = CompileText(before);
  std::shared_ptr<const CompiledPolicy> b = CompileText(after);
  if (a == nullptr || b == nullptr) return {};
  return DiffPolicies(a->checked(), b->checked());
}

std::string Show(const std::vector<Change>& changes) {
  std::string text;
  for (const Change& c : changes) {
    absl::StrAppend(&text, ChangeKindName(c.kind), " ", c.what, " [", c.path, "] ", c.before,
                    " -> ", c.after, c.breaks_callers ? " BREAKS: " + c.impact : "", "\n");
  }
  return text;
}

// The one change: fails unless `changes` holds exactly one.
Change Only(const std::vector<Change>& changes) {
  EXPECT_EQ(changes.size(), 1u) << Show(changes);
  return changes.empty() ? Change() : changes[0];
}

TEST(PolicyDiffTest, TheSameTextHasNoChanges) {
  EXPECT_THAT(Diff(kBase, kBase), ::testing::IsEmpty());
}

TEST(PolicyDiffTest, LayoutCommentsGroupingParenthesesAndSetOrderAreNoChanges) {
  std::string text = kBase;
  text = Edit(text, "  | A     | any       => 2_000_000,         60",
              "  # the existing customers' limit\n  | A | any => 2000000, 60");
  text = Edit(text, "when requested_limit > 500_000", "when (requested_limit > 500000)");
  text = Edit(text, "min(requested_limit, limit)", "min( requested_limit ,\n    limit )");
  text = Edit(text, "segment in {new, existing}", "segment in {existing, new}");
  text = Edit(text, "weight 60%", "weight 60.0%");
  // Effects in another order, and rules too.
  text = Edit(text, "  then refer LARGE\n       cap credit_limit at 500_000",
              "  then cap credit_limit at 500_000\n       refer LARGE");
  EXPECT_THAT(Diff(kBase, text), ::testing::IsEmpty()) << Show(Diff(kBase, text));
}

TEST(PolicyDiffTest, AMovedConstantShowsAsTheValues) {
  const Change cell = Only(Diff(kBase, Edit(kBase, "2_000_000,", "1_500_000,")));
  EXPECT_EQ(cell.kind, Change::Kind::kChanged);
  EXPECT_EQ(cell.what, "table cell");
  EXPECT_EQ(cell.path, "table terms row 2 (A | any) base_limit");
  EXPECT_EQ(cell.before, "2000000");
  EXPECT_EQ(cell.after, "1500000");
  EXPECT_TRUE(cell.constant);
  EXPECT_EQ(cell.expression_after, "");
  EXPECT_GT(cell.line_after, 0);
  EXPECT_EQ(cell.file_after, "test.credit");

  const Change condition = Only(Diff(kBase, Edit(kBase, "> 500_000", "> 400_000")));
  EXPECT_EQ(condition.path, "rule large condition");
  EXPECT_EQ(condition.before, "500000");
  EXPECT_EQ(condition.after, "400000");
  EXPECT_TRUE(condition.constant);
  EXPECT_EQ(condition.expression_after, "requested_limit > 400000");

  const std::vector<Change> weights =
      Diff(kBase, Edit(Edit(kBase, "weight 60%", "weight 50%"), "weight 40%", "weight 50%"));
  ASSERT_EQ(weights.size(), 2u) << Show(weights);
  const Change& weight = weights[0];
  EXPECT_EQ(weight.path, "scorecard rating group history weight");
  EXPECT_EQ(weight.what, "weight");
  EXPECT_EQ(weight.before, "60%");
  EXPECT_EQ(weight.after, "50%");
}

TEST(PolicyDiffTest, AnExpressionOfAnotherShapeShowsWhole) {
  const Change c = Only(Diff(kBase, Edit(kBase, "min(requested_limit, limit)", "limit")));
  EXPECT_EQ(c.path, "output credit_limit value");
  EXPECT_FALSE(c.constant);
  EXPECT_EQ(c.before, "min(requested_limit, limit)");
  EXPECT_EQ(c.after, "limit");
}

// The reference change: the dynamic credit check with the medium risk
// category's limit cut from 300,000 to 250,000 and the tolerance from 5% to
// 3%.
TEST(PolicyDiffTest, TheReferenceCreditCheckChange) {
  DiskFileReader reader;
  absl::StatusOr<std::string> text = reader.Read("policies/examples/credit_check.credit");
  ASSERT_TRUE(text.ok()) << text.status();
  std::string changed = Edit(*text, "=> 300_000,", "=> 250_000,");
  changed = Edit(changed, "let tolerance = 5%", "let tolerance = 3%");
  const std::vector<Change> changes = Diff(*text, changed);
  ASSERT_EQ(changes.size(), 2u) << Show(changes);
  EXPECT_EQ(changes[0].path, "let tolerance");
  EXPECT_EQ(changes[0].before, "5%");
  EXPECT_EQ(changes[0].after, "3%");
  EXPECT_EQ(changes[1].path, "table category_terms row 2 (medium) limit");
  EXPECT_EQ(changes[1].before, "300000");
  EXPECT_EQ(changes[1].after, "250000");
  for (const Change& c : changes) {
    EXPECT_TRUE(c.constant);
    EXPECT_FALSE(c.breaks_callers);
  }
}

TEST(PolicyDiffTest, InputsAddedAndRemoved) {
  const Change required =
      Only(Diff(kBase, Edit(kBase, "input years:", "input age: int\ninput years:")));
  EXPECT_EQ(required.kind, Change::Kind::kAdded);
  EXPECT_EQ(required.path, "input age");
  EXPECT_EQ(required.after, "int");
  EXPECT_TRUE(required.breaks_callers);
  EXPECT_THAT(required.impact, HasSubstr("required"));

  const Change optional =
      Only(Diff(kBase, Edit(kBase, "input years:", "input cap_hint: money?\ninput years:")));
  EXPECT_EQ(optional.after, "money? (optional)");
  EXPECT_FALSE(optional.breaks_callers);

  const Change defaulted =
      Only(Diff(kBase, Edit(kBase, "input years:", "input vip: bool = false\ninput years:")));
  EXPECT_FALSE(defaulted.breaks_callers);

  std::string without = Edit(kBase, "input has_collateral: bool = false\n", "");
  without = Edit(without, "not has_collateral and ", "");
  const std::vector<Change> changes = Diff(kBase, without);
  ASSERT_EQ(changes.size(), 2u) << Show(changes);
  const Change& removed = changes[0];
  EXPECT_EQ(removed.kind, Change::Kind::kRemoved);
  EXPECT_EQ(removed.path, "input has_collateral");
  EXPECT_EQ(removed.before, "bool = false (a default)");
  EXPECT_TRUE(removed.breaks_callers);
}

TEST(PolicyDiffTest, InputTypesAndRanges) {
  const Change retyped = Only(
      Diff(kBase, Edit(kBase, "input years: int in [0, 200]", "input years: decimal in [0, 200]")));
  EXPECT_EQ(retyped.path, "input years type");
  EXPECT_EQ(retyped.before, "int");
  EXPECT_EQ(retyped.after, "decimal");
  EXPECT_TRUE(retyped.breaks_callers);

  const Change narrowed = Only(Diff(kBase, Edit(kBase, "int in [0, 100]", "int in [0, 90]")));
  EXPECT_EQ(narrowed.path, "input score range");
  EXPECT_EQ(narrowed.before, "in [0, 100]");
  EXPECT_EQ(narrowed.after, "in [0, 90]");
  EXPECT_TRUE(narrowed.breaks_callers);
  EXPECT_THAT(narrowed.impact, HasSubstr("refused"));

  const Change widened = Only(Diff(kBase, Edit(kBase, "int in [0, 100]", "int >= 0")));
  EXPECT_EQ(widened.after, ">= 0");
  EXPECT_FALSE(widened.breaks_callers);

  // The same values written another way is no change.
  EXPECT_THAT(
      Diff(kBase, Edit(kBase, "requested_limit: money >= 0", "requested_limit: money >= 0.00")),
      ::testing::IsEmpty());

  const Change places = Only(
      Diff(kBase, Edit(kBase, "requested_limit: money >= 0", "requested_limit: money(0) >= 0")));
  EXPECT_EQ(places.path, "input requested_limit type");
  EXPECT_EQ(places.after, "money(0)");
  EXPECT_TRUE(places.breaks_callers);
  const std::string rounded =
      Edit(kBase, "min(requested_limit, limit)", "round(min(requested_limit, limit), 2)");
  const Change more_places = Only(Diff(
      rounded, Edit(rounded, "requested_limit: money >= 0", "requested_limit: money(3) >= 0")));
  EXPECT_FALSE(more_places.breaks_callers);

  std::string required = Edit(kBase, "manual_limit: money? >= 0", "manual_limit: money >= 0");
  required = Edit(required, "if given(manual_limit) then manual_limit else terms.base_limit",
                  "min(manual_limit, terms.base_limit)");
  const std::vector<Change> changes = Diff(kBase, required);
  ASSERT_EQ(changes.size(), 2u) << Show(changes);
  EXPECT_EQ(changes[0].path, "input manual_limit type");
  EXPECT_EQ(changes[0].before, "money?");
  EXPECT_TRUE(changes[0].breaks_callers);
  EXPECT_THAT(changes[0].impact, HasSubstr("no longer optional"));
  EXPECT_EQ(changes[1].path, "let limit");
  EXPECT_FALSE(changes[1].breaks_callers);

  const Change made_optional_default = Only(Diff(kBase, Edit(kBase, "bool = false", "bool")));
  EXPECT_EQ(made_optional_default.path, "input has_collateral default");
  EXPECT_EQ(made_optional_default.kind, Change::Kind::kRemoved);
  EXPECT_TRUE(made_optional_default.breaks_callers);

  const Change new_default = Only(Diff(kBase, Edit(kBase, "bool = false", "bool = true")));
  EXPECT_EQ(new_default.before, "false");
  EXPECT_EQ(new_default.after, "true");
  EXPECT_FALSE(new_default.breaks_callers);
}

TEST(PolicyDiffTest, EnumSymbols) {
  const Change removed =
      Only(Diff(kBase, Edit(kBase, "strategic, public_sector }", "strategic }")));
  EXPECT_EQ(removed.kind, Change::Kind::kRemoved);
  EXPECT_EQ(removed.what, "enum symbol");
  EXPECT_EQ(removed.path, "enum Segment symbol public_sector");
  EXPECT_TRUE(removed.breaks_callers);
  EXPECT_THAT(removed.impact, HasSubstr("input segment"));

  const Change added = Only(
      Diff(kBase, Edit(kBase, "strategic, public_sector }", "strategic, public_sector, bank }")));
  EXPECT_EQ(added.kind, Change::Kind::kAdded);
  EXPECT_FALSE(added.breaks_callers);

  const Change order =
      Only(Diff(kBase, Edit(kBase, "{ approve, refer, decline }", "{ approve, decline, refer }")));
  EXPECT_EQ(order.path, "enum Decision order");
  EXPECT_EQ(order.after, "{approve, decline, refer}");
}

TEST(PolicyDiffTest, Outputs) {
  const Change added =
      Only(Diff(kBase, Edit(kBase, "output fee:", "output grade_out: Grade = grade\noutput fee:")));
  EXPECT_EQ(added.kind, Change::Kind::kAdded);
  EXPECT_EQ(added.after, "Grade = grade");
  EXPECT_FALSE(added.breaks_callers);

  const Change removed = Only(Diff(kBase, Edit(kBase, "output days: int = terms.days\n", "")));
  EXPECT_EQ(removed.path, "output days");
  EXPECT_TRUE(removed.breaks_callers);

  const Change retyped = Only(Diff(
      kBase, Edit(kBase, "output days: int = terms.days", "output days: decimal = terms.days")));
  EXPECT_EQ(retyped.path, "output days type");
  EXPECT_TRUE(retyped.breaks_callers);

  // Edition 2 money places: a change, not one that refuses anything.
  const Change places = Only(Diff(kBase, Edit(kBase, "fee: money(0)", "fee: money(2)")));
  EXPECT_EQ(places.path, "output fee type");
  EXPECT_EQ(places.before, "money(0)");
  EXPECT_EQ(places.after, "money(2)");
  EXPECT_FALSE(places.breaks_callers);
  EXPECT_THAT(Diff(kBase, Edit(kBase, "fee: money(0) = 100", "fee: money(0) = 1_00")),
              ::testing::IsEmpty());
}

TEST(PolicyDiffTest, RulesAndEffects) {
  const Change outcome = Only(Diff(kBase, Edit(kBase, "then refer LARGE", "then decline LARGE")));
  EXPECT_EQ(outcome.path, "rule large outcome");
  EXPECT_EQ(outcome.before, "refer LARGE");
  EXPECT_EQ(outcome.after, "decline LARGE");

  const Change cap = Only(Diff(kBase, Edit(kBase, "at 500_000", "at 400_000")));
  EXPECT_EQ(cap.what, "rule effect");
  EXPECT_EQ(cap.path, "rule large cap credit_limit");
  EXPECT_EQ(cap.before, "500000");
  EXPECT_EQ(cap.after, "400000");

  const Change effect = Only(Diff(kBase, Edit(kBase, "cap credit_limit at 0\n",
                                              "cap credit_limit at 0\n       set fee = 0\n")));
  EXPECT_EQ(effect.kind, Change::Kind::kAdded);
  EXPECT_EQ(effect.after, "set fee = 0");

  const Change rule = Only(Diff(
      kBase,
      absl::StrCat(kBase, "\nrule vip\n  when segment = strategic\n  then reason LOW_SCORE\n")));
  EXPECT_EQ(rule.kind, Change::Kind::kAdded);
  EXPECT_EQ(rule.path, "rule vip");
  EXPECT_EQ(rule.after, "when segment = strategic then reason LOW_SCORE");

  const Change priority = Only(Diff(kBase, Edit(kBase, "rule grade_d", "rule grade_d priority 2")));
  EXPECT_EQ(priority.path, "rule grade_d priority");
}

TEST(PolicyDiffTest, BandBoundaries) {
  std::string text = Edit(kBase, "| >= 80    => A", "| >= 75    => A");
  text = Edit(text, "| [65, 80) => B", "| [65, 75) => B");
  const std::vector<Change> changes = Diff(kBase, text);
  ASSERT_EQ(changes.size(), 2u) << Show(changes);
  EXPECT_EQ(changes[0].what, "band row");
  EXPECT_EQ(changes[0].path, "band grade row 1 test");
  EXPECT_EQ(changes[0].before, ">= 80");
  EXPECT_EQ(changes[0].after, ">= 75");
  EXPECT_EQ(changes[1].path, "band grade row 2 test");

  const Change value = Only(Diff(kBase, Edit(kBase, "| [50, 65) => C", "| [50, 65) => B")));
  EXPECT_EQ(value.path, "band grade row 3 ([50, 65)) value");
}

TEST(PolicyDiffTest, TableRowsInsertedAndRemovedArePairedByTheirTests) {
  const Change inserted =
      Only(Diff(kBase, Edit(kBase, "  | B     | any ",
                            "  | B | strategic => 1_200_000, 45\n  | B     | any ")));
  EXPECT_EQ(inserted.kind, Change::Kind::kAdded);
  EXPECT_EQ(inserted.what, "table row");
  EXPECT_EQ(inserted.path, "table terms row 3");
  EXPECT_EQ(inserted.after, "| B | strategic => 1200000, 45");

  const Change removed =
      Only(Diff(kBase, Edit(kBase, "  | A     | any       => 2_000_000,         60\n", "")));
  EXPECT_EQ(removed.kind, Change::Kind::kRemoved);
  EXPECT_EQ(removed.path, "table terms row 2");

  const Change test = Only(Diff(kBase, Edit(kBase, "| B     | any ", "| C     | any ")));
  EXPECT_EQ(test.what, "table cell");
  EXPECT_EQ(test.path, "table terms row 3 grade");
  EXPECT_EQ(test.before, "B");
  EXPECT_EQ(test.after, "C");

  const Change hit =
      Only(Diff(kBase, Edit(kBase, "table terms hit first", "table terms hit priority")));
  EXPECT_EQ(hit.path, "table terms hit");
}

TEST(PolicyDiffTest, ScorecardBinsPointsAndReasons) {
  const Change points = Only(Diff(kBase, Edit(kBase, "| [3, 10) => 50", "| [3, 10) => 40")));
  EXPECT_EQ(points.what, "scorecard bin");
  EXPECT_EQ(points.path, "scorecard rating group history factor years bin 2 ([3, 10)) points");
  EXPECT_EQ(points.before, "50");

  std::string bins = Edit(kBase, "| >= 10   => 100", "| >= 12   => 100");
  bins = Edit(bins, "| [3, 10) => 50", "| [3, 12) => 50");
  const std::vector<Change> changes = Diff(kBase, bins);
  ASSERT_EQ(changes.size(), 2u) << Show(changes);
  EXPECT_EQ(changes[0].path, "scorecard rating group history factor years bin 1 test");

  const Change reason =
      Only(Diff(kBase, Edit(kBase, "LOW_SCORE when < 50", "LOW_SCORE when < 30")));
  EXPECT_EQ(reason.path, "scorecard rating group quality factor score reason");
  EXPECT_EQ(reason.before, "LOW_SCORE when < 50");
}

TEST(PolicyDiffTest, ReasonsAndMessageTemplates) {
  const Change message = Only(Diff(kBase, Edit(kBase, "\"Large request of {requested_limit}\"",
                                               "\"A large request: {requested_limit}\"")));
  EXPECT_EQ(message.what, "reason");
  EXPECT_EQ(message.path, "reason LARGE");
  EXPECT_EQ(message.before, "\"Large request of {requested_limit}\"");
  EXPECT_EQ(message.after, "\"A large request: {requested_limit}\"");

  const Change quoted = Only(Diff(kBase, Edit(kBase, "{requested_limit}\"", "{score}\"")));
  EXPECT_EQ(quoted.path, "reason LARGE");

  const Change added =
      Only(Diff(kBase, Edit(kBase, "reason LOW_SCORE", "reason NEW \"New\"\nreason LOW_SCORE")));
  EXPECT_EQ(added.kind, Change::Kind::kAdded);
  EXPECT_EQ(added.after, "\"New\"");
}

TEST(PolicyDiffTest, HeaderAndEdition) {
  const std::string one =
      "policy t\n  version 1.0.0\n  effective 2026-01-01\n\ninput a: int\noutput b: int = a\n";
  std::string two = Edit(one, "effective 2026-01-01\n", "effective 2026-02-01\n  edition 2\n");
  two = Edit(two, "version 1.0.0", "version 1.1.0");
  const std::vector<Change> changes = Diff(one, two);
  ASSERT_EQ(changes.size(), 3u) << Show(changes);
  EXPECT_EQ(changes[0].path, "header version");
  EXPECT_EQ(changes[1].path, "header effective");
  EXPECT_EQ(changes[2].what, "header");
  EXPECT_EQ(changes[2].path, "header edition");
  EXPECT_EQ(changes[2].before, "1");
  EXPECT_EQ(changes[2].after, "2");
}

}  // namespace
}  // namespace creditd::engine
