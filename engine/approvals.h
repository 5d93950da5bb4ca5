#pragma once

// Four-eyes approval of policy versions (docs/review.md): an approval is a
// detached Ed25519 signature by a named approver over a version's PolicyId
// (name, version, sha256), the time and a comment. They are kept in
// `approvals/` beside the policy file; a load that requires N approvals refuses every
// version with fewer than N distinct trusted approvers whose signature
// verifies for exactly its PolicyId (E0603).

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dsl/diagnostic.h"
#include "engine/compiled_policy.h"
#include "engine/decision.h"
#include "engine/file_system.h"

namespace creditd::engine {

// The code of a version with fewer approvals than required.
extern const char kNotApproved[];
// The directory of approvals, inside the policy directory.
extern const char kApprovalsDir[];
// The domain of approval key ids: an id is the first 4 bytes of sha256
// over this line and the raw public key, in hex.
extern const char kApprovalKeyDomain[];

// What an approver signs.
struct Approval {
  PolicyId id;
  std::string approver;
  std::string time;  // RFC 3339, UTC, whole seconds: 2026-11-30T12:00:00Z
  std::string comment;
};

// InvalidArgument naming the first field that cannot be signed: an
// approver name that is not 1 to 64 of [A-Za-z0-9._@-] starting with a
// letter or digit, a comment over 1000 bytes or holding a control
// character (a newline among them), a time not in the form above, a
// sha256 not 64 lowercase hex digits, an empty name or version, or one
// holding a space or a control character.
absl::Status ValidateApproval(const Approval& approval);

// The exact bytes signed, for a valid approval:
//   creditd approval 1\n
//   name NAME\n
//   version VERSION\n
//   sha256 SHA256\n
//   approver APPROVER\n
//   time TIME\n
//   comment COMMENT\n
std::string ApprovalBody(const Approval& approval);

// An approval as its file holds it: the body, a blank line, and
// `signature KEY_ID BASE64\n`, the signing key's id (8 hex digits) and the
// base64 of the 64-byte signature.
struct SignedApproval {
  Approval approval;
  std::string key_id;
  std::string signature;  // 64 bytes
};
std::string FormatApprovalFile(const SignedApproval& approval);
// InvalidArgument for a text that is not exactly what FormatApprovalFile
// writes for a valid approval.
absl::StatusOr<SignedApproval> ParseApprovalFile(absl::string_view text);

// Where the approvals of the policy file `policy_path` are kept: the
// `approvals/` directory beside it ("approvals" for "x.credit",
// "examples/approvals" for "examples/x.credit").
std::string ApprovalsDirOf(const std::string& policy_path);

// Its file name: NAME-VERSION-APPROVER-YYYYMMDDTHHMMSSZ.approval.
std::string ApprovalFileName(const Approval& approval);

// The key id of a raw 32-byte Ed25519 public key.
std::string ApprovalKeyId(absl::string_view public_key);

// Trusted approvers, each with one or more raw Ed25519 public keys (keys
// rotate: an approver's approvals verify with any of its keys).
struct Approvers {
  std::map<std::string, std::vector<std::string>, std::less<>> keys;
};

// Parses an approvers file: lines `NAME BASE64_KEY` (the base64 of the raw
// 32-byte public key), one key a line, a name on as many lines as it has
// keys; blank lines and lines starting with `#` are skipped. InvalidArgument
// naming the line for anything else, and for one key under two names.
absl::StatusOr<Approvers> ParseApprovers(absl::string_view text);
// Reads and parses the approvers file `path`; messages call it "the
// approvers file", never by its path.
absl::StatusOr<Approvers> ReadApprovers(FileSystem& fs, const std::string& path);

// An approval file's name and text, or why it could not be read.
struct ApprovalText {
  std::string file;  // as shown: `approvals/NAME`
  absl::StatusOr<std::string> text;
};
// Every *.approval file of directory `dir` (names starting with "." are
// skipped), by name, each shown as `shown_dir`/NAME. None when `dir` does
// not exist; an error when it cannot be listed.
absl::StatusOr<std::vector<ApprovalText>> ReadApprovals(FileSystem& fs, const std::string& dir,
                                                        const std::string& shown_dir);

// The approvals of one version.
struct ApprovalCount {
  std::vector<std::string> approvers;     // distinct trusted approvers, as found
  std::vector<SignedApproval> approvals;  // the approval each of them counts by
  std::vector<std::string> refused;       // "FILE: why"
};
// Counts the approvals among `files` of exactly `id`. Approvals of other
// decisions or versions are not looked at; one of this name and version is
// refused when it is unreadable or malformed, approves other text (another
// sha256), names an approver not in `approvers`, or its signature does not
// verify with any key of its approver. An approver counts once.
ApprovalCount CountApprovals(const PolicyId& id, const std::vector<ApprovalText>& files,
                             const Approvers& approvers);

// The E0603 error of `policy` at its version line when `count` has fewer
// than `required` approvers: true and `*d` set; false otherwise.
bool NotApproved(const CompiledPolicy& policy, const ApprovalCount& count, int required,
                 dsl::Diagnostic* d);

}  // namespace creditd::engine
