#include "cli/git_revision.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "cli/creditctl.h"

extern char** environ;

namespace creditd::cli {

absl::StatusOr<std::unique_ptr<TempDir>> TempDir::Create() {
  const char* base = getenv("TMPDIR");
  std::string pattern =
      absl::StrCat(base != nullptr && *base != '\0' ? base : "/tmp", "/creditctl-diff-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot make a temporary directory: ", std::strerror(errno)));
  }
  std::error_code error;
  std::filesystem::path absolute = std::filesystem::absolute(pattern, error);
  std::unique_ptr<TempDir> dir(new TempDir(error ? pattern : absolute.string()));
  return dir;
}

TempDir::~TempDir() {
  std::error_code error;
  std::filesystem::remove_all(path_, error);
}

absl::StatusOr<ProcessResult> RunProgram(const std::vector<std::string>& argv,
                                         const std::string& scratch) {
  const std::string out_path = scratch + "/stdout";
  const std::string err_path = scratch + "/stderr";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot run ", argv[0], ": ", std::strerror(spawned)));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return absl::UnavailableError(
          absl::StrCat("cannot wait for ", argv[0], ": ", std::strerror(errno)));
    }
  }
  ProcessResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  // A program that cannot be found on PATH is reported by the child: 127.
  if (result.exit_code == 127) {
    return absl::UnavailableError(absl::StrCat("cannot run ", argv[0]));
  }
  absl::StatusOr<std::string> out = ReadFile(out_path);
  absl::StatusOr<std::string> err = ReadFile(err_path);
  if (!out.ok()) return out.status();
  if (!err.ok()) return err.status();
  result.out = *std::move(out);
  result.err = *std::move(err);
  return result;
}

namespace {

// The first line of what a program said, for a message.
std::string FirstLine(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  absl::StripAsciiWhitespace(&line);
  return line;
}

}  // namespace

absl::Status ExportRevision(const std::string& dir, const std::string& revision,
                            const std::string& into, const std::string& scratch) {
  // A revision is never an option: `--output=...` would be one to git.
  if (revision.empty() || revision[0] == '-') {
    return absl::InvalidArgumentError(
        absl::StrCat("`git:", revision, "` does not name a revision"));
  }
  // The work tree's top, and where `dir` is in it.
  absl::StatusOr<ProcessResult> where =
      RunProgram({"git", "-C", dir, "rev-parse", "--show-toplevel", "--show-prefix"}, scratch);
  if (!where.ok()) return where.status();
  if (where->exit_code != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(dir, " is not in a git work tree: ", FirstLine(where->err)));
  }
  const std::string top = FirstLine(where->out);
  const std::string path =
      FirstLine(where->out.substr(std::min(where->out.size(), where->out.find('\n') + 1)));
  absl::StatusOr<ProcessResult> commit =
      RunProgram({"git", "-C", dir, "rev-parse", "--verify", "--quiet", "--end-of-options",
                  absl::StrCat(revision, "^{commit}")},
                 scratch);
  if (!commit.ok()) return commit.status();
  if (commit->exit_code != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown revision `", revision, "` in the repository of ", dir));
  }
  const std::string id = FirstLine(commit->out);
  absl::StatusOr<ProcessResult> tree = RunProgram(
      {"git", "-C", dir, "rev-parse", "--verify", "--quiet", absl::StrCat(id, ":", path)}, scratch);
  if (!tree.ok()) return tree.status();
  if (tree->exit_code != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(dir, " did not exist at revision `", revision, "`"));
  }
  const std::string archive = scratch + "/tree.tar";
  absl::StatusOr<ProcessResult> exported = RunProgram(
      {"git", "-C", top, "archive", "--format=tar", "-o", archive, FirstLine(tree->out)}, scratch);
  if (!exported.ok()) return exported.status();
  if (exported->exit_code != 0) {
    return absl::InvalidArgumentError(absl::StrCat("git archive of ", dir, " at `", revision,
                                                   "` failed: ", FirstLine(exported->err)));
  }
  absl::StatusOr<ProcessResult> extracted =
      RunProgram({"tar", "-x", "-f", archive, "-C", into}, scratch);
  if (!extracted.ok()) return extracted.status();
  if (extracted->exit_code != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot unpack ", dir, " at `", revision, "`: ", FirstLine(extracted->err)));
  }
  std::error_code error;
  std::filesystem::remove(archive, error);
  return absl::OkStatus();
}

}  // namespace creditd::cli
