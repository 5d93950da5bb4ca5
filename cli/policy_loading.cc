#include "cli/policy_loading.h"

#include <filesystem>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "audit/sqlite_audit.h"
#include "dsl/diagnostic.h"
#include "engine/checker.h"
#include "engine/compiler.h"
#include "engine/value.h"
#include "engine/versions.h"

namespace creditd::cli {

absl::StatusOr<absl::CivilDay> ParseAsOf(const std::string& text) {
  absl::StatusOr<int64_t> days = engine::ParseDate(text);
  if (!days.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--as-of `", text, "` is not a date such as 2026-01-01"));
  }
  return absl::CivilDay(1970, 1, 1) + *days;
}

absl::StatusOr<engine::BundleLoad> LoadDirectory(const std::string& dir, const std::string& audit,
                                                 engine::Registry& registry, Context& context,
                                                 const engine::BundleOptions& options) {
  if (!audit.empty()) {
    absl::StatusOr<std::vector<audit::StoredPolicy>> stored = audit::ReadStoredVersions(audit);
    if (!stored.ok()) {
      context.err << "creditctl: " << stored.status().message() << "\n";
      context.exit_code = kExitUsage;
      return stored.status();
    }
    std::vector<engine::StoredVersion> versions;
    for (audit::StoredPolicy& p : *stored) {
      versions.push_back({std::move(p.name), std::move(p.version), std::move(p.sha256),
                          std::move(p.source), p.canonical_form, std::move(p.first_served)});
    }
    if (absl::Status status = registry.Restore(versions); !status.ok()) {
      context.err << "creditctl: " << audit << ": " << status.message() << "\n";
      context.exit_code = kExitFailure;
      return status;
    }
  }
  engine::DiskFileReader reader;
  absl::StatusOr<engine::BundleLoad> load = engine::LoadBundle(dir, reader, options);
  if (!load.ok()) {
    context.err << "creditctl: " << dir << ": " << load.status().message() << "\n";
    context.exit_code = kExitUsage;
    return load.status();
  }
  registry.Bind(*load);
  if (load->bundle != nullptr) {
    if (absl::Status status = registry.Install(load->bundle); !status.ok()) {
      context.err << "creditctl: " << status.message() << "\n";
      context.exit_code = kExitFailure;
      return status;
    }
  }
  return load;
}

namespace {

// The version of decision `name` in force on `day` among those `registry`
// holds (the directory's and the log's).
absl::StatusOr<std::shared_ptr<const engine::CompiledPolicy>> InForceOn(
    const engine::Registry& registry, const std::string& dir, const std::string& name,
    absl::CivilDay day, Context& context) {
  // The registry's zone is UTC, as the loads': an effective date is in force
  // on a day when it is not after it.
  const absl::Time start = absl::FromCivil(day, registry.zone());
  std::vector<engine::VersionInfo> all = registry.Versions();
  const engine::VersionInfo* best = nullptr;
  const engine::VersionInfo* first = nullptr;
  std::vector<std::string> names;
  for (const engine::VersionInfo& v : all) {
    const std::string& decision = v.policy->name();
    if (names.empty() || names.back() != decision) names.push_back(decision);
    if (decision != name) continue;
    if (first == nullptr || v.effective < first->effective) first = &v;
    if (v.effective > start) continue;
    if (best == nullptr || v.effective > best->effective ||
        (v.effective == best->effective &&
         engine::CompareVersions(v.policy->id().version, best->policy->id().version) > 0)) {
      best = &v;
    }
  }
  if (best != nullptr) return best->policy;
  if (first == nullptr) {
    if (name.empty()) {
      context.err << "creditctl: " << dir << " is a directory: say which decision with "
                  << "--decision NAME";
    } else {
      context.err << "creditctl: no policy `" << name << "` in " << dir;
    }
    if (!names.empty()) {
      context.err << " (it has:";
      for (const std::string& n : names) context.err << " " << n;
      context.err << ")";
    }
    context.err << "\n";
    context.exit_code = kExitUsage;
    return absl::NotFoundError("no such decision");
  }
  context.err << "creditctl: no version of `" << name << "` is in force on "
              << absl::FormatCivilTime(day) << ": the first, " << first->policy->id().version
              << ", is effective " << first->policy->checked().effective << "\n";
  context.exit_code = kExitFailure;
  return absl::NotFoundError("no version in force");
}

}  // namespace

absl::StatusOr<std::shared_ptr<const engine::CompiledPolicy>> LoadDecision(
    const std::string& path, const std::string& name, Context& context,
    const VersionChoice& choice) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    // As creditd loads it: the same verdict, the same version.
    engine::Registry registry;
    absl::StatusOr<engine::BundleLoad> load = LoadDirectory(path, choice.audit, registry, context);
    if (!load.ok()) return load.status();
    if (load->bundle == nullptr) {
      context.err << load->report << load->errors << (load->errors == 1 ? " error" : " errors")
                  << " in " << path << "\n";
      context.exit_code = kExitFailure;
      return absl::FailedPreconditionError("the policy directory has errors");
    }
    const absl::CivilDay day =
        choice.as_of ? *choice.as_of : absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
    return InForceOn(registry, path, name, day, context);
  }
  if (choice.as_of || !choice.audit.empty()) {
    context.err << "creditctl: --as-of and --audit pick a version from a policy directory; " << path
                << " is a file\n";
    context.exit_code = kExitUsage;
    return absl::InvalidArgumentError("not a directory");
  }
  const std::string& file = path;
  engine::DiskFileReader reader;
  dsl::DiagnosticSink sink;
  absl::StatusOr<std::unique_ptr<engine::CheckedPolicy>> checked =
      engine::LoadAndCheck(file, reader, sink);
  if (!checked.ok()) {
    if (!sink.diagnostics().empty()) {
      context.err << "creditctl: " << file << " does not parse\n";
    } else {
      context.err << "creditctl: " << checked.status().message() << "\n";
    }
    context.exit_code = kExitUsage;
    return checked.status();
  }
  if (sink.has_errors()) {
    context.err << dsl::FormatDiagnostics(sink, (*checked)->program->sources);
    context.exit_code = kExitFailure;
    return absl::FailedPreconditionError("the policy has errors");
  }
  if (!name.empty() && (*checked)->name != name) {
    context.err << "creditctl: " << file << " defines `" << (*checked)->name << "`, not `" << name
                << "`\n";
    context.exit_code = kExitUsage;
    return absl::NotFoundError("no such decision");
  }
  absl::StatusOr<std::shared_ptr<const engine::CompiledPolicy>> compiled =
      engine::Compile(*std::move(checked));
  if (!compiled.ok()) {
    context.err << "creditctl: " << compiled.status().message() << "\n";
    context.exit_code = kExitUsage;
  }
  return compiled;
}

