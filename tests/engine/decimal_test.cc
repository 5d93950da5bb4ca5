#include "engine/decimal.h"

#include <string>

#include "gtest/gtest.h"

namespace creditd::engine {
namespace {

Decimal D(const std::string& text) {
  absl::StatusOr<Decimal> d = Decimal::Parse(text);
  EXPECT_TRUE(d.ok()) << text << ": " << d.status();
  return d.value_or(Decimal());
}

TEST(DecimalTest, ParsesAndFormatsKeepingScale) {
  EXPECT_EQ(D("1234.50").ToString(), "1234.50");
  EXPECT_EQ(D("-0.05").ToString(), "-0.05");
  EXPECT_EQ(D("+7").ToString(), "7");
  EXPECT_EQ(D("0.000").ToString(), "0.000");
  EXPECT_EQ(D("1234.50").ToCanonicalString(), "1234.5");
}

TEST(DecimalTest, RejectsMalformedText) {
  for (const char* bad : {"", "-", ".5", "5.", "1.2.3", "1e5", "12a", " 1", "1_000", "0x10"}) {
    EXPECT_FALSE(Decimal::Parse(bad).ok()) << bad;
  }
  EXPECT_FALSE(Decimal::Parse("0.1234567890123456789").ok());  // 19 fractional digits
  EXPECT_TRUE(Decimal::Parse("0.1234567890123456780").ok());   // trailing zero dropped
  EXPECT_FALSE(Decimal::Parse(std::string(37, '9')).ok());
}

TEST(DecimalTest, ArithmeticIsExact) {
  EXPECT_EQ(D("0.1").Add(D("0.2")).value(), D("0.3"));
  EXPECT_EQ(D("1000000").Mul(D("0.0005")).value().ToString(), "500.0000");
  EXPECT_EQ(D("10").Div(D("4")).value().ToString(), "2.5");
  EXPECT_EQ(D("1").Div(D("3")).value().ToString(), "0.333333333333333333");
  EXPECT_EQ(D("2").Div(D("3")).value().ToString(), "0.666666666666666667");
  EXPECT_EQ(D("5").Sub(D("7.25")).value().ToString(), "-2.25");
}

TEST(DecimalTest, RoundsHalfToEvenByDefault) {
  EXPECT_EQ(D("2.345").Round(2).value().ToString(), "2.34");
  EXPECT_EQ(D("2.355").Round(2).value().ToString(), "2.36");
  EXPECT_EQ(D("-2.345").Round(2).value().ToString(), "-2.34");
  EXPECT_EQ(D("2.345").Round(2, RoundingMode::kHalfUp).value().ToString(), "2.35");
  EXPECT_EQ(D("-2.341").Round(2, RoundingMode::kFloor).value().ToString(), "-2.35");
  EXPECT_EQ(D("2.341").Round(2, RoundingMode::kCeiling).value().ToString(), "2.35");
  EXPECT_EQ(D("2.349").Round(2, RoundingMode::kDown).value().ToString(), "2.34");
  EXPECT_EQ(D("2.5").Round(4).value().ToString(), "2.5000");
  EXPECT_FALSE(D("1").Round(19).ok());
}

TEST(DecimalTest, OverflowAndDivisionByZeroAreErrors) {
  const Decimal big = D(std::string(36, '9'));
  EXPECT_FALSE(big.Add(D("1")).ok());
  EXPECT_FALSE(big.Mul(D("10")).ok());
  EXPECT_EQ(D("1").Div(D("0")).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DecimalTest, ComparesByValue) {
  EXPECT_EQ(D("1.50"), D("1.5"));
  EXPECT_LT(D("-2"), D("-1.999"));
  EXPECT_GT(D("500000.01"), D("500000"));
  EXPECT_LT(D("0.000000000000000001"), D("0.00000000000000001"));
}

}  // namespace
}  // namespace creditd::engine
