#pragma once

// Helpers for engine tests: compile policy text from memory, build facts.

#include <map>
#include <memory>
#include <string>

#include "dsl/diagnostic.h"
#include "engine/checker.h"
#include "engine/compiler.h"
#include "engine/evaluator.h"
#include "gtest/gtest.h"

namespace creditd::engine::testing {

// Serves files from memory.
class MemoryReader : public FileReader {
 public:
  explicit MemoryReader(std::map<std::string, std::string> files) : files_(std::move(files)) {}
  absl::StatusOr<std::string> Read(const std::string& path) override {
    auto it = files_.find(path);
    if (it == files_.end()) return absl::NotFoundError(path);
    return it->second;
  }

 private:
  std::map<std::string, std::string> files_;
};

// Checks and compiles `text` (as "test.credit", with `libraries` importable
// by their names). Fails the test with the diagnostics on any error.
inline std::shared_ptr<const CompiledPolicy> CompileText(
    const std::string& text, std::map<std::string, std::string> libraries = {}) {
  libraries["test.credit"] = text;
  MemoryReader reader(std::move(libraries));
  dsl::DiagnosticSink sink;
  absl::StatusOr<std::unique_ptr<CheckedPolicy>> checked =
      LoadAndCheck("test.credit", reader, sink);
  if (!checked.ok()) {
    ADD_FAILURE() << checked.status();
    return nullptr;
  }
  if (sink.has_errors()) {
    ADD_FAILURE() << dsl::FormatDiagnostics(sink, (*checked)->program->sources);
    return nullptr;
  }
  absl::StatusOr<std::shared_ptr<const CompiledPolicy>> compiled = Compile(*std::move(checked));
  if (!compiled.ok()) {
    ADD_FAILURE() << compiled.status();
    return nullptr;
  }
  return *compiled;
}

// The standard header for test policies.
inline std::string Header(const std::string& name = "t") {
  return "policy " + name + "\n  version 1.0.0\n  effective 2026-01-01\n\n";
}

// An output's value as policy text ("500000", "B", "{collateral}").
inline std::string Out(const Decision& d, const std::string& name) {
  const OutputValue* o = d.Output(name);
  if (o == nullptr) return "<no such output>";
  if (!o->has_value) return "<no value>";
  return FormatValue(o->value, o->type);
}

}  // namespace creditd::engine::testing
