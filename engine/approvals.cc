#include "engine/approvals.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "crypto/ed25519.h"
#include "engine/bundle.h"

namespace creditd::engine {

const char kNotApproved[] = "E0603";
const char kApprovalsDir[] = "approvals";
const char kApprovalKeyDomain[] = "creditd approval key\n";

namespace {

constexpr char kFirstLine[] = "creditd approval 1";
constexpr char kSignatureLine[] = "signature ";
constexpr size_t kKeyIdBytes = 4;
constexpr size_t kMaxComment = 1000;
constexpr size_t kMaxApprovalBytes = 8 << 10;
constexpr size_t kMaxApproversBytes = 1 << 20;
constexpr char kTimeFormat[] = "%Y-%m-%dT%H:%M:%SZ";

bool HasControl(absl::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

bool IsApproverName(absl::string_view name) {
  if (name.empty() || name.size() > 64 || !absl::ascii_isalnum(name[0])) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '@' || c == '-';
  });
}

bool IsSha256(absl::string_view text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool IsWord(absl::string_view text) {
  return !text.empty() && !HasControl(text) && !absl::StrContains(text, ' ');
}

}  // namespace

absl::Status ValidateApproval(const Approval& a) {
  if (!IsWord(a.id.name)) return absl::InvalidArgumentError("the decision name cannot be signed");
  if (!IsWord(a.id.version)) return absl::InvalidArgumentError("the version cannot be signed");
  if (!IsSha256(a.id.sha256)) {
    return absl::InvalidArgumentError("the sha256 is not 64 lowercase hex digits");
  }
  if (!IsApproverName(a.approver)) {
    return absl::InvalidArgumentError(
        "an approver's name is 1 to 64 letters, digits and . _ @ -, starting with a letter or "
        "digit");
  }
  absl::Time time;
  std::string error;
  if (!absl::ParseTime(kTimeFormat, a.time, absl::UTCTimeZone(), &time, &error) ||
      absl::FormatTime(kTimeFormat, time, absl::UTCTimeZone()) != a.time) {
    return absl::InvalidArgumentError("the time is not RFC 3339 UTC (2026-11-30T12:00:00Z)");
  }
  if (a.comment.size() > kMaxComment || HasControl(a.comment)) {
    return absl::InvalidArgumentError(absl::StrCat("a comment is one line of at most ", kMaxComment,
                                                   " bytes, without control characters"));
  }
  return absl::OkStatus();
}

std::string ApprovalBody(const Approval& a) {
  return absl::StrCat(kFirstLine, "\nname ", a.id.name, "\nversion ", a.id.version, "\nsha256 ",
                      a.id.sha256, "\napprover ", a.approver, "\ntime ", a.time, "\ncomment ",
                      a.comment, "\n");
}

std::string FormatApprovalFile(const SignedApproval& s) {
  return absl::StrCat(ApprovalBody(s.approval), "\n", kSignatureLine, s.key_id, " ",
                      absl::Base64Escape(s.signature), "\n");
}

absl::StatusOr<SignedApproval> ParseApprovalFile(absl::string_view text) {
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  // Seven lines of body, a blank one and the signature, each ended by a
  // newline: the split leaves an empty last one.
  if (lines.size() != 10 || lines[0] != kFirstLine || !lines[7].empty() || !lines[9].empty()) {
    return absl::InvalidArgumentError("not a creditd approval");
  }
  SignedApproval s;
  Approval& a = s.approval;
  const std::pair<const char*, std::string*> fields[] = {
      {"name ", &a.id.name},      {"version ", &a.id.version}, {"sha256 ", &a.id.sha256},
      {"approver ", &a.approver}, {"time ", &a.time},          {"comment ", &a.comment},
  };
  for (size_t i = 0; i < 6; ++i) {
    absl::string_view line = lines[i + 1];
    if (!absl::ConsumePrefix(&line, fields[i].first)) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", i + 2, " is not `", fields[i].first, "...`"));
    }
    *fields[i].second = std::string(line);
  }
  if (absl::Status status = ValidateApproval(a); !status.ok()) return status;
  absl::string_view signature = lines[8];
  std::vector<absl::string_view> parts = absl::StrSplit(signature, ' ');
  if (parts.size() != 3 || parts[0] != "signature" || parts[1].size() != 2 * kKeyIdBytes ||
      !absl::Base64Unescape(parts[2], &s.signature) ||
      s.signature.size() != crypto::kEd25519SignatureBytes) {
    return absl::InvalidArgumentError("the signature line is malformed");
  }
  s.key_id = std::string(parts[1]);
  // One text per approval: what was parsed writes back byte for byte.
  if (FormatApprovalFile(s) != text) {
    return absl::InvalidArgumentError("the approval is not in canonical form");
  }
  return s;
}

std::string ApprovalFileName(const Approval& a) {
  std::string stamp = a.time;
  stamp.erase(
      std::remove_if(stamp.begin(), stamp.end(), [](char c) { return c == '-' || c == ':'; }),
      stamp.end());
  return absl::StrCat(a.id.name, "-", a.id.version, "-", a.approver, "-", stamp, ".approval");
}

std::string ApprovalsDirOf(const std::string& policy_path) {
  const size_t slash = policy_path.rfind('/');
  return slash == std::string::npos ? std::string(kApprovalsDir)
                                    : JoinPath(policy_path.substr(0, slash), kApprovalsDir);
}

std::string ApprovalKeyId(absl::string_view public_key) {
  absl::StatusOr<crypto::Ed25519Key> key = crypto::Ed25519Key::FromRawPublicKey(public_key);
  if (!key.ok()) return "";
  return key->Id(kApprovalKeyDomain, kKeyIdBytes);
}

