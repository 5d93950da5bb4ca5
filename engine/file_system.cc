#include "engine/file_system.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace creditd::engine {
namespace {

// `what` failed with `error` (an errno), as a status naming no path.
absl::Status ErrnoStatus(int error, absl::string_view what) {
  const std::string message = absl::StrCat(what, ": ", strerror(error));
  switch (error) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    case ELOOP:
      return absl::FailedPreconditionError(message);
    default:
      return absl::UnavailableError(message);
  }
}

FileType TypeOf(mode_t mode) {
  if (S_ISREG(mode)) return FileType::kRegular;
  if (S_ISDIR(mode)) return FileType::kDirectory;
  if (S_ISLNK(mode)) return FileType::kSymlink;
  return FileType::kOther;
}

const char* Describe(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a regular file";
}

class PosixFile final : public ReadableFile {
 public:
  explicit PosixFile(int fd) : fd_(fd) {}
  ~PosixFile() override { close(fd_); }
  PosixFile(const PosixFile&) = delete;
  PosixFile& operator=(const PosixFile&) = delete;

  absl::StatusOr<size_t> Read(char* buffer, size_t n) override {
    while (true) {
      const ssize_t got = read(fd_, buffer, n);
      if (got >= 0) return static_cast<size_t>(got);
      if (errno != EINTR) return ErrnoStatus(errno, "read");
    }
  }

  absl::StatusOr<FileStamp> Stamp() override {
    struct stat info;
    if (fstat(fd_, &info) != 0) return ErrnoStatus(errno, "stat");
    FileStamp stamp;
    stamp.device = static_cast<uint64_t>(info.st_dev);
    stamp.inode = static_cast<uint64_t>(info.st_ino);
    stamp.size = static_cast<int64_t>(info.st_size);
    stamp.modified = absl::TimeFromTimespec(info.st_mtim);
    stamp.changed = absl::TimeFromTimespec(info.st_ctim);
    return stamp;
  }

 private:
  int fd_;
};

class PosixFileSystem final : public FileSystem {
 public:
  absl::StatusOr<std::string> RealPath(const std::string& path) override {
    char* real = realpath(path.c_str(), nullptr);
    if (real == nullptr) return ErrnoStatus(errno, "resolve");
    std::string out(real);
    free(real);
    return out;
  }

  absl::StatusOr<std::unique_ptr<ReadableFile>> OpenRegularFile(const std::string& path) override {
    int fd = -1;
    do {
      fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
      if (errno == ELOOP) return absl::FailedPreconditionError("a symbolic link");
      return ErrnoStatus(errno, "open");
    }
    auto file = std::make_unique<PosixFile>(fd);
    struct stat info;
    if (fstat(fd, &info) != 0) return ErrnoStatus(errno, "stat");
    if (!S_ISREG(info.st_mode)) return absl::FailedPreconditionError(Describe(info.st_mode));
    return file;
  }

  absl::StatusOr<std::vector<DirectoryEntry>> ListDirectory(const std::string& path) override {
    const int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(errno, "open the directory");
    DIR* dir = fdopendir(fd);
    if (dir == nullptr) {
      const int error = errno;
      close(fd);
      return ErrnoStatus(error, "open the directory");
    }
    std::vector<DirectoryEntry> entries;
    while (true) {
      errno = 0;
      const dirent* entry = readdir(dir);
      if (entry == nullptr) {
        const int error = errno;
        closedir(dir);
        if (error != 0) return ErrnoStatus(error, "read the directory");
        return entries;
      }
      const std::string name = entry->d_name;
      if (name == "." || name == "..") continue;
      DirectoryEntry e;
      e.name = name;
      switch (entry->d_type) {
        case DT_REG:
          e.type = FileType::kRegular;
          break;
        case DT_DIR:
          e.type = FileType::kDirectory;
          break;
        case DT_LNK:
          e.type = FileType::kSymlink;
          break;
        case DT_UNKNOWN: {
          struct stat info;
          if (fstatat(dirfd(dir), entry->d_name, &info, AT_SYMLINK_NOFOLLOW) != 0) {
            const int error = errno;
            closedir(dir);
            return ErrnoStatus(error, "look at a directory entry");
          }
          e.type = TypeOf(info.st_mode);
          break;
        }
        default:
          e.type = FileType::kOther;
          break;
      }
      entries.push_back(std::move(e));
    }
  }

  absl::StatusOr<FileInfo> Stat(const std::string& path) override {
    struct stat info;
    if (lstat(path.c_str(), &info) != 0) return ErrnoStatus(errno, "look at");
    FileInfo out;
    out.type = TypeOf(info.st_mode);
    out.modified = absl::TimeFromTimespec(info.st_mtim);
    return out;
  }
};

