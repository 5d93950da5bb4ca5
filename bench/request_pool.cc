#include "bench/request_pool.h"

#include <optional>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "engine/decimal.h"
#include "engine/domain.h"
#include "engine/value.h"
#include "server/decide.h"

namespace creditd::bench {

namespace {

namespace v1 = credit::v1;
using engine::Decimal;
using engine::TypeKind;

// Places a drawn value keeps: cents, hundredths of a percent.
int Places(TypeKind kind) {
  switch (kind) {
    case TypeKind::kMoney:
      return 2;
    case TypeKind::kPercent:
      return 4;
    case TypeKind::kDecimal:
      return 2;
    default:
      return 0;
  }
}

// The widest span an unbounded side of a range is drawn over, as a power of
// ten (drawn log-uniformly from 10^0 up to it): enough to cross every band
// the reference policies draw, few enough digits to look like real data.
int MaxExponent(TypeKind kind) {
  switch (kind) {
    case TypeKind::kMoney:
      return 7;
    case TypeKind::kDecimal:
    case TypeKind::kPercent:
      return 1;
    default:
      return 3;
  }
}

Decimal Pow10(int e) {
  Decimal v = Decimal::FromInt(1);
  for (int k = 0; k < e; ++k) v = v.Mul(Decimal::FromInt(10)).value_or(v);
  return v;
}

// A value of `domain`, uniform over one of its ranges picked at random, or
// nullopt when the draw failed (the caller falls back to an example).
std::optional<Decimal> Draw(const engine::Domain& domain, TypeKind kind, std::mt19937_64& rng) {
  const std::vector<engine::Domain::Range>& ranges = domain.ranges();
  if (ranges.empty()) return std::nullopt;
  const engine::Domain::Range& r =
      ranges[std::uniform_int_distribution<size_t>(0, ranges.size() - 1)(rng)];
  const Decimal span = kind == TypeKind::kDate
                           ? Decimal::FromInt(3650)
                           : Pow10(std::uniform_int_distribution<int>(0, MaxExponent(kind))(rng));
  Decimal low, high;
  if (!r.low.infinite && !r.high.infinite) {
    low = r.low.value;
    high = r.high.value;
  } else if (!r.low.infinite) {
    low = r.low.value;
    high = low.Add(span).value_or(low);
  } else if (!r.high.infinite) {
    high = r.high.value;
    low = high.Sub(span).value_or(high);
  } else {
    // Dates without a range: around the start of 2026.
    const Decimal middle = kind == TypeKind::kDate
                               ? Decimal::FromInt(engine::ParseDate("2026-01-01").value())
                               : Decimal();
    low = middle.Sub(span).value_or(middle);
    high = middle.Add(span).value_or(middle);
  }
  const Decimal fraction =
      Decimal::FromParts(std::uniform_int_distribution<int64_t>(0, 1000000)(rng), 6).value();
  absl::StatusOr<Decimal> sum;
  if (kind != TypeKind::kDate && std::bernoulli_distribution(0.5)(rng)) {
    // Half the draws: a magnitude of 10^e, e uniform up to the bounds'
    // digits, so the bands near zero (days, counts, ratios) are reached as
    // often as the long tail of a wide range.
    const Decimal top = std::max(low.Abs(), high.Abs());
    int digits = 0;
    while (digits < 18 && Pow10(digits) < top) ++digits;
    const int e = std::uniform_int_distribution<int>(Places(kind) > 0 ? -1 : 0, digits)(rng);
    const Decimal scale = e < 0 ? Decimal::FromParts(1, -e).value() : Pow10(e);
    sum = scale.Mul(fraction);
    const bool negative =
        high.is_negative() || (low.is_negative() && std::bernoulli_distribution(0.5)(rng));
    if (sum.ok() && negative) sum = sum->Negate();
  } else {
    // Otherwise uniform: low + (high - low) * fraction.
    absl::StatusOr<Decimal> width = high.Sub(low);
    absl::StatusOr<Decimal> part = width.ok() ? width->Mul(fraction) : width;
    sum = part.ok() ? low.Add(*part) : part;
  }
  if (!sum.ok()) return std::nullopt;
  absl::StatusOr<Decimal> cut = sum->Round(Places(kind), engine::RoundingMode::kFloor);
  if (!cut.ok() || !domain.ContainsValue(*cut)) return std::nullopt;
  return *cut;
}

// One fact for `input`, inside its range.
absl::StatusOr<v1::FactValue> FactFor(const engine::InputSlot& input, std::mt19937_64& rng) {
  const TypeKind kind = input.type.kind;
  v1::FactValue fact;
  if (kind == TypeKind::kBool) {
    fact.set_bool_value(std::bernoulli_distribution(0.5)(rng));
    return fact;
  }
  std::optional<Decimal> v;
  for (int attempt = 0; attempt < 8 && !v; ++attempt) v = Draw(input.range, kind, rng);
  if (!v) {
    const std::optional<engine::Value> example = input.range.Example();
    if (!example) {
      return absl::InternalError(absl::StrCat("input `", input.name, "` has an empty range"));
    }
    v = example->AsDecimal();
  }
  switch (kind) {
    case TypeKind::kInt:
    case TypeKind::kDate:
    case TypeKind::kEnum: {
      absl::StatusOr<int64_t> whole = v->ToInt64();
      if (!whole.ok()) return whole.status();
      if (kind == TypeKind::kInt) {
        fact.set_int_value(*whole);
      } else if (kind == TypeKind::kDate) {
        fact.set_date_value(engine::FormatDate(*whole));
      } else {
        const std::vector<std::string>& symbols = input.type.enum_type->symbols;
        if (*whole < 0 || static_cast<size_t>(*whole) >= symbols.size()) {
          return absl::InternalError(absl::StrCat("no symbol ", *whole, " in `", input.name, "`"));
        }
        fact.set_enum_value(symbols[static_cast<size_t>(*whole)]);
      }
      return fact;
    }
    case TypeKind::kDecimal:
    case TypeKind::kMoney:
    case TypeKind::kPercent:
      // Decimals travel as their exact text.
      fact.set_decimal_value(v->ToString());
      return fact;
    default:
      return absl::UnimplementedError(
          absl::StrCat("input `", input.name, "` has a type the load generator cannot draw"));
  }
}

}  // namespace

absl::StatusOr<Mix> ParseMix(const std::string& text, const engine::Bundle& bundle) {
  Mix mix;
  auto served = [&] {
    std::vector<std::string> names;
    for (const auto& [name, decision] : bundle.decisions) names.push_back(name);
    return absl::StrJoin(names, ", ");
  };
  // Requests go to the version in force now, as an unpinned request does.
  const absl::Time now = absl::Now();
  if (text == "all") {
    for (const auto& [name, decision] : bundle.decisions) {
      if (const engine::BundleVersion* v = decision.InForce(now); v != nullptr) {
        mix.emplace_back(v->policy, 1);
      }
    }
  } else {
    for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
      std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(part, '=');
      int weight = 1;
      if (part.find('=') != absl::string_view::npos &&
          (!absl::SimpleAtoi(kv.second, &weight) || weight < 1 || weight > 1000)) {
        return absl::InvalidArgumentError(absl::StrCat("--mix: the weight of `", kv.first,
                                                       "` must be a whole number from 1 to "
                                                       "1000, not `",
                                                       kv.second, "`"));
      }
      const engine::BundleVersion* v = bundle.InForce(kv.first, now);
      if (v == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--mix: no decision `", kv.first, "` in force in the policies; they have: ", served()));
      }
      mix.emplace_back(v->policy, weight);
    }
  }
  if (mix.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--mix names no decision; the policies have: ", served()));
  }
  return mix;
}

