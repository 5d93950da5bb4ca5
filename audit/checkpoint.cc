#include "audit/checkpoint.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "crypto/ed25519.h"

namespace creditd::audit {
namespace {

constexpr char kFirstLine[] = "creditd audit log checkpoint";
// "— " (an em dash and a space) begins a signature line, as in signed notes.
constexpr char kSignaturePrefix[] = "\xe2\x80\x94 creditd ";
constexpr size_t kKeyIdBytes = 4;
constexpr size_t kSignatureBytes = 64;
constexpr size_t kMaxNoteBytes = 4096;

bool IsHex(absl::string_view text, size_t size) {
  return text.size() == size && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

absl::Status OpenSslError(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(what, " (OpenSSL)"));
}

absl::StatusOr<Checkpoint> ParseBody(absl::string_view body) {
  std::vector<absl::string_view> lines = absl::StrSplit(body, '\n');
  // Six lines, each ended by a newline: the split leaves an empty last one.
  if (lines.size() != 7 || !lines[6].empty() || lines[0] != kFirstLine) {
    return absl::InvalidArgumentError("not a creditd checkpoint");
  }
  Checkpoint c;
  auto field = [&](int i, absl::string_view name, std::string* out) {
    if (!absl::ConsumePrefix(&lines[static_cast<size_t>(i)], absl::StrCat(name, " "))) {
      return false;
    }
    *out = std::string(lines[static_cast<size_t>(i)]);
    return true;
  };
  std::string records;
  if (!field(1, "log", &c.log_id) || !field(2, "chain", &c.chain_id) ||
      !field(3, "records", &records) || !field(4, "head", &c.head) || !field(5, "time", &c.time)) {
    return absl::InvalidArgumentError("a checkpoint line is missing or out of order");
  }
  if (!IsHex(c.log_id, 32) || c.chain_id.empty() || !absl::SimpleAtoi(records, &c.records) ||
      c.records < 0 || absl::StrCat(c.records) != records ||
      !(c.records == 0 ? c.head.empty() : IsHex(c.head, 64))) {
    return absl::InvalidArgumentError("a checkpoint field is malformed");
  }
  return c;
}

absl::Status WriteFully(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::UnavailableError(std::strerror(errno));
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace

std::string CheckpointBody(const Checkpoint& c) {
  return absl::StrCat(kFirstLine, "\nlog ", c.log_id, "\nchain ", c.chain_id, "\nrecords ",
                      c.records, "\nhead ", c.head, "\ntime ", c.time, "\n");
}

struct CheckpointKey::Key {
  crypto::Ed25519Key key;
};

CheckpointKey::CheckpointKey(CheckpointKey&&) noexcept = default;
CheckpointKey& CheckpointKey::operator=(CheckpointKey&&) noexcept = default;
CheckpointKey::~CheckpointKey() = default;

namespace {

// Names a checkpoint key: the first 4 bytes of sha256 over this line and
// the raw public key.
constexpr char kKeyIdDomain[] = "creditd checkpoint key\n";

}  // namespace

absl::StatusOr<CheckpointKey> CheckpointKey::FromPrivateKeyFile(const std::string& path) {
  absl::StatusOr<crypto::Ed25519Key> key =
      crypto::Ed25519Key::FromPrivateKeyFile(path, "checkpoint key");
  if (!key.ok()) return key.status();
  CheckpointKey result;
  result.id_ = key->Id(kKeyIdDomain, kKeyIdBytes);
  result.can_sign_ = true;
  result.key_ = std::make_unique<Key>(Key{*std::move(key)});
  return result;
}

absl::StatusOr<CheckpointKey> CheckpointKey::FromPublicKeyFile(const std::string& path) {
  absl::StatusOr<crypto::Ed25519Key> key =
      crypto::Ed25519Key::FromPublicKeyFile(path, "checkpoint key");
  if (!key.ok()) return key.status();
  CheckpointKey result;
  result.id_ = key->Id(kKeyIdDomain, kKeyIdBytes);
  result.key_ = std::make_unique<Key>(Key{*std::move(key)});
  return result;
}

absl::StatusOr<std::string> CheckpointKey::Sign(const Checkpoint& checkpoint) const {
  if (!can_sign_) return absl::FailedPreconditionError("a public key cannot sign");
  const std::string body = CheckpointBody(checkpoint);
  absl::StatusOr<std::string> signature = key_->key.Sign(body);
  if (!signature.ok()) return OpenSslError("cannot sign a checkpoint");
  std::string blob = absl::HexStringToBytes(id_);
  blob.append(*signature);
  return absl::StrCat(body, "\n", kSignaturePrefix, absl::Base64Escape(blob), "\n");
}

absl::StatusOr<Checkpoint> CheckpointKey::Open(const std::string& note) const {
  const size_t blank = note.find("\n\n");
  if (blank == std::string::npos) return absl::InvalidArgumentError("not a signed checkpoint");
  const std::string body = note.substr(0, blank + 1);
  absl::string_view signature_line = absl::string_view(note).substr(blank + 2);
  if (!absl::ConsumePrefix(&signature_line, kSignaturePrefix) ||
      !absl::ConsumeSuffix(&signature_line, "\n") || absl::StrContains(signature_line, '\n')) {
    return absl::InvalidArgumentError("no creditd signature line");
  }
  std::string blob;
  if (!absl::Base64Unescape(signature_line, &blob) ||
      blob.size() != kKeyIdBytes + kSignatureBytes) {
    return absl::InvalidArgumentError("the signature is malformed");
  }
  if (absl::BytesToHexString(blob.substr(0, kKeyIdBytes)) != id_) {
    return absl::PermissionDeniedError(
        absl::StrCat("signed by key ", absl::BytesToHexString(blob.substr(0, kKeyIdBytes)),
                     ", not by key ", id_));
  }
  const bool valid =
      key_->key.Verify(body, absl::string_view(blob).substr(kKeyIdBytes, kSignatureBytes));
  if (!valid) {
    return absl::PermissionDeniedError(
        absl::StrCat("its signature does not verify with key ", id_));
  }
  return ParseBody(body);
}

absl::StatusOr<std::string> WriteCheckpointNote(const std::string& dir, const Checkpoint& c,
                                                const std::string& note) {
  const std::string name = absl::StrFormat("%012d-%s.checkpoint", c.records,
                                           c.records == 0 ? "empty" : c.head.substr(0, 16));
  const std::string path = absl::StrCat(dir, "/", name);
  const std::string temporary = absl::StrCat(dir, "/.", name, ".tmp");
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot write `", temporary, "`: ", std::strerror(errno)));
  }
  absl::Status status = WriteFully(fd, note);
  if (status.ok() && ::fsync(fd) != 0) status = absl::UnavailableError(std::strerror(errno));
  if (::close(fd) != 0 && status.ok()) status = absl::UnavailableError(std::strerror(errno));
  if (status.ok() && std::rename(temporary.c_str(), path.c_str()) != 0) {
    status = absl::UnavailableError(std::strerror(errno));
  }
  if (!status.ok()) {
    std::remove(temporary.c_str());
    return absl::UnavailableError(
        absl::StrCat("cannot write the checkpoint `", path, "`: ", status.message()));
  }
  // The rename itself is durable once the directory is synced.
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    const int synced = ::fsync(dir_fd);
    ::close(dir_fd);
    if (synced != 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot sync the checkpoint directory `", dir, "`"));
    }
  }
  return name;
}

absl::StatusOr<CheckpointDir> ReadCheckpointDir(const std::string& dir, const CheckpointKey& key) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("cannot read the checkpoint directory `", dir, "`: ", std::strerror(errno)));
  }
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* entry = ::readdir(d)) {
    const std::string name = entry->d_name;
    if (name[0] != '.' && absl::EndsWith(name, ".checkpoint")) names.push_back(name);
    errno = 0;
  }
  const int error = errno;
  ::closedir(d);
  if (error != 0) {
    return absl::DataLossError(
        absl::StrCat("cannot list the checkpoint directory `", dir, "`: ", std::strerror(error)));
  }
  std::sort(names.begin(), names.end());
  CheckpointDir result;
  for (const std::string& name : names) {
    absl::StatusOr<std::string> text =
        crypto::ReadSmallFile(absl::StrCat(dir, "/", name), kMaxNoteBytes, "a checkpoint");
    absl::StatusOr<Checkpoint> checkpoint =
        text.ok() ? key.Open(*text) : absl::StatusOr<Checkpoint>(text.status());
    if (!checkpoint.ok()) {
      result.refused.push_back(absl::StrCat(name, ": ", checkpoint.status().message()));
      continue;
    }
    result.checkpoints.push_back({name, *std::move(checkpoint)});
  }
  std::stable_sort(result.checkpoints.begin(), result.checkpoints.end(),
                   [](const CheckpointFile& a, const CheckpointFile& b) {
                     return a.checkpoint.records < b.checkpoint.records;
                   });
  return result;
}

