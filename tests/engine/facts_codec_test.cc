#include "engine/facts_codec.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace creditd::engine {
namespace {

using ::testing::HasSubstr;

// Facts whose texts live in the object.
struct OwnedFacts {
  std::vector<std::string> texts;  // reserved up front: views stay valid
  Facts facts;
};

// An order independent of the codec's, to compare facts as multisets.
bool TestOrder(const Fact& a, const Fact& b) {
  if (a.name != b.name) return a.name < b.name;
  if (a.value.kind != b.value.kind) return a.value.kind < b.value.kind;
  if (a.value.b != b.value.b) return a.value.b < b.value.b;
  if (a.value.i != b.value.i) return a.value.i < b.value.i;
  return a.value.text < b.value.text;
}

std::vector<Fact> Sorted(const Facts& facts) {
  std::vector<Fact> out = facts.all();
  std::sort(out.begin(), out.end(), TestOrder);
  return out;
}

// Text of every sort a caller could send: plain, empty, quotes and
// backslashes, control characters and NUL, DEL, well-formed UTF-8 of every
// length, and bytes that are not UTF-8 (lone continuation bytes, overlong
// forms, encoded surrogates, sequences cut short, bytes no UTF-8 uses).
std::string RandomText(std::mt19937& random) {
  static const char* const kPieces[] = {"a",
                                        "segment",
                                        "1250000.00",
                                        "-0.5",
                                        "55%",
                                        "2026-11-22",
                                        "\"",
                                        "\\",
                                        "\\u0000",
                                        "\n",
                                        "\t",
                                        "\x7f",
                                        "\x1b",
                                        "/",
                                        "\xc3\xa9",
                                        "\xe2\x82\xac",
                                        "\xf0\x9f\x92\xb6",
                                        "\x80",
                                        "\xbf",
                                        "\xc0\xaf",
                                        "\xc1",
                                        "\xe0\x80\xaf",
                                        "\xed\xa0\x80",
                                        "\xed\x9f\xbf",
                                        "\xe2\x82",
                                        "\xf4\x90\x80\x80",
                                        "\xf5",
                                        "\xff",
                                        "\xfe",
                                        "udc80",
                                        "{\"a\":{\"int\":\"1\"}}"};
  std::uniform_int_distribution<int> length(0, 6);
  std::uniform_int_distribution<size_t> piece(0, std::size(kPieces));
  std::uniform_int_distribution<int> byte(0, 255);
  std::string text;
  for (int n = length(random); n > 0; --n) {
    const size_t k = piece(random);
    if (k == std::size(kPieces)) {
      text.push_back(static_cast<char>(byte(random)));  // any byte, NUL included
    } else {
      text += kPieces[k];
    }
  }
  return text;
}

OwnedFacts RandomFacts(std::mt19937& random) {
  OwnedFacts out;
  std::uniform_int_distribution<int> count(0, 12);
  const int n = count(random);
  out.texts.reserve(2 * static_cast<size_t>(n));
  std::uniform_int_distribution<int> kind(0, 4);
  std::uniform_int_distribution<int> which_int(0, 3);
  std::uniform_int_distribution<int64_t> any_int(INT64_MIN, INT64_MAX);
  for (int k = 0; k < n; ++k) {
    // Sometimes a name given before: facts that fail validation can hold
    // one name twice, and the codec keeps them.
    if (k > 0 && random() % 5 == 0) {
      out.texts.push_back(out.texts[2 * static_cast<size_t>(random() % static_cast<unsigned>(k))]);
    } else {
      out.texts.push_back(RandomText(random));
    }
    const absl::string_view name = out.texts.back();
    out.texts.push_back(RandomText(random));
    const absl::string_view text = out.texts.back();
    switch (kind(random)) {
      case 0:
        out.facts.Add(name, FactValue::Bool(random() % 2 == 0));
        break;
      case 1: {
        static constexpr int64_t kEdges[] = {0, -1, INT64_MIN, INT64_MAX};
        const int w = which_int(random);
        out.facts.Add(name, FactValue::Int(w == 3 ? any_int(random) : kEdges[w]));
        break;
      }
      case 2:
        out.facts.Add(name, FactValue::Decimal(text));
        break;
      case 3:
        out.facts.Add(name, FactValue::Symbol(text));
        break;
      default:
        out.facts.Add(name, FactValue::Date(text));
    }
  }
  return out;
}

TEST(FactsCodecTest, WritesTheDocumentedForm) {
  Facts facts;
  facts.Add("segment", FactValue::Symbol("new"))
      .Add("amount", FactValue::Decimal("1250000.00"))
      .Add("due", FactValue::Date("2026-11-22"))
      .Add("days", FactValue::Int(47))
      .Add("blocked", FactValue::Bool(false));
  EXPECT_EQ(ToCanonicalJson(facts),
            R"({"amount":{"decimal":"1250000.00"},"blocked":{"bool":"false"},)"
            R"("days":{"int":"47"},"due":{"date":"2026-11-22"},"segment":{"symbol":"new"}})");
  EXPECT_EQ(ToCanonicalJson(Facts()), "{}");
  Facts ints;
  ints.Add("a", FactValue::Int(INT64_MIN)).Add("b", FactValue::Int(0));
  EXPECT_EQ(ToCanonicalJson(ints), R"({"a":{"int":"-9223372036854775808"},"b":{"int":"0"}})");
}

TEST(FactsCodecTest, EscapesHostileTextAndReadsBackTheSameBytes) {
  struct Case {
    std::string text;
    std::string written;  // inside the quotes
  };
  const std::vector<Case> cases = {
      {"say \"hi\"", R"(say \"hi\")"},
      {"C:\\path", R"(C:\\path)"},
      {std::string("a\0b", 3), R"(a\u0000b)"},
      {"line\nbreak\ttab\r\x1b[31m", R"(line\u000abreak\u0009tab\u000d\u001b[31m)"},
      {"del\x7f", R"(del\u007f)"},
      {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\xb6", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\xb6"},
      {"\xff\xfe", R"(\udcff\udcfe)"},
      {"\x80", R"(\udc80)"},
      {"\xc0\xaf", R"(\udcc0\udcaf)"},                      // an overlong "/"
      {"\xed\xa0\x80", R"(\udced\udca0\udc80)"},            // an encoded surrogate
      {"\xf4\x90\x80\x80", R"(\udcf4\udc90\udc80\udc80)"},  // past U+10FFFF
      {"12\xe2\x82", R"(12\udce2\udc82)"},                  // cut short
      {"\xe2\x82\xac\xe2\x82",
       "\xe2\x82\xac"
       R"(\udce2\udc82)"},
      {"/ <\\u0041>", R"(/ <\\u0041>)"},
  };
  for (const Case& c : cases) {
    Facts facts;
    facts.Add(c.text, FactValue::Symbol(c.text));
    const std::string json = ToCanonicalJson(facts);
    EXPECT_EQ(json, "{\"" + c.written + "\":{\"symbol\":\"" + c.written + "\"}}");
    absl::StatusOr<CanonicalFacts> back = FactsFromCanonicalJson(json);
    ASSERT_TRUE(back.ok()) << back.status() << "\n" << json;
    ASSERT_EQ(back->facts().all().size(), 1u);
    EXPECT_EQ(back->facts().all()[0].name, c.text);
    EXPECT_EQ(back->facts().all()[0].value, FactValue::Symbol(c.text));
  }
}

TEST(FactsCodecTest, ManyGeneratedFactSetsRoundTrip) {
  std::mt19937 random(20261122);
  for (int round = 0; round < 5000; ++round) {
    const OwnedFacts original = RandomFacts(random);
    const std::string json = ToCanonicalJson(original.facts);
    absl::StatusOr<CanonicalFacts> decoded = FactsFromCanonicalJson(json);
    ASSERT_TRUE(decoded.ok()) << decoded.status() << "\n" << json;
    EXPECT_EQ(Sorted(decoded->facts()), Sorted(original.facts)) << json;
    // Decoded facts come in canonical order: encoding them again is the
    // identity.
    EXPECT_EQ(ToCanonicalJson(decoded->facts()), json);
  }
}

TEST(FactsCodecTest, TheSameFactsInAnyOrderGiveTheSameBytes) {
  std::mt19937 random(7);
  for (int round = 0; round < 1000; ++round) {
    const OwnedFacts original = RandomFacts(random);
    const std::string json = ToCanonicalJson(original.facts);
    std::vector<Fact> shuffled = original.facts.all();
    for (int k = 0; k < 3; ++k) {
      std::shuffle(shuffled.begin(), shuffled.end(), random);
      Facts again;
      for (const Fact& f : shuffled) again.Add(f.name, f.value);
      ASSERT_EQ(ToCanonicalJson(again), json);
    }
  }
}

TEST(FactsCodecTest, DecodedFactsOutliveAMove) {
  Facts facts;
  facts.Add("segment", FactValue::Symbol("a long enough symbol to live on the heap"));
  absl::StatusOr<CanonicalFacts> decoded = FactsFromCanonicalJson(ToCanonicalJson(facts));
  ASSERT_TRUE(decoded.ok());
  CanonicalFacts moved = *std::move(decoded);
  CanonicalFacts again;
  again = std::move(moved);
  EXPECT_EQ(again.facts().all(), facts.all());
}

TEST(FactsCodecTest, RefusesAnythingButTheCanonicalText) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "expected a JSON object of facts at byte 0"},
      {"[]", "expected a JSON object of facts"},
      {"{} ", "expected nothing after the object at byte 2"},
      {"{", "expected a fact's name"},
      {R"({"a":{"int":"1"})", "expected `,` or `}`"},
      {R"({"a":{"int":"1"},})", "expected a fact's name"},
      {R"({"a":{"money":"1"}})", "expected bool, int, decimal, symbol or date at byte 6"},
      {R"({"a":{"bool":"yes"}})", R"(expected "true" or "false" at byte 13)"},
      {R"({"a":{"bool":true}})", "expected the value's text as a JSON string"},
      {R"({"a":{"int":1}})", "expected the value's text as a JSON string"},
      {R"({"a":{"int":"99999999999999999999"}})", "a whole number in the 64-bit range"},
      {R"({"a":{"int":"1","x":"y"}})", "expected `}` after the value"},
      {R"({"a":{"symbol":"\n"}})", "expected the value's text as a JSON string"},
      {R"({"a":{"symbol":"\u0041"}})", "differ from their canonical text"},
      {R"({"a":{"symbol":"\u000A"}})", "expected the value's text as a JSON string"},
      {R"({"a":{"symbol":"\udc41"}})", "expected the value's text as a JSON string"},
      {R"({"a":{"symbol":"\ud800"}})", "expected the value's text as a JSON string"},
      {"{\"a\":{\"symbol\":\"\x01\"}}", "differ from their canonical text at byte 16"},
      {"{\"a\":{\"symbol\":\"\xff\"}}", "differ from their canonical text at byte 16"},
      // Order, whitespace and needless forms.
      {R"({"b":{"int":"1"},"a":{"int":"1"}})", "differ from their canonical text at byte 2"},
      {R"({"a":{"int":"2"},"a":{"int":"10"}})", "differ from their canonical text"},
      {R"({"a":{"int":"01"}})", "differ from their canonical text at byte 13"},
      {R"({"a":{"int":"+1"}})", "differ from their canonical text at byte 13"},
      {R"({"a":{"int":"-0"}})", "differ from their canonical text at byte 13"},
      {R"({ "a":{"int":"1"}})", "expected a fact's name"},
  };
  for (const auto& [json, error] : cases) {
    absl::StatusOr<CanonicalFacts> decoded = FactsFromCanonicalJson(json);
    ASSERT_FALSE(decoded.ok()) << json;
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(decoded.status().message()), HasSubstr(error)) << json;
    EXPECT_THAT(std::string(decoded.status().message()), HasSubstr("not in canonical form"))
        << json;
  }
  // A name of one kind twice is kept when sorted ("10" before "2" by text).
  EXPECT_TRUE(FactsFromCanonicalJson(R"({"a":{"int":"10"},"a":{"int":"2"}})").ok());
}

}  // namespace
}  // namespace creditd::engine
