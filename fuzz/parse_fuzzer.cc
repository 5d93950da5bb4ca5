// libFuzzer target: any bytes through the policy parser must not crash,
// hang or leak.
#include <cstddef>
#include <cstdint>
#include <string>

#include "dsl/diagnostic.h"
#include "dsl/parser.h"
#include "dsl/source.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  creditd::dsl::SourceSet sources;
  const int file =
      sources.Add("fuzz.credit", std::string(reinterpret_cast<const char*>(data), size));
  creditd::dsl::DiagnosticSink sink;
  (void)creditd::dsl::CheckSyntax(sources, file, sink);
  (void)creditd::dsl::FormatDiagnostics(sink, sources);
  return 0;
}