CheckpointReport CheckLogAgainst(const std::vector<CheckpointFile>& all, const LogIdentity& log,
                                 int64_t records, const std::map<int64_t, std::string>& hashes,
                                 int64_t archived) {
  CheckpointReport report;
  std::vector<const CheckpointFile*> ours;
  for (const CheckpointFile& c : all) {
    if (c.checkpoint.log_id != log.log_id || c.checkpoint.chain_id != log.chain_id) continue;
    // Checkpoints of records since archived can no longer be compared.
    if (c.checkpoint.records < archived) continue;
    ours.push_back(&c);
  }
  if (archived > 0) {
    // The records held must be the ones a checkpoint signed: their hashes
    // chain the sequence numbers too, so where the chain resumes is signed.
    bool anchored = false;
    for (const CheckpointFile* c : ours) {
      const auto it = hashes.find(c->checkpoint.records);
      anchored = anchored || (it != hashes.end() && it->second == c->checkpoint.head);
    }
    if (!anchored) {
      report.problems.push_back(
          {CheckpointProblem::Kind::kTruncated, 1,
           absl::StrCat("records 1 to ", archived,
                        " are not in the log, and no checkpoint the log agrees with covers where "
                        "it resumes: what was removed, and whether the rest is what was written, "
                        "is not known (archive records only once a checkpoint covers them)")});
    }
  }
  report.checked = static_cast<int>(ours.size());
  if (ours.empty()) {
    if (!all.empty()) {
      report.problems.push_back(
          {CheckpointProblem::Kind::kOtherLog, 1,
           absl::StrCat("none of the ", all.size(), " checkpoints is of log ", log.log_id,
                        " chain ", log.chain_id,
                        ": this is not the log they were signed for (replaced?)")});
    }
    return report;
  }
  auto describe = [](const CheckpointFile& c) {
    return absl::StrCat("checkpoint ", c.file, " (signed ", c.checkpoint.time, ")");
  };
  // Does the log agree with a checkpoint? Unknown (nullopt) past its end.
  auto agrees = [&](const CheckpointFile& c) {
    if (c.checkpoint.records == 0) return true;
    const auto it = hashes.find(c.checkpoint.records);
    return it != hashes.end() && it->second == c.checkpoint.head;
  };
  // Two signed heads for one count: the signer saw two histories.
  for (size_t i = 1; i < ours.size(); ++i) {
    const Checkpoint& a = ours[i - 1]->checkpoint;
    const Checkpoint& b = ours[i]->checkpoint;
    if (a.records == b.records && a.head != b.head) {
      int64_t last_common = 0;
      for (const CheckpointFile* c : ours) {
        if (c->checkpoint.records < a.records && agrees(*c)) {
          last_common = std::max(last_common, c->checkpoint.records);
        }
      }
      report.problems.push_back(
          {CheckpointProblem::Kind::kForked, last_common + 1,
           absl::StrCat("forked: ", describe(*ours[i - 1]), " and ", describe(*ours[i]),
                        " sign different heads for ", a.records,
                        " records; the histories part after record ", last_common)});
      break;
    }
  }
  // The newest checkpoint the log agrees with.
  int64_t newest_agreed = 0;
  for (const CheckpointFile* c : ours) {
    if (c->checkpoint.records <= records && agrees(*c)) {
      newest_agreed = std::max(newest_agreed, c->checkpoint.records);
    }
  }
  report.covered = newest_agreed;
  // The first checkpoint the log disagrees with, within its length.
  for (const CheckpointFile* c : ours) {
    if (c->checkpoint.records > records || agrees(*c)) continue;
    int64_t last_good = 0;
    for (const CheckpointFile* d : ours) {
      if (d->checkpoint.records < c->checkpoint.records && agrees(*d)) {
        last_good = std::max(last_good, d->checkpoint.records);
      }
    }
    if (newest_agreed > c->checkpoint.records) {
      // A later signed head is in the log, an earlier one is not: both
      // histories were signed.
      report.problems.push_back({CheckpointProblem::Kind::kForked, last_good + 1,
                                 absl::StrCat("forked: the log agrees with a checkpoint of ",
                                              newest_agreed, " records but not with ", describe(*c),
                                              "; the histories part after record ", last_good)});
    } else {
      report.problems.push_back(
          {CheckpointProblem::Kind::kRewritten, last_good + 1,
           absl::StrCat("rewritten: record ", c->checkpoint.records, " is not the one ",
                        describe(*c), " signed; records after ", last_good, " (from record ",
                        last_good + 1, ") were changed")});
    }
    break;
  }
  // Records cut off: a checkpoint counts more than the log holds.
  const CheckpointFile* longest = ours.back();
  if (longest->checkpoint.records > records) {
    report.problems.push_back(
        {CheckpointProblem::Kind::kTruncated, records + 1,
         absl::StrCat("truncated: the log holds ", records, " records but ", describe(*longest),
                      " counts ", longest->checkpoint.records, "; records ", records + 1, " to ",
                      longest->checkpoint.records, " were cut off")});
  }
  return report;
}

