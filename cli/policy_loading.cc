#include "cli/policy_loading.h"

#include <filesystem>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "dsl/diagnostic.h"
#include "engine/checker.h"
#include "engine/compiler.h"

namespace creditd::cli {

absl::StatusOr<std::shared_ptr<const engine::CompiledPolicy>> LoadDecision(const std::string& path,
                                                                           const std::string& name,
                                                                           Context& context) {
  std::string file = path;
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    absl::StatusOr<std::vector<std::string>> files = ExpandPolicyPaths({path});
    if (!files.ok()) {
      context.err << "creditctl: " << files.status().message() << "\n";
      context.exit_code = kExitUsage;
      return files.status();
    }
    file.clear();
    std::vector<std::string> names;
    std::vector<std::string> unreadable;
    engine::DiskFileReader reader;
    for (const std::string& candidate : *files) {
      absl::StatusOr<std::string> text = reader.Read(candidate);
      if (!text.ok()) {
        unreadable.emplace_back(text.status().message());
        continue;
      }
      const std::optional<engine::FileHeader> header = engine::PeekHeader(*text);
      if (!header || header->is_library) continue;
      const std::string& declared = header->name;
      names.push_back(declared);
      if (declared == name) file = candidate;
    }
    if (file.empty()) {
      if (name.empty()) {
        context.err << "creditctl: " << path << " is a directory: say which decision with "
                    << "--decision NAME";
      } else {
        context.err << "creditctl: no policy `" << name << "` in " << path;
      }
      if (!names.empty()) {
        context.err << " (it has:";
        for (const std::string& n : names) context.err << " " << n;
        context.err << ")";
      }
      context.err << "\n";
      // The one asked for may be among those that could not be read.
      for (const std::string& problem : unreadable) context.err << "creditctl: " << problem << "\n";
      context.exit_code = kExitUsage;
      return absl::NotFoundError("no such decision");
    }
  }
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
