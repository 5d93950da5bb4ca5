// The API's answer made from an engine decision, its logged bytes, and the
// comparison replay makes.
#include "api/decision.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/facts.h"
#include "bench/sample_request.h"
#include "engine/bundle.h"
#include "engine/evaluator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/policy_fixture.h"

namespace creditd::api {
namespace {

namespace v1 = credit::v1;
using ::testing::HasSubstr;

std::shared_ptr<const engine::CompiledPolicy> CreditApplication() {
  static const std::shared_ptr<const engine::CompiledPolicy> policy = [] {
    engine::DiskFileReader reader;
    absl::StatusOr<engine::BundleLoad> load = engine::LoadBundle("policies", reader);
    EXPECT_TRUE(load.ok() && load->bundle != nullptr);
    if (!load.ok() || load->bundle == nullptr)
      return std::shared_ptr<const engine::CompiledPolicy>();
    return load->bundle->decisions.at("credit_application").versions.back().policy;
  }();
  return policy;
}

// The answer for the benchmarks' request, as creditd fills it.
v1::Decision Answer(bool trace) {
  const v1::EvaluateRequest request = bench::CreditApplicationRequest();
  engine::Facts facts;
  AddRequestFacts(request, *CreditApplication(), &facts);
  engine::EvalOptions options;
  options.trace = trace;
  absl::StatusOr<engine::Decision> decision =
      engine::Evaluate(*CreditApplication(), facts, options);
  EXPECT_TRUE(decision.ok()) << decision.status();
  v1::Decision out;
  if (decision.ok()) FillDecision(*decision, &out);
  out.set_decision_id("0190d5c2-0000-7000-8000-000000000000");
  out.set_time("2026-11-22T10:00:00.000Z");
  return out;
}

TEST(DecisionTest, FillsWhatTheEngineDecided) {
  ASSERT_NE(CreditApplication(), nullptr);
  const v1::Decision d = Answer(false);
  EXPECT_EQ(d.decision(), "credit_application");
  EXPECT_EQ(d.policy().sha256(), CreditApplication()->id().sha256);
  EXPECT_EQ(d.outcome(), "approve");
  EXPECT_EQ(d.outputs().at("credit_limit").decimal_value(), "800000.00");
  EXPECT_EQ(d.outputs().at("payment_terms_days").value_case(), v1::Value::kIntValue);
  // An empty set is a set.
  EXPECT_EQ(d.outputs().at("requirements").value_case(), v1::Value::kSetValue);
  EXPECT_EQ(d.outputs().at("requirements").set_value().symbols_size(), 0);
  ASSERT_GT(d.scorecards_size(), 0);
  EXPECT_GT(d.scorecards(0).factors_size(), 0);
  EXPECT_EQ(d.trace_size(), 0);
  EXPECT_GT(Answer(true).trace_size(), 0);
}

TEST(DecisionTest, LoggedBytesAreTheSameWhateverTheMapsOrder) {
  ASSERT_NE(CreditApplication(), nullptr);
  const v1::Decision d = Answer(true);
  // The same outputs and trace reads, inserted in the reverse order.
  v1::Decision reversed = d;
  reversed.clear_outputs();
  std::vector<std::string> names;
  for (const auto& [name, value] : d.outputs()) names.push_back(name);
  std::sort(names.rbegin(), names.rend());
  for (const std::string& name : names) (*reversed.mutable_outputs())[name] = d.outputs().at(name);
  const std::string bytes = DeterministicBytes(d);
  EXPECT_EQ(DeterministicBytes(reversed), bytes);
  EXPECT_EQ(DeterministicBytes(Answer(true)), bytes);
  v1::Decision back;
  ASSERT_TRUE(ParseDecision(bytes, &back).ok());
  EXPECT_TRUE(SameDecision(back, d));
  EXPECT_TRUE(SameDecision(reversed, d));
}

TEST(DecisionTest, SameDecisionSaysWhatDiffers) {
  ASSERT_NE(CreditApplication(), nullptr);
  const v1::Decision d = Answer(false);
  v1::Decision changed = d;
  (*changed.mutable_outputs())["credit_limit"].set_decimal_value("900000.00");
  std::string difference;
  EXPECT_FALSE(SameDecision(changed, d, &difference));
  EXPECT_THAT(difference, HasSubstr("credit_limit"));
  EXPECT_THAT(difference, HasSubstr("900000.00"));
  changed = d;
  changed.add_reasons()->set_code("EXTRA");
  EXPECT_FALSE(SameDecision(changed, d, &difference));
  EXPECT_THAT(difference, HasSubstr("EXTRA"));
}

TEST(DecisionTest, RefusesBytesThatAreNoDecision) {
  v1::Decision out;
  const absl::Status status = ParseDecision(std::string("\xff\xff\xff", 3), &out);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "the 3 bytes are not a credit.v1.Decision");
  EXPECT_FALSE(DecisionBytesToJson(std::string("\x0a\x05"
                                               "ab",
                                               4))
                   .ok());
}

// The summary read straight from the bytes says what the whole message says.
TEST(DecisionTest, ASummaryReadsWhatTheMessageHolds) {
  for (bool trace : {false, true}) {
    v1::Decision answer = Answer(trace);
    answer.set_evaluation_date("2026-11-30");
    (*answer.mutable_outputs())["empty_set"].mutable_set_value();
    (*answer.mutable_outputs())["no_value"];
    for (const char* code : {"HIGH_LEVERAGE", "LOW_LIQUIDITY"}) {
      v1::Reason* reason = answer.add_reasons();
      reason->set_code(code);
      reason->set_message("a message that is skipped");
      reason->set_rule("some_rule");
    }
    const std::string bytes = DeterministicBytes(answer);
    AnswerSummary summary;
    ASSERT_TRUE(SummarizeAnswer(bytes, &summary).ok());
    EXPECT_EQ(summary.outcome, answer.outcome());
    EXPECT_EQ(summary.evaluation_date, "2026-11-30");
    std::map<std::string, std::string> want, got(summary.outputs.begin(), summary.outputs.end());
    for (const auto& [name, value] : answer.outputs()) want[name] = AnswerValueText(value);
    EXPECT_EQ(got, want);
    EXPECT_EQ(got["empty_set"], "{}");
    EXPECT_EQ(got["no_value"], "(none)");
    std::vector<std::string> codes;
    for (const v1::Reason& r : answer.reasons()) codes.push_back(r.code());
    EXPECT_EQ(summary.reason_codes, codes);
    EXPECT_GE(codes.size(), 2u);
  }
  AnswerSummary summary;
  for (const std::string& bad : {std::string("\xff\xff"), std::string("\x2a\x05"
                                                                      "ab")}) {
    EXPECT_FALSE(SummarizeAnswer(bad, &summary).ok());
  }
  // A map key given twice: the later entry, as protobuf reads it.
  v1::Decision twice;
  (*twice.mutable_outputs())["a"].set_int_value(1);
  std::string bytes = DeterministicBytes(twice);
  (*twice.mutable_outputs())["a"].set_int_value(2);
  bytes += DeterministicBytes(twice);
  ASSERT_TRUE(SummarizeAnswer(bytes, &summary).ok());
  ASSERT_EQ(summary.outputs.size(), 1u);
  EXPECT_EQ(summary.outputs[0].second, "2");
}

// Every kind of value reads from the bytes as its message's text, whether
// the summary reads it itself (one plain field) or through protobuf.
TEST(DecisionTest, ASummaryReadsEveryValueAsItsMessageSays) {
  std::vector<v1::Value> values(18);
  values[0].set_bool_value(true);
  values[1].set_bool_value(false);
  values[2].set_int_value(0);
  values[3].set_int_value(127);
  values[4].set_int_value(128);
  values[5].set_int_value(INT64_MAX);
  values[6].set_int_value(-1);
  values[7].set_int_value(INT64_MIN);
  values[8].set_decimal_value("12.50");
  values[9].set_decimal_value(std::string(200, '9'));  // a two-byte length
  values[10].set_decimal_value("");
  values[11].set_enum_value("caf\xc3\xa9");  // not ASCII
  values[12].set_enum_value(std::string("a\0b", 3));
  values[13].set_date_value("2026-11-30");
  values[14].mutable_set_value()->add_symbols("a");
  values[14].mutable_set_value()->add_symbols("b");
  values[15].mutable_set_value();
  // values[16]: no field; values[17]: a text, then an int, which wins.
  values[17].set_int_value(5);
  std::string bytes;
  for (size_t i = 0; i < values.size(); ++i) {
    v1::Decision answer;
    (*answer.mutable_outputs())[absl::StrCat("v", i < 10 ? "0" : "", i)] = values[i];
    bytes += DeterministicBytes(answer);
  }
  // v17 as logged bytes: a map entry whose Value holds decimal_value "x",
  // then int_value 5 (the oneof's last field wins).
  v1::Decision answer;
  answer.set_outcome("approve");
  std::string entry = "\x0a\x03v17\x12\x05\x1a\x01x\x10\x05";
  bytes += "\x32" + std::string(1, static_cast<char>(entry.size())) + entry;
  // A bool of a varint other than 1 is true.
  entry = "\x0a\x03v18\x12\x02\x08\x02";
  bytes += "\x32" + std::string(1, static_cast<char>(entry.size())) + entry;
  AnswerSummary summary;
  ASSERT_TRUE(SummarizeAnswer(bytes, &summary).ok());
  std::map<std::string, std::string> got(summary.outputs.begin(), summary.outputs.end());
  ASSERT_EQ(got.size(), 19u);
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(got[absl::StrCat("v", i < 10 ? "0" : "", i)], AnswerValueText(values[i])) << i;
  }
  EXPECT_EQ(got["v07"], "-9223372036854775808");
  EXPECT_EQ(got["v14"], "{a, b}");
  EXPECT_EQ(got["v16"], "(none)");
  EXPECT_EQ(got["v17"], "5");
  EXPECT_EQ(got["v18"], "true");
  // Text protobuf refuses (not UTF-8) is no decision, read either way.
  entry = "\x0a\x01w\x12\x03\x22\x01\xff";
  bytes = "\x32" + std::string(1, static_cast<char>(entry.size())) + entry;
  EXPECT_FALSE(SummarizeAnswer(bytes, &summary).ok());
  // The buffers of a longer answer serve a shorter one.
  ASSERT_TRUE(SummarizeAnswer(DeterministicBytes(answer), &summary).ok());
  EXPECT_EQ(summary.outcome, "approve");
  EXPECT_TRUE(summary.outputs.empty());
}