Checkpointer::Checkpointer(CheckpointKey key, LogIdentity log, std::function<ChainHead()> head,
                           CheckpointerOptions options)
    : key_(std::move(key)),
      log_(std::move(log)),
      head_(std::move(head)),
      options_(std::move(options)) {}

Checkpointer::~Checkpointer() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

absl::Status Checkpointer::Start() {
  if (::mkdir(options_.dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::UnavailableError(absl::StrCat("cannot create the checkpoint directory `",
                                               options_.dir, "`: ", std::strerror(errno)));
  }
  struct stat st;
  if (::stat(options_.dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::UnavailableError(
        absl::StrCat("the checkpoint directory `", options_.dir, "` is not a directory"));
  }
  if (absl::Status status = WriteNow(); !status.ok()) return status;
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

absl::Status Checkpointer::Stop() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  return WriteNow();
}

absl::Status Checkpointer::WriteNow() {
  const ChainHead head = head_();
  {
    absl::MutexLock lock(&mutex_);
    if (head.sequence == written_.sequence && head.hash == written_.hash) return absl::OkStatus();
  }
  if (head.sequence == 0) return absl::OkStatus();
  Checkpoint c;
  c.log_id = log_.log_id;
  c.chain_id = log_.chain_id;
  c.records = head.sequence;
  c.head = head.hash;
  c.time = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
  absl::StatusOr<std::string> note = key_.Sign(c);
  if (!note.ok()) return note.status();
  absl::StatusOr<std::string> file = WriteCheckpointNote(options_.dir, c, *note);
  if (!file.ok()) return file.status();
  {
    absl::MutexLock lock(&mutex_);
    written_ = head;
  }
  if (options_.on_written) options_.on_written(*file);
  return absl::OkStatus();
}

void Checkpointer::Run() {
  while (true) {
    {
      absl::MutexLock lock(&mutex_);
      const auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return stopping_; };
      if (mutex_.AwaitWithTimeout(absl::Condition(&stop), options_.interval)) return;
    }
    if (absl::Status status = WriteNow(); !status.ok() && options_.on_error) {
      options_.on_error(status);
    }
  }
}

}  // namespace creditd::audit
