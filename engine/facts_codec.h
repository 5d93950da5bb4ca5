#pragma once

// The one text form of a set of facts: what the decision log stores and
// what replay reads back. docs/audit.md defines it for reviewers.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/facts.h"

namespace creditd::engine {

// The canonical text of `facts`: a JSON object, one member per fact, sorted
// by name (bytewise; facts of one name, which only facts that fail
// validation have, by kind in the order below, then by text), each value an
// object with one member naming its kind and holding its exact text:
//
//   {"amount":{"decimal":"1250000.00"},"blocked":{"bool":"false"},
//    "days":{"int":"47"},"due":{"date":"2026-11-22"},"segment":{"symbol":"new"}}
//
// Kinds: bool ("true", "false"), int (its decimal digits, "-" before a
// negative, no leading zeros), decimal, symbol, date (the text as given).
// No whitespace. In names and texts `"` and `\` are escaped as \" and \\,
// bytes 0x00-0x1f and 0x7f as \u00xx, and each byte that is not part of
// well-formed UTF-8 as \udcxx (xx its value: a lone surrogate, which
// well-formed UTF-8 never holds, as Python's "surrogateescape" writes it);
// every other byte as it is. Hex digits are lowercase. So any bytes come
// back exactly, and the same facts in any order give the same text.
std::string ToCanonicalJson(const Facts& facts);

// Facts read back from their canonical text. Names and texts point into
// storage the object owns: valid while it lives, moves included.
class CanonicalFacts {
 public:
  CanonicalFacts() = default;
  CanonicalFacts(CanonicalFacts&&) = default;
  CanonicalFacts& operator=(CanonicalFacts&&) = default;
  CanonicalFacts(const CanonicalFacts&) = delete;
  CanonicalFacts& operator=(const CanonicalFacts&) = delete;

  const Facts& facts() const { return facts_; }

 private:
  friend absl::StatusOr<CanonicalFacts> FactsFromCanonicalJson(absl::string_view json);

  std::unique_ptr<char[]> text_;  // the unescaped names and texts
  Facts facts_;
};

// Reads facts from `json`, which must be exactly their canonical text
// (ToCanonicalJson of what it reads as: sorted, escaped as above, nothing
// else). InvalidArgument saying what is wrong and at which byte otherwise.
absl::StatusOr<CanonicalFacts> FactsFromCanonicalJson(absl::string_view json);

}  // namespace creditd::engine