// An output's text without the message is the message's text.
TEST(DecisionTest, AnOutputsTextIsItsValuesText) {
  ASSERT_NE(CreditApplication(), nullptr);
  const v1::EvaluateRequest request = bench::CreditApplicationRequest();
  engine::Facts facts;
  AddRequestFacts(request, *CreditApplication(), &facts);
  absl::StatusOr<engine::Decision> decision = engine::Evaluate(*CreditApplication(), facts, {});
  ASSERT_TRUE(decision.ok()) << decision.status();
  std::string text = "left from before";
  int compared = 0;
  for (const engine::OutputValue& out : decision->outputs) {
    if (!out.has_value) continue;
    v1::Value value;
    FillValue(out.value, out.type, &value, out.places);
    AssignValueText(out.value, out.type, out.places, &text);
    EXPECT_EQ(text, AnswerValueText(value)) << out.name;
    ++compared;
  }
  EXPECT_GE(compared, 5);
}

TEST(DecisionTest, LoggedBytesPrintAsJsonForPeople) {
  ASSERT_NE(CreditApplication(), nullptr);
  const v1::Decision d = Answer(false);
  absl::StatusOr<std::string> json = DecisionBytesToJson(DeterministicBytes(d));
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_THAT(*json, HasSubstr(R"("decision_id":"0190d5c2-0000-7000-8000-000000000000")"));
  EXPECT_THAT(*json, HasSubstr(R"("credit_limit":{"decimal_value":"800000.00"})"));
  EXPECT_THAT(*json, HasSubstr(R"("outcome":"approve")"));
  EXPECT_EQ(json->find('\n'), std::string::npos);
  // In the logged order: map entries sorted by key, whatever order the
  // message held them in.
  const size_t approval = json->find(R"("approval_level":)");
  const size_t limit = json->find(R"("credit_limit":)");
  const size_t warning = json->find(R"("warning":)");
  ASSERT_NE(warning, std::string::npos);
  EXPECT_LT(approval, limit);
  EXPECT_LT(limit, warning);
  EXPECT_EQ(*DecisionBytesToJson(DeterministicBytes(d)), *json);
}

