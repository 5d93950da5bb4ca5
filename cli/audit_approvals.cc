// creditctl audit approvals DB: who approved each version the log served.
// creditd --required_approvals writes the approvals it verified, with their
// signatures, into every reload record (in the hash chain); this reads them
// back, one block per version, and with --approvers verifies each signature
// again against the approvers file, so the log alone shows who approved
// what and that the approvals were not altered.
#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "audit/log_location.h"
#include "audit/record.h"
#include "audit/sqlite_store.h"
#include "cli/audit_review.h"
#include "cli/creditctl.h"
#include "engine/approvals.h"
#include "engine/file_system.h"
#include "rapidjson/document.h"

namespace creditd::cli {

namespace {

// One approval as the log holds it, and where it was first and last seen.
struct LoggedApproval {
  engine::SignedApproval signed_approval;
  std::string signature_base64;  // as logged, when it is not valid base64
  std::string first_time, last_time;
  int64_t first_sequence = 0, last_sequence = 0;
  // With --approvers: empty when it verifies, else why not.
  std::optional<std::string> refused;
};

// A version and its approvals, in the order the log first served them.
struct LoggedVersion {
  engine::PolicyId id;
  std::string first_time;  // the first accepted reload that carried it
  std::vector<LoggedApproval> approvals;
};

std::string Field(const rapidjson::Value& object, const char* name) {
  auto it = object.FindMember(name);
  return it != object.MemberEnd() && it->value.IsString()
             ? std::string(it->value.GetString(), it->value.GetStringLength())
             : std::string();
}

struct Flags {
  std::string db;
  std::string approvers;
  std::string decision;
  std::string format = "text";
};

// Collects the approvals of every accepted reload record. DataLoss for a
// reload record whose result does not parse: a record the chain covers
// that this cannot read is never passed over.
absl::StatusOr<std::vector<LoggedVersion>> CollectApprovals(const Flags& flags) {
  std::vector<LoggedVersion> versions;
  std::map<std::tuple<std::string, std::string, std::string>, size_t> index;
  audit::RecordFilter filter;
  filter.kind = audit::kReloadRecord;
  absl::Status problem;
  absl::Status status =
      audit::ForEachMatchingRecord(flags.db, filter, [&](const audit::AuditRecord& record) {
        rapidjson::Document result;
        result.Parse(record.result_json.data(), record.result_json.size());
        if (result.HasParseError() || !result.IsObject()) {
          problem = absl::DataLossError(
              absl::StrCat("reload record ", record.sequence, ": its result is not a JSON object"));
          return false;
        }
        // The versions an accepted load served: the champion's, and the
        // challenger's (creditd --challenger) when its load was accepted.
        std::vector<const rapidjson::Value*> served;
        auto take = [&served](const rapidjson::Value& load) {
          if (!load.IsObject()) return;
          auto accepted = load.FindMember("accepted");
          auto policies = load.FindMember("policies");
          if (accepted == load.MemberEnd() || !accepted->value.IsBool() ||
              !accepted->value.GetBool() || policies == load.MemberEnd() ||
              !policies->value.IsArray()) {
            return;  // a refused load served nothing
          }
          for (const rapidjson::Value& p : policies->value.GetArray()) served.push_back(&p);
        };
        take(result);
        if (auto challenger = result.FindMember("challenger"); challenger != result.MemberEnd()) {
          take(challenger->value);
        }
        for (const rapidjson::Value* each : served) {
          const rapidjson::Value& p = *each;
          if (!p.IsObject()) continue;
          auto approvals = p.FindMember("approvals");
          if (approvals == p.MemberEnd() || !approvals->value.IsArray()) continue;
          engine::PolicyId id{Field(p, "name"), Field(p, "version"), Field(p, "sha256")};
          if (!flags.decision.empty() && id.name != flags.decision) continue;
          auto [at, added] = index.try_emplace({id.name, id.version, id.sha256}, versions.size());
          if (added) versions.push_back({id, record.time, {}});
          LoggedVersion& version = versions[at->second];
          for (const rapidjson::Value& a : approvals->value.GetArray()) {
            if (!a.IsObject()) continue;
            LoggedApproval logged;
            engine::SignedApproval& s = logged.signed_approval;
            s.approval = {id, Field(a, "approver"), Field(a, "time"), Field(a, "comment")};
            // The sha256 it signed, when the record names it (see
            // creditd's reload records).
            if (const std::string signed_sha = Field(a, "sha256"); !signed_sha.empty()) {
              s.approval.id.sha256 = signed_sha;
            }
            s.key_id = Field(a, "key_id");
            logged.signature_base64 = Field(a, "signature");
            absl::Base64Unescape(logged.signature_base64, &s.signature);
            auto same = std::find_if(
                version.approvals.begin(), version.approvals.end(), [&](const LoggedApproval& o) {
                  const engine::SignedApproval& t = o.signed_approval;
                  return t.approval.approver == s.approval.approver &&
                         t.approval.time == s.approval.time && t.key_id == s.key_id &&
                         o.signature_base64 == logged.signature_base64 &&
                         t.approval.comment == s.approval.comment;
                });
            if (same == version.approvals.end()) {
              logged.first_time = logged.last_time = record.time;
              logged.first_sequence = logged.last_sequence = record.sequence;
              version.approvals.push_back(std::move(logged));
            } else {
              same->last_time = record.time;
              same->last_sequence = record.sequence;
            }
          }
        }
        return true;
      });
  if (!status.ok()) return status;
  if (!problem.ok()) return problem;
  return versions;
}

// Verifies each approval again: the file creditctl approve would have
// written for it, counted as a load counts it.
void VerifyApprovals(const engine::Approvers& approvers, std::vector<LoggedVersion>& versions) {
  for (LoggedVersion& version : versions) {
    for (LoggedApproval& a : version.approvals) {
      if (!engine::ValidateApproval(a.signed_approval.approval).ok() ||
          a.signed_approval.signature.size() != 64) {
        a.refused = "the logged approval is malformed";
        continue;
      }
      const std::vector<engine::ApprovalText> file = {
          {"the log", engine::FormatApprovalFile(a.signed_approval)}};
      engine::ApprovalCount count =
          engine::CountApprovals(a.signed_approval.approval.id, file, approvers);
      if (count.approvers.empty()) {
        const std::string why = count.refused.empty() ? "not counted" : count.refused.front();
        a.refused = why.substr(why.find(": ") == std::string::npos ? 0 : why.find(": ") + 2);
      } else {
        a.refused = std::string();
      }
    }
  }
}

std::string VerdictText(const LoggedApproval& a) {
  if (!a.refused.has_value()) return "not verified (no --approvers)";
  return a.refused->empty() ? "verified" : absl::StrCat("REFUSED: ", *a.refused);
}

void Run(const Flags& flags, Context& context) {
  absl::StatusOr<std::vector<LoggedVersion>> versions = CollectApprovals(flags);
  if (!versions.ok()) {
    context.err << "creditctl: " << versions.status().message() << "\n";
    // A record the chain covers that does not read is a finding; a log
    // that cannot be opened, a usage error.
    context.exit_code = absl::IsDataLoss(versions.status()) ? kExitFailure : kExitUsage;
    return;
  }
  if (!flags.approvers.empty()) {
    absl::StatusOr<engine::Approvers> approvers =
        engine::ReadApprovers(engine::FileSystem::Default(), flags.approvers);
    if (!approvers.ok()) {
      context.err << "creditctl: " << ShownText(flags.approvers) << ": "
                  << approvers.status().message() << "\n";
      context.exit_code = kExitUsage;
      return;
    }
    VerifyApprovals(*approvers, *versions);
  }
  bool any_refused = false;
  for (const LoggedVersion& v : *versions) {
    for (const LoggedApproval& a : v.approvals) {
      any_refused |= a.refused.has_value() && !a.refused->empty();
    }
  }
  if (flags.format == "json") {
    std::string out = "{\"versions\": [";
    for (size_t i = 0; i < versions->size(); ++i) {
      const LoggedVersion& v = (*versions)[i];
      out += i == 0 ? "\n  {\"name\": " : ",\n  {\"name\": ";
      AppendJsonString(v.id.name, &out);
      out += ", \"version\": ";
      AppendJsonString(v.id.version, &out);
      out += ", \"sha256\": ";
      AppendJsonString(v.id.sha256, &out);
      out += ", \"first_served_approved\": ";
      AppendJsonString(v.first_time, &out);
      out += ", \"approvals\": [";
      for (size_t k = 0; k < v.approvals.size(); ++k) {
        const LoggedApproval& a = v.approvals[k];
        const engine::Approval& approval = a.signed_approval.approval;
        out += k == 0 ? "{\"approver\": " : ", {\"approver\": ";
        AppendJsonString(approval.approver, &out);
        out += ", \"time\": ";
        AppendJsonString(approval.time, &out);
        out += ", \"comment\": ";
        AppendJsonString(approval.comment, &out);
        out += ", \"key_id\": ";
        AppendJsonString(a.signed_approval.key_id, &out);
        absl::StrAppend(&out, ", \"first_record\": ", a.first_sequence,
                        ", \"last_record\": ", a.last_sequence, ", \"verified\": ");
        if (!a.refused.has_value()) {
          out += "null";
        } else if (a.refused->empty()) {
          out += "true";
        } else {
          out += "false, \"refused\": ";
          AppendJsonString(*a.refused, &out);
        }
        out += "}";
      }
      out += "]}";
    }
    out += versions->empty() ? "]}\n" : "\n]}\n";
    context.out << out;
  } else if (versions->empty()) {
    context.out << "no approvals in " << ShownText(audit::LocationForDisplay(flags.db))
                << ": no reload record carries any (creditd serves without "
                   "--required_approvals, or served none yet)\n";
  } else {
    for (const LoggedVersion& v : *versions) {
      context.out << ShownText(v.id.name) << " " << ShownText(v.id.version) << "  sha256 "
                  << ShownText(v.id.sha256) << "\n  first served with approvals "
                  << ShownText(v.first_time) << "\n";
      for (const LoggedApproval& a : v.approvals) {
        const engine::Approval& approval = a.signed_approval.approval;
        context.out << "  " << ShownText(approval.approver) << "  signed "
                    << ShownText(approval.time) << "  key " << ShownText(a.signed_approval.key_id)
                    << "  records " << a.first_sequence << ".." << a.last_sequence << "  "
                    << VerdictText(a) << "\n    " << ShownText(approval.comment) << "\n";
      }
    }
  }
  if (!context.out.flush()) {
    context.err << "creditctl: cannot write to standard output\n";
    context.exit_code = kExitUsage;
    return;
  }
  if (any_refused) context.exit_code = kExitFailure;
}

}  // namespace

void AddAuditApprovalsCommand(CLI::App& audit, Context& context) {
  auto flags = std::make_shared<Flags>();
  auto* command = audit.add_subcommand(
      "approvals", "Who approved each version the log served, from its reload records");
  command
      ->add_option("db", flags->db,
                   "the audit log: a SQLite file, or a PostgreSQL connection string")
      ->required();
  command->add_option("--approvers", flags->approvers,
                      "the trusted approvers file: verify every logged signature again "
                      "(exit 1 when any does not verify)");
  command->add_option("--decision", flags->decision, "this decision's versions alone");
  command->add_option("--format", flags->format, "text (default) or json, for tools")
      ->check(CLI::IsMember({"text", "json"}));
  command->footer(
      "creditd --required_approvals writes the approvals it verified, signatures included,\n"
      "into the reload record of every load it serves (covered by the hash chain). Each\n"
      "version is listed once, each approval with the first and last reload record that\n"
      "carried it.\n"
      "Examples:\n"
      "  creditctl audit approvals creditd-audit.db\n"
      "  creditctl audit approvals creditd-audit.db --approvers approvers.txt --format json");
  command->callback([&context, flags] { Run(*flags, context); });
}

}  // namespace creditd::cli
