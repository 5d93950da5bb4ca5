#pragma once

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "rapidjson/document.h"

namespace creditd::cli {

// A JSON document read so that every number keeps its exact meaning: the
// reader of fact files, policy test files and the audit log's facts. A JSON
// integer (`6`, `-12`) becomes an int64 value; one outside the int64 range
// is an error, not a rounded double. A number with a fraction (`6.00`,
// `0.55`) is kept as its text, in a string value the document remembers was
// written as a number (IsDecimalNumber). A number with an exponent (`1e6`)
// is an error: its digits are not what a person reads. No number passes
// through binary floating point.
class FactsJson {
 public:
  FactsJson() = default;
  FactsJson(const FactsJson&) = delete;
  FactsJson& operator=(const FactsJson&) = delete;

  // Parses `json` (which need not outlive the document). InvalidArgument
  // saying what is wrong and at which byte; a number is named cut short.
  absl::Status Parse(absl::string_view json);

  // The document's top value (null before a successful Parse).
  const rapidjson::Value& root() const { return document_; }

  // Was `value`, a value of this document, written as a number with a
  // fraction? Such values are strings holding the number's text.
  bool IsDecimalNumber(const rapidjson::Value& value) const;

 private:
  rapidjson::Document document_;
  // The texts of numbers with a fraction, by address: they are allocated
  // apart from every other string, so no JSON string can share one.
  absl::flat_hash_set<const char*> decimal_numbers_;
};

}  // namespace creditd::cli
