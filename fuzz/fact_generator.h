#pragma once

// Facts for a compiled policy's inputs, drawn from fuzz input bytes: values
// of every kind, inside and just outside each declared range, at the edges
// of what the types hold, and hostile text (huge, NUL bytes, invalid UTF-8,
// almost-numbers, impossible dates); inputs left out, given twice, or joined
// by names the policy does not know. Shared by the fuzzers that evaluate.

#include <cstdint>
#include <string>
#include <vector>

#include "engine/compiled_policy.h"
#include "engine/facts.h"
#include "fuzzer/FuzzedDataProvider.h"

namespace creditd::fuzz {

// One generated fact. Text values live here; engine facts point into them.
struct GeneratedFact {
  enum class Kind { kNone, kBool, kInt, kDecimal, kSymbol, kDate };
  std::string name;
  Kind kind = Kind::kNone;  // kNone: a fact without a value (a request's unset oneof)
  bool b = false;
  int64_t i = 0;
  std::string text;
};

// Draws facts for `policy` from `data`. With no data left every choice is
// its first option: each input once, inside its range.
std::vector<GeneratedFact> GenerateFacts(const engine::CompiledPolicy& policy,
                                         FuzzedDataProvider& data);

// What validation must say about a set of facts, worked out here from the
// documented contract (engine/evaluator.h, proto/credit/v1/creditd.proto)
// independently of the evaluator: kValid when every input is given once (or
// left out with a default) in the form its type documents and inside its
// declared range, and nothing else is given; kInvalid when any fact is
// surely refused (unknown, twice, wrong kind, malformed, out of range,
// missing); kUnknown when a fact uses a form the contract does not settle
// (an int as decimal text, a decimal as an int, a date as a symbol).
enum class Verdict { kValid, kInvalid, kUnknown };
Verdict Judge(const engine::CompiledPolicy& policy, const std::vector<GeneratedFact>& facts);

// The facts as the engine takes them (views into `facts`, which must outlive
// the result), mapped as server/decide.cc maps a request: a fact without a
// value is left out when it names an input, and refused otherwise.
engine::Facts ToEngineFacts(const engine::CompiledPolicy& policy,
                            const std::vector<GeneratedFact>& facts);

// Hostile text of every sort a caller can send where a value or a name
// belongs, drawn from `data`.
std::string HostileText(FuzzedDataProvider& data);

// Whether `text` is well-formed UTF-8 (what proto3 string fields carry).
bool IsUtf8(const std::string& text);

}  // namespace creditd::fuzz