absl::StatusOr<std::vector<v1::EvaluateRequest>> BuildPool(const Mix& mix,
                                                           const PoolOptions& options) {
  if (options.size < 1 || options.customers < 1) {
    return absl::InvalidArgumentError("the pool and the customers must be at least 1");
  }
  // A registry of the mix alone, to decide each request locally.
  auto bundle = std::make_shared<engine::Bundle>();
  std::vector<int> weights;
  for (const auto& [policy, weight] : mix) {
    bundle->decisions[policy->name()].versions.push_back({policy, "", absl::InfinitePast(), {}});
    weights.push_back(weight);
  }
  engine::Registry registry;
  if (absl::Status s = registry.Install(bundle); !s.ok()) return s;

  std::mt19937_64 rng(options.seed);
  std::discrete_distribution<size_t> pick(weights.begin(), weights.end());
  std::uniform_int_distribution<int> customer(0, options.customers - 1);
  std::vector<v1::EvaluateRequest> pool;
  pool.reserve(static_cast<size_t>(options.size));
  for (int k = 0; k < options.size; ++k) {
    const engine::CompiledPolicy& policy = *mix[pick(rng)].first;
    v1::EvaluateRequest request;
    request.set_decision(policy.name());
    request.set_customer_id(absl::StrFormat("C-%06d", customer(rng)));
    for (const engine::InputSlot& input : policy.inputs()) {
      absl::StatusOr<v1::FactValue> fact = FactFor(input, rng);
      if (!fact.ok()) return fact.status();
      (*request.mutable_facts())[input.name] = *std::move(fact);
    }
    v1::Decision decision;
    const server::Decided decided = server::Decide(registry, request, &decision);
    if (!decided.status.ok()) {
      return absl::InternalError(
          absl::StrCat("a drawn request for `", policy.name(), "` is not decided locally: ",
                       decided.status.error_message(), " (", request.ShortDebugString(), ")"));
    }
    pool.push_back(std::move(request));
  }
  return pool;
}

}  // namespace creditd::bench