void AddFacts(const FactsJson& document, const rapidjson::Value& object,
              const engine::CompiledPolicy& policy, const rapidjson::Value* skip,
              engine::Facts* facts) {
  for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) {
    if (skip != nullptr && skip->IsObject() && skip->HasMember(it->name)) continue;
    const absl::string_view name(it->name.GetString(), it->name.GetStringLength());
    const rapidjson::Value& v = it->value;
    if (v.IsNull()) continue;
    const int input = policy.FindInput(name);
    const engine::TypeKind kind = input >= 0 ? policy.inputs()[static_cast<size_t>(input)].type.kind
                                             : engine::TypeKind::kError;
    if (v.IsBool()) {
      facts->Add(name, engine::FactValue::Bool(v.GetBool()));
    } else if (v.IsInt64()) {
      facts->Add(name, engine::FactValue::Int(v.GetInt64()));
    } else if (v.IsString()) {
      const absl::string_view text(v.GetString(), v.GetStringLength());
      if (document.IsDecimalNumber(v)) {
        facts->Add(name, engine::FactValue::Decimal(text));
        continue;
      }
      switch (kind) {
        case engine::TypeKind::kEnum:
          facts->Add(name, engine::FactValue::Symbol(text));
          break;
        case engine::TypeKind::kDate:
          facts->Add(name, engine::FactValue::Date(text));
          break;
        default:
          facts->Add(name, engine::FactValue::Decimal(text));
      }
    } else {
      // Arrays and objects: hand over a marker the validator will refuse.
      facts->Add(name, engine::FactValue::Symbol(v.IsArray() ? "[...]" : "{...}"));
    }
  }
}

absl::Status ParseFacts(const std::string& json, const engine::CompiledPolicy& policy,
                        FactsJson* document, engine::Facts* facts) {
  if (absl::Status status = document->Parse(json); !status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the facts are not valid JSON: ", status.message()));
  }
  if (!document->root().IsObject()) {
    return absl::InvalidArgumentError("the facts must be a JSON object of name: value");
  }
  AddFacts(*document, document->root(), policy, nullptr, facts);
  return absl::OkStatus();
}

absl::Status ReadFacts(const std::string& path, const engine::CompiledPolicy& policy,
                       FactsJson* document, engine::Facts* facts) {
  std::string json;
  if (path == "-") {
    json.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    absl::StatusOr<std::string> text = ReadFile(path);
    if (!text.ok()) return text.status();
    json = *std::move(text);
  }
  // The document copies every string, which the facts then point into.
  return ParseFacts(json, policy, document, facts);
}

}  // namespace creditd::cli
