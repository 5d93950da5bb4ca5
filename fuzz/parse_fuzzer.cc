// libFuzzer target: any bytes through the parser, the checker, the static
// analysis and the formatter must not crash, hang or leak. Imports resolve
// to nothing, so each input is one file.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "dsl/diagnostic.h"
#include "dsl/formatter.h"
#include "dsl/parser.h"
#include "engine/checker.h"

namespace {

class NoImports : public creditd::engine::FileReader {
 public:
  explicit NoImports(std::string text) : text_(std::move(text)) {}
  absl::StatusOr<std::string> Read(const std::string& path) override {
    if (path == "fuzz.credit") return text_;
    return absl::NotFoundError("no imports while fuzzing");
  }

 private:
  std::string text_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  NoImports reader(text);
  creditd::dsl::DiagnosticSink sink;
  absl::StatusOr<std::unique_ptr<creditd::engine::CheckedPolicy>> policy =
      creditd::engine::LoadAndCheck("fuzz.credit", reader, sink);
  if (policy.ok()) {
    const creditd::dsl::SourceSet& sources = (*policy)->program->sources;
    (void)creditd::dsl::FormatDiagnostics(sink, sources);
    if (!(*policy)->program->files.empty()) {
      (void)creditd::dsl::Format(*(*policy)->program->files[0], sources.file(0));
    }
  }
  return 0;
}