// `status` with `prefix` before its message, its code kept.
absl::Status Prefixed(const absl::Status& status, absl::string_view prefix) {
  return absl::Status(status.code(), absl::StrCat(prefix, status.message()));
}

}  // namespace

const char kChangedWhileRead[] =
    "write a policy file under a name starting with `.` (never loaded) and rename it into "
    "place, so that it is never seen half-written";

FileSystem& FileSystem::Default() {
  static PosixFileSystem* fs = new PosixFileSystem();
  return *fs;
}

absl::StatusOr<std::string> ReadRegularFile(FileSystem& fs, const std::string& path,
                                            const std::string& name, size_t max_bytes) {
  absl::StatusOr<std::unique_ptr<ReadableFile>> file = fs.OpenRegularFile(path);
  if (!file.ok()) {
    if (absl::IsNotFound(file.status())) {
      return absl::NotFoundError(absl::StrCat("there is no file `", name, "`"));
    }
    if (absl::IsFailedPrecondition(file.status())) {
      return absl::FailedPreconditionError(
          absl::StrCat("`", name, "` is not a regular file: it is ", file.status().message()));
    }
    return Prefixed(file.status(), absl::StrCat("cannot open `", name, "`: "));
  }
  absl::StatusOr<FileStamp> before = (*file)->Stamp();
  if (!before.ok()) return Prefixed(before.status(), absl::StrCat("cannot look at `", name, "`: "));
  std::string text;
  char buffer[16384];
  while (text.size() <= max_bytes) {
    const size_t want = std::min(sizeof buffer, max_bytes + 1 - text.size());
    absl::StatusOr<size_t> got = (*file)->Read(buffer, want);
    if (!got.ok()) return Prefixed(got.status(), absl::StrCat("cannot read `", name, "`: "));
    if (*got == 0) {
      absl::StatusOr<FileStamp> after = (*file)->Stamp();
      if (!after.ok()) {
        return Prefixed(after.status(), absl::StrCat("cannot look at `", name, "`: "));
      }
      if (*after != *before || after->size != static_cast<int64_t>(text.size())) {
        return absl::AbortedError(
            absl::StrCat("`", name, "` changed while it was read; ", kChangedWhileRead));
      }
      return text;
    }
    text.append(buffer, *got);
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("`", name, "` is larger than ", max_bytes, " bytes"));
}

std::string JoinPath(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return a.back() == '/' ? a + b : absl::StrCat(a, "/", b);
}

absl::StatusOr<Tree> WalkTree(FileSystem& fs, const std::string& root, const WalkOptions& options) {
  Tree tree;
  std::vector<std::string> pending = {""};  // directories to list, relative to the root
  while (!pending.empty()) {
    const std::string dir = std::move(pending.back());
    pending.pop_back();
    absl::StatusOr<std::vector<DirectoryEntry>> entries = fs.ListDirectory(JoinPath(root, dir));
    if (!entries.ok()) {
      if (dir.empty()) return entries.status();
      tree.problems.push_back(
          Prefixed(entries.status(), absl::StrCat("cannot list the directory `", dir, "`: ")));
      continue;
    }
    for (DirectoryEntry& entry : *entries) {
      if (options.skip_hidden && entry.name[0] == '.') continue;
      TreeEntry found;
      found.path = JoinPath(dir, entry.name);
      found.type = entry.type;
      if (options.modification_times) {
        absl::StatusOr<FileInfo> info = fs.Stat(JoinPath(root, found.path));
        if (!info.ok()) {
          tree.problems.push_back(
              Prefixed(info.status(), absl::StrCat("cannot look at `", found.path, "`: ")));
          continue;
        }
        found.modified = info->modified;
      }
      if (found.type == FileType::kDirectory) pending.push_back(found.path);
      tree.entries.push_back(std::move(found));
    }
  }
  std::sort(tree.entries.begin(), tree.entries.end(),
            [](const TreeEntry& a, const TreeEntry& b) { return a.path < b.path; });
  return tree;
}

absl::StatusOr<absl::Time> LatestChange(FileSystem& fs, const std::string& root) {
  absl::StatusOr<FileInfo> info = fs.Stat(root);
  if (!info.ok()) return info.status();
  WalkOptions options;
  options.modification_times = true;
  absl::StatusOr<Tree> tree = WalkTree(fs, root, options);
  if (!tree.ok()) return tree.status();
  if (!tree->problems.empty()) return tree->problems.front();
  absl::Time latest = info->modified;
  for (const TreeEntry& entry : tree->entries) latest = std::max(latest, entry.modified);
  return latest;
}

}  // namespace creditd::engine
