#pragma once

// What the fuzzers share: the reference policies loaded once, a strict JSON
// check, and a way to stop with a message when an invariant breaks.

#include <memory>
#include <string>
#include <vector>

#include "engine/bundle.h"
#include "engine/compiled_policy.h"
#include "engine/evaluator.h"
#include "engine/facts.h"

namespace creditd::fuzz {

// The policy directory: $CREDITD_POLICIES, or the source tree's policies/.
std::string PolicyDirectory();

// Loads the policy directory once; aborts with the report when it does not
// load (the fuzzers cannot run without it).
std::shared_ptr<const engine::Bundle> ReferenceBundle();

// Every version of the bundle's decisions, by name, then in effective order.
std::vector<std::shared_ptr<const engine::CompiledPolicy>> ReferencePolicies();

// Evaluation options for the fuzzers: a fixed evaluation date, so that a
// policy reading `today` (edition 2) is evaluated, and the same way on
// every day; traced when asked.
engine::EvalOptions FuzzEvalOptions(bool trace = false);

// `facts` in an order of their own (by name and value), not the codec's:
// two sets of facts compare as multisets by their Sorted.
std::vector<engine::Fact> Sorted(const engine::Facts& facts);

// Whether `text` is one JSON value, well-formed UTF-8, and nothing after it.
bool IsStrictJson(const std::string& text);

// Whether the fuzzer runs the check `name` of a defect known and not fixed
// yet: $CREDITD_FUZZ_STRICT lists the names, comma-separated, or is "all".
// fuzz/README.md lists them.
bool Strict(const char* name);

// Whether to print what each input did ($CREDITD_FUZZ_VERBOSE=1), to see
// what a reproducer or a seed exercises.
bool Verbose();

// Prints "invariant broken: `what`" and `detail`, then aborts, so libFuzzer
// saves the input.
[[noreturn]] void Fail(const std::string& what, const std::string& detail = "");

// Aborts with `what` unless `ok`.
inline void Check(bool ok, const char* what) {
  if (!ok) Fail(what);
}

// The same with a detail, built by calling `detail` only when the check
// fails: details echo whole messages and facts, too costly to build on
// every input.
template <typename Detail>
void Check(bool ok, const char* what, const Detail& detail) {
  if (!ok) Fail(what, detail());
}

}  // namespace creditd::fuzz
