#include "cli/facts_json.h"

#include <string>

#include "cli/policy_loading.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/policy_fixture.h"

namespace creditd::cli {
namespace {

using engine::FactValue;
using ::testing::HasSubstr;

TEST(FactsJsonTest, IntegersAreExactInt64) {
  FactsJson json;
  ASSERT_TRUE(json.Parse(R"({"a": 6, "b": -9223372036854775808, "c": 9223372036854775807})").ok());
  const rapidjson::Value& root = json.root();
  ASSERT_TRUE(root["a"].IsInt64());
  EXPECT_EQ(root["a"].GetInt64(), 6);
  EXPECT_EQ(root["b"].GetInt64(), INT64_MIN);
  EXPECT_EQ(root["c"].GetInt64(), INT64_MAX);
  EXPECT_FALSE(json.IsDecimalNumber(root["a"]));
}

TEST(FactsJsonTest, NumbersWithAFractionKeepTheirText) {
  FactsJson json;
  ASSERT_TRUE(
      json.Parse(R"({"a": 6.00, "b": "6.00", "c": 0.1000000000000000055511151231257827})").ok());
  const rapidjson::Value& root = json.root();
  ASSERT_TRUE(root["a"].IsString());
  EXPECT_EQ(std::string(root["a"].GetString()), "6.00");
  EXPECT_TRUE(json.IsDecimalNumber(root["a"]));
  // The same text as a JSON string is a string, not a number.
  EXPECT_FALSE(json.IsDecimalNumber(root["b"]));
  // No binary floating point: every digit stays.
  EXPECT_EQ(std::string(root["c"].GetString()), "0.1000000000000000055511151231257827");
}

TEST(FactsJsonTest, RefusesIntegersBeyondInt64AndExponents) {
  FactsJson json;
  absl::Status big = json.Parse(R"({"a": 9223372036854775808})");
  EXPECT_EQ(big.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(big.message(), HasSubstr("9223372036854775808 is outside the 64-bit range"));
  EXPECT_THAT(big.message(), HasSubstr("at byte"));
  EXPECT_FALSE(json.Parse(R"({"a": -9223372036854775809})").ok());
  absl::Status exponent = json.Parse(R"({"a": 1e6})");
  EXPECT_THAT(exponent.message(), HasSubstr("1e6 has an exponent"));
  EXPECT_FALSE(json.Parse(R"({"a": 1.5E-3})").ok());
  // A hostile number is named cut short.
  absl::Status huge = json.Parse("{\"a\": " + std::string(80 * 1024, '9') + "}");
  EXPECT_FALSE(huge.ok());
  EXPECT_LT(huge.message().size(), 200u);
  EXPECT_THAT(json.Parse("{\"a\": 1").message(), HasSubstr("at byte"));
}

// The kind of fact each member becomes.
std::string Kinds(const std::string& text) {
  auto policy = engine::testing::CompileText(engine::testing::Header() + R"(
enum Grade { A, B }
input n: int
input m: money
input g: Grade
input since: date
input flag: bool
output x: int = n
)");
  if (policy == nullptr) return "no policy";
  FactsJson json;
  engine::Facts facts;
  absl::Status status = ParseFacts(text, *policy, &json, &facts);
  if (!status.ok()) return std::string(status.message());
  static const char* kKinds[] = {"bool", "int", "decimal", "symbol", "date"};
  std::string out;
  for (const engine::Fact& f : facts.all()) {
    absl::StrAppend(&out, out.empty() ? "" : " ", f.name, "=",
                    kKinds[static_cast<int>(f.value.kind)]);
    if (f.value.kind == FactValue::Kind::kInt) absl::StrAppend(&out, ":", f.value.i);
    if (f.value.kind != FactValue::Kind::kBool && f.value.kind != FactValue::Kind::kInt) {
      absl::StrAppend(&out, ":", f.value.text);
    }
  }
  return out;
}

// The reader took a NUL byte for the end of the text: `{"x": "5"}` followed
// by a NUL and anything at all was read as the whole document.
TEST(FactsJsonTest, ANulByteIsRefusedNotTakenForTheEnd) {
  FactsJson json;
  const std::string text = std::string("{\"x\": \"5\"}") + '\0' + "{\"x\": garbage";
  absl::Status status = json.Parse(text);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("a NUL byte is not JSON (at byte 10)"), std::string::npos)
      << status;
  // Escaped in a string, it is a character like any other.
  ASSERT_TRUE(json.Parse(R"({"x": "a\u0000b"})").ok());
  EXPECT_EQ(std::string(json.root()["x"].GetString(), json.root()["x"].GetStringLength()),
            std::string("a\0b", 3));
}

TEST(FactsJsonTest, FactsTakeTheirKindFromTheJson) {
  EXPECT_EQ(Kinds(R"({"n": 6, "m": 800000.50, "g": "A", "since": "2026-01-01", "flag": true})"),
            "n=int:6 m=decimal:800000.50 g=symbol:A since=date:2026-01-01 flag=bool");
  // 6.00 and "6" are decimals, whatever the input's type: the engine decides.
  EXPECT_EQ(Kinds(R"({"n": 6.00})"), "n=decimal:6.00");
  EXPECT_EQ(Kinds(R"({"n": "6"})"), "n=decimal:6");
  EXPECT_EQ(Kinds(R"({"m": 800000})"), "m=int:800000");
  // A number is never taken for an enum symbol or a date; a string is.
  EXPECT_EQ(Kinds(R"({"g": 1.5, "since": 2026.5})"), "g=decimal:1.5 since=decimal:2026.5");
  EXPECT_EQ(Kinds(R"({"g": "1.5"})"), "g=symbol:1.5");
  EXPECT_EQ(Kinds(R"({"n": null, "other": "x"})"), "other=decimal:x");
  EXPECT_THAT(Kinds(R"({"n": 1e3})"), HasSubstr("exponent"));
  EXPECT_THAT(Kinds(R"([1])"), HasSubstr("must be a JSON object"));
}

}  // namespace
}  // namespace creditd::cli