absl::StatusOr<Approvers> ParseApprovers(absl::string_view text) {
  Approvers approvers;
  std::map<std::string, std::string> owner;  // key -> name
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> parts = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    auto error = [&](absl::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("the approvers file, line ", number, ": ", why));
    };
    std::string key;
    if (parts.size() != 2) return error("expected `NAME BASE64_PUBLIC_KEY`");
    if (!IsApproverName(parts[0])) {
      return error(
          "a name is 1 to 64 letters, digits and . _ @ -, starting with a letter or digit");
    }
    if (!absl::Base64Unescape(parts[1], &key) || key.size() != crypto::kEd25519PublicKeyBytes ||
        !crypto::Ed25519Key::FromRawPublicKey(key).ok()) {
      return error("the key is not the base64 of a raw 32-byte Ed25519 public key");
    }
    const std::string name(parts[0]);
    auto [it, added] = owner.emplace(key, name);
    if (!added && it->second != name) {
      return error(absl::StrCat("this key is `", it->second, "`'s already: a key is one person's"));
    }
    std::vector<std::string>& keys = approvers.keys[name];
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
  }
  return approvers;
}

absl::StatusOr<Approvers> ReadApprovers(FileSystem& fs, const std::string& path) {
  absl::StatusOr<std::string> text =
      ReadRegularFile(fs, path, "the approvers file", kMaxApproversBytes);
  if (!text.ok()) return text.status();
  return ParseApprovers(*text);
}

absl::StatusOr<std::vector<ApprovalText>> ReadApprovals(FileSystem& fs, const std::string& dir,
                                                        const std::string& shown_dir) {
  absl::StatusOr<std::vector<DirectoryEntry>> entries = fs.ListDirectory(dir);
  if (absl::IsNotFound(entries.status())) return std::vector<ApprovalText>();
  if (!entries.ok()) {
    return absl::Status(
        entries.status().code(),
        absl::StrCat("`", shown_dir, "` cannot be listed: ", entries.status().message()));
  }
  std::vector<std::string> names;
  for (const DirectoryEntry& entry : *entries) {
    if (entry.name[0] != '.' && absl::EndsWith(entry.name, ".approval")) {
      names.push_back(entry.name);
    }
  }
  std::sort(names.begin(), names.end());
  std::vector<ApprovalText> files;
  for (const std::string& name : names) {
    const std::string shown = JoinPath(shown_dir, name);
    files.push_back({shown, ReadRegularFile(fs, JoinPath(dir, name), shown, kMaxApprovalBytes)});
  }
  return files;
}

ApprovalCount CountApprovals(const PolicyId& id, const std::vector<ApprovalText>& files,
                             const Approvers& approvers) {
  ApprovalCount count;
  for (const ApprovalText& file : files) {
    auto refuse = [&](absl::string_view why) {
      count.refused.push_back(absl::StrCat(file.file, ": ", why));
    };
    if (!file.text.ok()) {
      refuse(file.text.status().message());
      continue;
    }
    absl::StatusOr<SignedApproval> parsed = ParseApprovalFile(*file.text);
    if (!parsed.ok()) {
      refuse(parsed.status().message());
      continue;
    }
    const Approval& a = parsed->approval;
    if (a.id.name != id.name || a.id.version != id.version) continue;
    if (a.id.sha256 != id.sha256) {
      refuse(absl::StrCat("approves other text (sha256 ", a.id.sha256.substr(0, 12),
                          "…), not this version's"));
      continue;
    }
    auto keys = approvers.keys.find(a.approver);
    if (keys == approvers.keys.end()) {
      refuse(absl::StrCat("`", a.approver, "` is not a trusted approver"));
      continue;
    }
    const std::string body = ApprovalBody(a);
    const bool verified =
        std::any_of(keys->second.begin(), keys->second.end(), [&](const std::string& raw) {
          absl::StatusOr<crypto::Ed25519Key> key = crypto::Ed25519Key::FromRawPublicKey(raw);
          return key.ok() && key->Id(kApprovalKeyDomain, kKeyIdBytes) == parsed->key_id &&
                 key->Verify(body, parsed->signature);
        });
    if (!verified) {
      refuse(absl::StrCat("the signature (key ", parsed->key_id,
                          ") does not verify with any key of `", a.approver, "`"));
      continue;
    }
    if (std::find(count.approvers.begin(), count.approvers.end(), a.approver) !=
        count.approvers.end()) {
      refuse(absl::StrCat("`", a.approver, "` approved already: an approver counts once"));
      continue;
    }
    count.approvers.push_back(a.approver);
    count.approvals.push_back(*std::move(parsed));
  }
  return count;
}

bool NotApproved(const CompiledPolicy& policy, const ApprovalCount& count, int required,
                 dsl::Diagnostic* d) {
  const int found = static_cast<int>(count.approvers.size());
  if (found >= required) return false;
  const PolicyId& id = policy.id();
  d->severity = dsl::Severity::kError;
  d->code = kNotApproved;
  d->span = VersionSpan(policy);
  d->message = absl::StrCat(
      "version ", id.version, " of `", id.name, "` (sha256 ", id.sha256.substr(0, 12), "…) has ",
      found, found == 1 ? " approval" : " approvals", ", ", required, " required",
      found > 0 ? absl::StrCat(" (by ", absl::StrJoin(count.approvers, ", "), ")") : "");
  d->help = count.refused.empty()
                ? std::string("trusted approvers approve it with `creditctl approve`")
                : absl::StrCat("refused: ", absl::StrJoin(count.refused, "; "));
  return true;
}

}  // namespace creditd::engine
