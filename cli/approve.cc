// creditctl approve --key KEY --approver NAME --comment TEXT PATH: signs an
// approval of a policy version (engine/approvals.h) and writes it to the
// policy directory's approvals/, never over another.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/creditctl.h"
#include "cli/output.h"
#include "cli/policy_loading.h"
#include "crypto/ed25519.h"
#include "engine/approvals.h"

namespace creditd::cli {
namespace {

// Writes `text` to DIR/NAME through a temporary file (synced, then linked
// into place): the file appears whole or not at all, and an existing one
// is never replaced (AlreadyExists).
absl::Status WriteNew(const std::string& dir, const std::string& name, const std::string& text) {
  absl::StatusOr<std::unique_ptr<FileOutput>> file =
      FileOutput::Create(absl::StrCat(dir, "/", name), 0644, /*replace=*/false);
  if (!file.ok()) return file.status();
  (*file)->Write(text);
  if (absl::Status status = (*file)->Finish(); !status.ok()) return status;
  if (const int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir_fd >= 0) {
    fsync(dir_fd);
    close(dir_fd);
  }
  return absl::OkStatus();
}

}  // namespace

void AddApproveCommand(CLI::App& app, Context& context) {
  struct Flags {
    std::string path;
    std::string decision;
    std::string key;
    std::string approver;
    std::string comment;
    VersionFlags version;
  };
  auto flags = std::make_shared<Flags>();
  auto* command = app.add_subcommand(
      "approve", "Sign an approval of a policy version (four-eyes approval, docs/review.md)");
  command->footer(
      "Signs, with an Ed25519 key (PEM, `openssl genpkey -algorithm ed25519`), the version's\n"
      "name, version and sha256, the approver, the time and the comment, and writes the approval\n"
      "to approvals/ in the policy's directory (a directory: approvals/ in it), as\n"
      "NAME-VERSION-APPROVER-TIME.approval, never over another file.\n\n"
      "Examples:\n"
      "  creditctl approve --key alice.pem --approver alice --comment 'cut-offs checked' \\\n"
      "      policies/credit_application.credit\n"
      "  creditctl approve --key bob.pem --approver bob --comment ok -d dunning policies/");
  command->add_option("path", flags->path, "a policy file, or a directory with -d")->required();
  command->add_option("-d,--decision", flags->decision, "the decision, when PATH is a directory");
  command->add_option("--key", flags->key, "the approver's Ed25519 private key (PEM)")->required();
  command
      ->add_option("--approver", flags->approver,
                   "the approver's name, as the approvers file has it")
      ->required();
  command->add_option("--comment", flags->comment, "one line saying what was reviewed")->required();
  AddVersionChoice(*command, &flags->version, /*evaluation_date=*/false);
  command->callback([&context, flags] {
    VersionChoice choice;
    if (!ParseVersionChoice(flags->version, context, &choice)) return;
    absl::StatusOr<crypto::Ed25519Key> key =
        crypto::Ed25519Key::FromPrivateKeyFile(flags->key, "key");
    if (!key.ok()) {
      context.err << "creditctl: " << key.status().message() << "\n";
      context.exit_code = kExitUsage;
      return;
    }
    absl::StatusOr<std::shared_ptr<const engine::CompiledPolicy>> policy =
        LoadDecision(flags->path, flags->decision, context, choice);
    if (!policy.ok()) return;
    engine::Approval approval;
    approval.id = (*policy)->id();
    approval.approver = flags->approver;
    approval.time = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
    approval.comment = flags->comment;
    if (absl::Status status = engine::ValidateApproval(approval); !status.ok()) {
      context.err << "creditctl: " << status.message() << "\n";
      context.exit_code = kExitUsage;
      return;
    }
    engine::SignedApproval signed_approval;
    signed_approval.approval = approval;
    signed_approval.key_id = key->Id(engine::kApprovalKeyDomain, 4);
    absl::StatusOr<std::string> signature = key->Sign(engine::ApprovalBody(approval));
    if (!signature.ok()) {
      context.err << "creditctl: " << signature.status().message() << "\n";
      context.exit_code = kExitFailure;
      return;
    }
    signed_approval.signature = *std::move(signature);
    std::error_code error;
    std::filesystem::path dir(flags->path);
    if (!std::filesystem::is_directory(dir, error)) {
      dir = dir.parent_path();
      if (dir.empty()) dir = ".";
    }
    dir /= engine::kApprovalsDir;
    std::filesystem::create_directory(dir, error);
    if (error) {
      context.err << "creditctl: cannot create `" << dir.string() << "`: " << error.message()
                  << "\n";
      context.exit_code = kExitFailure;
      return;
    }
    const std::string name = engine::ApprovalFileName(approval);
    if (absl::Status status =
            WriteNew(dir.string(), name, engine::FormatApprovalFile(signed_approval));
        !status.ok()) {
      context.err << "creditctl: " << status.message() << "\n";
      context.exit_code = kExitFailure;
      return;
    }
    context.out << "approved " << approval.id.name << " " << approval.id.version << " (sha256 "
                << approval.id.sha256 << ") as " << approval.approver << ": "
                << (dir / name).string() << "\n";
    context.exit_code = kExitOk;
  });
}

}  // namespace creditd::cli
