// Check: the checker's passes in order (engine/check_context.h says what
// each owns), then the static analysis.
#include "engine/checker.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "engine/check_context.h"

namespace creditd::engine {

namespace {

int Lookup(const absl::flat_hash_map<std::string, int>& index, const std::string& name) {
  auto it = index.find(name);
  return it == index.end() ? -1 : it->second;
}

}  // namespace

int CheckedPolicy::FindReason(const std::string& code) const { return Lookup(reason_index, code); }

int CheckedPolicy::FindOutput(const std::string& output_name) const {
  return Lookup(output_index, output_name);
}

int CheckedPolicy::FindInput(const std::string& input_name) const {
  return Lookup(input_index, input_name);
}

namespace check {

std::string Quoted(const std::string& name) { return absl::StrCat("`", name, "`"); }

std::string T(const Type& type) { return Quoted(TypeName(type)); }

std::string Where(const dsl::SourceSet& sources, const dsl::SourceSpan& span) {
  if (!span.known()) return "elsewhere";
  return absl::StrCat(sources.file(span.file).path(), ":", span.line, ":", span.column);
}

CheckContext::CheckContext(std::unique_ptr<Program> program, dsl::DiagnosticSink& diagnostics,
                           const CheckOptions& check_options)
    : sink(diagnostics), options(check_options), policy(std::make_unique<CheckedPolicy>()) {
  policy->program = std::move(program);
}

}  // namespace check

namespace {

// The passes, in the order their diagnostics come out: declarations and
// names first, then the definitions in definition order, the inputs'
// ranges, the outputs' values, the rules, and what is never set or used.
void RunPasses(check::CheckContext& ctx) {
  check::CheckHeader(ctx);
  check::CollectDeclarations(ctx);
  check::ResolveEnumsAndReasons(ctx);
  check::ResolveInputs(ctx);
  check::ResolveOutputs(ctx);
  check::ResolveOutcome(ctx);
  check::OrderDefinitions(ctx);
  check::CheckDefinitions(ctx);
  check::CheckInputRanges(ctx);
  check::CheckOutputValues(ctx);
  check::OrderOutputs(ctx);
  check::CheckRules(ctx);
  check::CheckMessages(ctx);
  check::CheckOutputsAreSet(ctx);
  check::CheckUnused(ctx);
  // The definitions, in declaration order.
  ctx.policy->lets = std::move(ctx.let_infos);
  ctx.policy->bands = std::move(ctx.band_infos);
  ctx.policy->tables = std::move(ctx.table_infos);
  ctx.policy->scorecards = std::move(ctx.scorecard_infos);
}

}  // namespace

absl::StatusOr<std::unique_ptr<CheckedPolicy>> Check(std::unique_ptr<Program> program,
                                                     dsl::DiagnosticSink& sink,
                                                     const CheckOptions& options) {
  if (program == nullptr || program->files.empty()) {
    return absl::FailedPreconditionError("the policy file did not parse; nothing to check");
  }
  const int errors_before = sink.error_count();
  check::CheckContext ctx(std::move(program), sink, options);
  RunPasses(ctx);
  std::unique_ptr<CheckedPolicy> policy = std::move(ctx.policy);
  // A table too large to serve (E0319) is no defect of the policy's
  // meaning: the analysis still says what it can about it.
  if (sink.error_count() - errors_before == ctx.too_large) {
    policy->analysis_work = Analyze(*policy, sink, options);
  }
  return policy;
}

absl::StatusOr<std::unique_ptr<CheckedPolicy>> LoadAndCheck(const std::string& path,
                                                            FileReader& reader,
                                                            dsl::DiagnosticSink& sink,
                                                            const CheckOptions& options) {
  absl::StatusOr<std::unique_ptr<Program>> program = LoadProgram(path, reader, sink);
  if (!program.ok()) return program.status();
  if (sink.has_errors()) {
    // Syntax and import errors first: checking a partial program would only
    // add errors that follow from them.
    auto policy = std::make_unique<CheckedPolicy>();
    policy->program = *std::move(program);
    return policy;
  }
  return Check(*std::move(program), sink, options);
}

}  // namespace creditd::engine
