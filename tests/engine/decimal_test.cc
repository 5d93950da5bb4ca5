#include "engine/decimal.h"

#include <random>
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
  // Coefficients past 64 bits.
  EXPECT_EQ(D("123456789012345678901234.5678").ToString(), "123456789012345678901234.5678");
  EXPECT_EQ(D("-0.000000000000000001").ToString(), "-0.000000000000000001");
  EXPECT_EQ(D("-987654321098765432.123456789012345678").ToString(),
            "-987654321098765432.123456789012345678");
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

namespace creditd::engine {
namespace {

// A reference: small decimals as exact fractions p / 10^s in 128-bit
// integers, checked against Decimal by cross-multiplication rather than by
// repeating its algorithm.
struct Ref {
  __int128 p;
  int s;
};

__int128 Pow10(int n) {
  __int128 v = 1;
  while (n-- > 0) v *= 10;
  return v;
}

Decimal Make(const Ref& r) { return Decimal::FromParts(r.p, r.s).value(); }

// Does decimal `d` equal the fraction num / den exactly?
bool Equals(const Decimal& d, __int128 num, __int128 den) {
  return d.coefficient() * den == num * Pow10(d.scale());
}

class DecimalRandomTest : public ::testing::Test {
 protected:
  Ref Next() {
    std::uniform_int_distribution<int64_t> digits(-999'999'999'999, 999'999'999'999);
    std::uniform_int_distribution<int> scale(0, 6);
    return {digits(rng_), scale(rng_)};
  }
  std::mt19937_64 rng_{20261122};
};

TEST_F(DecimalRandomTest, AddSubMulMatchExactFractions) {
  for (int i = 0; i < 20000; ++i) {
    const Ref a = Next();
    const Ref b = Next();
    const __int128 den = Pow10(a.s + b.s);
    const __int128 an = a.p * Pow10(b.s);
    const __int128 bn = b.p * Pow10(a.s);
    ASSERT_TRUE(Equals(Make(a).Add(Make(b)).value(), an + bn, den));
    ASSERT_TRUE(Equals(Make(a).Sub(Make(b)).value(), an - bn, den));
    ASSERT_TRUE(Equals(Make(a).Mul(Make(b)).value(), a.p * b.p, den));
    const int cmp = an < bn ? -1 : (an > bn ? 1 : 0);
    ASSERT_EQ(Decimal::Compare(Make(a), Make(b)), cmp);
  }
}

TEST_F(DecimalRandomTest, DivisionIsWithinHalfAnUlpAndExactWhenItTerminates) {
  for (int i = 0; i < 20000; ++i) {
    const Ref a = Next();
    Ref b = Next();
    if (b.p == 0) b.p = 7;
    const Decimal q = Make(a).Div(Make(b)).value();
    // exact = (a.p * 10^b.s) / (b.p * 10^a.s); |q - exact| <= 1/2 * 10^-18.
    const __int128 num = a.p * Pow10(b.s);
    const __int128 den = b.p * Pow10(a.s);
    const Decimal q18 = q.Round(18).value();
    __int128 diff = q18.coefficient() * den - num * Pow10(18);
    if (diff < 0) diff = -diff;
    __int128 half = den < 0 ? -den : den;
    ASSERT_LE(2 * diff, half) << Make(a).ToString() << " / " << Make(b).ToString();
  }
  EXPECT_EQ(Decimal::Parse("1").value().Div(Decimal::Parse("8").value()).value().ToString(),
            "0.125");
}

TEST_F(DecimalRandomTest, RoundingMatchesFloorDivisionReference) {
  const RoundingMode modes[] = {
      RoundingMode::kHalfEven, RoundingMode::kHalfUp,  RoundingMode::kHalfDown, RoundingMode::kUp,
      RoundingMode::kDown,     RoundingMode::kCeiling, RoundingMode::kFloor};
  for (int i = 0; i < 20000; ++i) {
    const Ref a = Next();
    for (int places = 0; places < a.s; ++places) {
      const __int128 unit = Pow10(a.s - places);
      // floor(a.p / unit) and the remainder, for negatives too.
      __int128 fl = a.p / unit;
      __int128 rem = a.p % unit;
      if (rem < 0) {
        fl -= 1;
        rem += unit;
      }
      for (RoundingMode mode : modes) {
        __int128 want = fl;
        if (rem != 0) {
          const bool tie = 2 * rem == unit;
          const bool above_half = 2 * rem > unit;
          switch (mode) {
            case RoundingMode::kFloor:
              break;
            case RoundingMode::kCeiling:
              want = fl + 1;
              break;
            case RoundingMode::kDown:
              want = a.p < 0 ? fl + 1 : fl;
              break;
            case RoundingMode::kUp:
              want = a.p < 0 ? fl : fl + 1;
              break;
            case RoundingMode::kHalfUp:  // ties away from zero
              want = above_half || (tie && a.p > 0) ? fl + 1 : fl;
              break;
            case RoundingMode::kHalfDown:  // ties toward zero
              want = above_half || (tie && a.p < 0) ? fl + 1 : fl;
              break;
            case RoundingMode::kHalfEven:
              want = above_half || (tie && (fl % 2 != 0)) ? fl + 1 : fl;
              break;
          }
        }
        const Decimal got = Make(a).Round(places, mode).value();
        ASSERT_EQ(got.scale(), places);
        ASSERT_TRUE(got.coefficient() == want)
            << Make(a).ToString() << " to " << places << " places, mode " << static_cast<int>(mode)
            << ": got " << got.ToString();
      }
    }
  }
}

TEST_F(DecimalRandomTest, TextRoundTrips) {
  for (int i = 0; i < 20000; ++i) {
    const Decimal d = Make(Next());
    const Decimal back = Decimal::Parse(d.ToString()).value();
    ASSERT_EQ(back.coefficient(), d.coefficient());
    ASSERT_EQ(back.scale(), d.scale());
  }
}

}  // namespace
}  // namespace creditd::engine
