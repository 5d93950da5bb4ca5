#pragma once

// Every file operation the policy loader makes goes through FileSystem, in
// the spirit of LevelDB's Env: the real one by default, another in tests to
// inject the faults a test running as root cannot make happen (an
// unreadable or vanishing directory, a read error, an endless file).
//
// Nothing here throws. Error messages name no path: the caller adds the
// name it knows the file by, so a server never tells a caller where its
// files are.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace creditd::engine {

enum class FileType { kRegular, kDirectory, kSymlink, kOther };

// What fstat says about an open file that would change if it were written:
// which file it is, its size and when its contents and status last changed.
struct FileStamp {
  uint64_t device = 0;
  uint64_t inode = 0;
  int64_t size = 0;
  absl::Time modified;
  absl::Time changed;

  bool operator==(const FileStamp& other) const {
    return device == other.device && inode == other.inode && size == other.size &&
           modified == other.modified && changed == other.changed;
  }
  bool operator!=(const FileStamp& other) const { return !(*this == other); }
};

// A file open for reading.
class ReadableFile {
 public:
  virtual ~ReadableFile() = default;
  // Reads up to `n` bytes into `buffer`: how many were read, 0 at the end
  // of the file. An error is an error, never a short read.
  virtual absl::StatusOr<size_t> Read(char* buffer, size_t n) = 0;
  // The file's stamp now. Taken before and after reading, it shows that the
  // file was written while it was read.
  virtual absl::StatusOr<FileStamp> Stamp() = 0;
};

// One entry of a directory.
struct DirectoryEntry {
  std::string name;
  FileType type = FileType::kOther;  // the entry itself: a symlink is kSymlink
};

// What lstat says about a path.
struct FileInfo {
  FileType type = FileType::kOther;
  absl::Time modified;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // The real file system; lives for the whole program.
  static FileSystem& Default();

  // The absolute location of `path` with every symbolic link resolved
  // (realpath). NotFound when `path` or a link on the way leads nowhere.
  virtual absl::StatusOr<std::string> RealPath(const std::string& path) = 0;

  // Opens `path` for reading only if it is a regular file: it is opened
  // without following a symbolic link at `path` itself and without waiting
  // (a FIFO with no writer), then checked; anything else is
  // FailedPrecondition saying what it is (a directory, a FIFO, a device).
  virtual absl::StatusOr<std::unique_ptr<ReadableFile>> OpenRegularFile(
      const std::string& path) = 0;

  // The entries of directory `path`, without "." and "..", in no order.
  // NotFound when it does not exist (any more).
  virtual absl::StatusOr<std::vector<DirectoryEntry>> ListDirectory(const std::string& path) = 0;

  // The type and modification time of `path` itself (not of what a link
  // at `path` points to).
  virtual absl::StatusOr<FileInfo> Stat(const std::string& path) = 0;
};

// Reads the whole of regular file `path` through `fs`, at most `max_bytes`
// of it: a larger file is ResourceExhausted after reading max_bytes + 1
// bytes, never whole. A file whose stamp (size, times, inode) after the
// read differs from before it, or whose size is not what was read, was
// written while it was read: Aborted (kChangedWhileRead), nothing returned,
// so a half-written file is never taken for the whole. Errors name the file
// `name` (how the caller knows it), never `path`.
absl::StatusOr<std::string> ReadRegularFile(FileSystem& fs, const std::string& path,
                                            const std::string& name, size_t max_bytes);

// "a" + "b" -> "a/b"; an empty side is left out.
std::string JoinPath(const std::string& a, const std::string& b);

// The end of the message of a file that changed while it was read: how to
// write policy files so that a reader never sees half of one.
extern const char kChangedWhileRead[];

struct WalkOptions {
  // Skip entries whose name starts with "." (editors' files, ".git", and a
  // Kubernetes ConfigMap mount's "..data" and "..<timestamp>" directories:
  // its visible files are links into them).
  bool skip_hidden = true;
  // Fill TreeEntry::modified (one lstat per entry).
  bool modification_times = false;
};

// An entry under the root of a walk.
struct TreeEntry {
  std::string path;  // relative to the root: "shared/common.credit"
  FileType type = FileType::kOther;
  absl::Time modified;  // with WalkOptions::modification_times
};

struct Tree {
  std::vector<TreeEntry> entries;  // sorted by path; directories too
  // What could not be listed or looked at below the root, each naming its
  // path relative to the root. A walk with problems saw only part of the
  // tree.
  std::vector<absl::Status> problems;
};

// Everything under directory `root`, with a stack of its own (no recursion)
// and without following links to directories. Never throws. A non-OK
// status when the root itself cannot be listed (NotFound when it does not
// exist); anything below it that cannot be is a problem in the result.
absl::StatusOr<Tree> WalkTree(FileSystem& fs, const std::string& root,
                              const WalkOptions& options = {});

// The latest modification time of `root` and of everything WalkTree finds
// under it (directories too: removing a file changes its directory's time,
// not any file's), for reloading when a policy file changes. An error when
// the root cannot be looked at or listed, or when anything under it cannot.
absl::StatusOr<absl::Time> LatestChange(FileSystem& fs, const std::string& root);

}  // namespace creditd::engine