TEST(FactsTest, EachKindGoesAsItsOneofSays) {
  auto policy = engine::testing::CompileText(engine::testing::Header() +
                                             "input a: int\ninput b: bool = false\n"
                                             "output x: int = a\n");
  ASSERT_NE(policy, nullptr);
  v1::EvaluateRequest request;
  auto& f = *request.mutable_facts();
  f["a"].set_int_value(7);
  f["d"].set_decimal_value("1.5");
  f["e"].set_enum_value("new");
  f["t"].set_date_value("2026-11-22");
  f["b"];        // no value, an input: left out (missing, or its default)
  f["unknown"];  // no value, not an input: refused by validation
  f["flag"].set_bool_value(true);
  engine::Facts facts;
  AddRequestFacts(request, *policy, &facts);
  std::map<std::string, engine::FactValue> got;
  for (const engine::Fact& fact : facts.all()) got.emplace(std::string(fact.name), fact.value);
  EXPECT_EQ(got.size(), 6u);
  EXPECT_EQ(got.at("a"), engine::FactValue::Int(7));
  EXPECT_EQ(got.at("d"), engine::FactValue::Decimal("1.5"));
  EXPECT_EQ(got.at("e"), engine::FactValue::Symbol("new"));
  EXPECT_EQ(got.at("t"), engine::FactValue::Date("2026-11-22"));
  EXPECT_EQ(got.at("flag"), engine::FactValue::Bool(true));
  EXPECT_EQ(got.at("unknown"), engine::FactValue::Symbol(""));
  EXPECT_EQ(got.count("b"), 0u);
}

}  // namespace
}  // namespace creditd::api
