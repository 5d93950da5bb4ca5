// libFuzzer target: the facts' canonical text (engine/facts_codec.h), what
// the decision log stores and replay reads. Each input is used twice: as
// text for the decoder, and as choices that build facts of any bytes for the
// encoder. These must hold:
//
// - decoding never crashes; it refuses with INVALID_ARGUMENT and a message,
//   or reads facts whose canonical text is exactly the input (one text per
//   set of facts, nothing else accepted);
// - any facts encode to text that decodes to the same facts, and encode
//   alike in any order;
// - the text is strict JSON when every name and text is well-formed UTF-8
//   (bytes that are not are escaped as lone surrogates, which strict JSON
//   readers refuse).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/facts_codec.h"
#include "fuzz/fact_generator.h"
#include "fuzz/fuzz_support.h"
#include "fuzzer/FuzzedDataProvider.h"

namespace creditd::fuzz {
namespace {

void CheckDecode(const std::string& text) {
  absl::StatusOr<engine::CanonicalFacts> decoded = engine::FactsFromCanonicalJson(text);
  if (!decoded.ok()) {
    Check(absl::IsInvalidArgument(decoded.status()) && !decoded.status().message().empty(),
          "text that is not canonical is INVALID_ARGUMENT with a message",
          [&] { return decoded.status().ToString(); });
    return;
  }
  Check(engine::ToCanonicalJson(decoded->facts()) == text,
        "only the canonical text of some facts decodes", [&] { return text; });
}

void CheckEncode(FuzzedDataProvider& data) {
  std::vector<std::string> texts;
  const size_t n = data.ConsumeIntegralInRange<size_t>(0, 16);
  texts.reserve(2 * n);
  engine::Facts facts;
  bool utf8 = true;
  // At most 64 KiB of names and texts in all. Thirty-two texts of up to
  // 256 KiB, escaped up to six bytes a byte, encoded three times and parsed
  // once took 9.7 s in the unoptimised sanitizer build, near the smoke
  // run's 10 s limit per input, and longer ones say nothing more.
  constexpr size_t kMaxTextBytes = 64 << 10;
  size_t text_bytes = 0;
  auto bounded = [&text_bytes](std::string text) {
    text.resize(std::min(text.size(), kMaxTextBytes - text_bytes));
    text_bytes += text.size();
    return text;
  };
  for (size_t k = 0; k < n; ++k) {
    // A name used before, now and then: facts that fail validation may
    // repeat one.
    texts.push_back(k > 0 && data.ConsumeBool() ? texts[2 * (k - 1)] : bounded(HostileText(data)));
    const std::string& name = texts.back();
    texts.push_back(bounded(HostileText(data)));
    const std::string& text = texts.back();
    utf8 = utf8 && IsUtf8(name);
    engine::FactValue value;
    switch (data.ConsumeIntegralInRange<int>(0, 4)) {
      case 0:
        value = engine::FactValue::Bool(data.ConsumeBool());
        break;
      case 1:
        value = engine::FactValue::Int(data.ConsumeIntegral<int64_t>());
        break;
      case 2:
        value = engine::FactValue::Decimal(text);
        utf8 = utf8 && IsUtf8(text);
        break;
      case 3:
        value = engine::FactValue::Symbol(text);
        utf8 = utf8 && IsUtf8(text);
        break;
      default:
        value = engine::FactValue::Date(text);
        utf8 = utf8 && IsUtf8(text);
    }
    facts.Add(name, value);
  }
  const std::string json = engine::ToCanonicalJson(facts);
  absl::StatusOr<engine::CanonicalFacts> decoded = engine::FactsFromCanonicalJson(json);
  Check(decoded.ok(), "canonical text decodes",
        [&] { return absl::StrCat(decoded.status().message(), "\n", json); });
  Check(Sorted(decoded->facts()) == Sorted(facts), "canonical text decodes to the same facts",
        [&] { return json; });
  engine::Facts reversed;
  for (auto it = facts.all().rbegin(); it != facts.all().rend(); ++it) {
    reversed.Add(it->name, it->value);
  }
  Check(engine::ToCanonicalJson(reversed) == json, "facts in another order encode alike",
        [&] { return json; });
  if (utf8) Check(IsStrictJson(json), "UTF-8 facts encode as strict JSON", [&] { return json; });
}

int TestOneInput(const uint8_t* data, size_t size) {
  CheckDecode(std::string(reinterpret_cast<const char*>(data), size));
  FuzzedDataProvider provider(data, size);
  CheckEncode(provider);
  return 0;
}

}  // namespace
}  // namespace creditd::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return creditd::fuzz::TestOneInput(data, size);
}
