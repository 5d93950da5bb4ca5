#include "engine/domain.h"

#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace creditd::engine {
namespace {

// A random set of whole numbers in [-20, 20] as a Domain of ints: points,
// closed and open intervals, unbounded ends.
Domain RandomDomain(std::mt19937& rng) {
  const Type type = Type::Of(TypeKind::kInt);
  Domain d = Domain::Empty(type);
  const int pieces = static_cast<int>(rng() % 6);
  for (int p = 0; p < pieces; ++p) {
    const int64_t a = static_cast<int64_t>(rng() % 41) - 20;
    const int64_t b = a + static_cast<int64_t>(rng() % 8);
    switch (rng() % 4) {
      case 0:
        d = d.Union(Domain::Point(type, Value::Int(a)));
        break;
      case 1:
        d = d.Union(
            Domain::Between(type, Value::Int(a), rng() % 2 == 0, Value::Int(b), rng() % 2 == 0));
        break;
      case 2:
        d = d.Union(Domain::Compare(type, rng() % 2 == 0 ? "<" : ">=", Value::Int(a)));
        break;
      default:
        d = d.Union(Domain::Points(type, {Value::Int(a), Value::Int(b), Value::Int(-a)}));
        break;
    }
  }
  return d;
}

TEST(DomainTest, SetOperationsAgreeWithMembership) {
  std::mt19937 rng(11);
  for (int iteration = 0; iteration < 2000; ++iteration) {
    const Domain a = RandomDomain(rng);
    const Domain b = RandomDomain(rng);
    const Domain both = a.Intersect(b);
    const Domain either = a.Union(b);
    const Domain only = a.Minus(b);
    for (int64_t x = -40; x <= 40; ++x) {
      const Decimal v = Decimal::FromInt(x);
      const bool in_a = a.ContainsValue(v);
      const bool in_b = b.ContainsValue(v);
      ASSERT_EQ(both.ContainsValue(v), in_a && in_b) << a.ToString() << " & " << b.ToString();
      ASSERT_EQ(either.ContainsValue(v), in_a || in_b) << a.ToString() << " | " << b.ToString();
      ASSERT_EQ(only.ContainsValue(v), in_a && !in_b) << a.ToString() << " - " << b.ToString();
    }
  }
}

TEST(DomainTest, PointsAreTheUnionOfTheirPoints) {
  const Type type = Type::Of(TypeKind::kInt);
  std::vector<Value> values;
  Domain one_by_one = Domain::Empty(type);
  for (int64_t x : {7, -3, 7, 100, 4, 5, 6}) {
    values.push_back(Value::Int(x));
    one_by_one = one_by_one.Union(Domain::Point(type, Value::Int(x)));
  }
  EXPECT_EQ(Domain::Points(type, values).ToString(), one_by_one.ToString());
  EXPECT_EQ(Domain::Points(type, values).ToString(), "-3 or [4, 7] or 100");
}

}  // namespace
}  // namespace creditd::engine
