#pragma once

// Where creditctl writes a result: standard output, or a file replaced
// atomically (audit export -o, fmt -w).

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <ostream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace creditd::cli {

class Output {
 public:
  virtual ~Output() = default;
  // Appends `text`; false once writing has failed (Finish says why).
  virtual bool Write(absl::string_view text) = 0;
  // Completes the output, or says why it could not be.
  virtual absl::Status Finish() = 0;
};

// Standard output: what was written before an error stays written.
class StreamOutput : public Output {
 public:
  explicit StreamOutput(std::ostream& out) : out_(out) {}
  bool Write(absl::string_view text) override {
    out_.write(text.data(), static_cast<std::streamsize>(text.size()));
    return out_.good();
  }
  absl::Status Finish() override {
    out_.flush();
    if (!out_.good()) return absl::UnavailableError("cannot write the export to standard output");
    return absl::OkStatus();
  }

 private:
  std::ostream& out_;
};

// A file, written as FILE.tmp with permissions `mode` (by default readable
// by its owner alone: an export holds the log's customer ids and facts),
// synced and renamed to FILE when complete; removed when not, so a failed
// write never leaves part of a file under the name asked for, and the file
// there before stays as it was.
class FileOutput : public Output {
 public:
  // With `replace` false, Finish links the file into place instead, and
  // refuses (AlreadyExists) when FILE exists: it never replaces one.
  static absl::StatusOr<std::unique_ptr<FileOutput>> Create(const std::string& path,
                                                            mode_t mode = 0600,
                                                            bool replace = true) {
    std::string temporary = path + ".tmp";
    // A temporary file left by an export that was killed.
    if (unlink(temporary.c_str()) != 0 && errno != ENOENT) {
      return absl::UnavailableError(
          absl::StrCat("cannot remove `", temporary, "`: ", std::strerror(errno)));
    }
    const int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    // The umask may have taken permissions away: the file gets `mode`.
    if (fd >= 0 && fchmod(fd, mode) != 0) {
      const int error = errno;
      close(fd);
      unlink(temporary.c_str());
      return absl::UnavailableError(
          absl::StrCat("cannot set the permissions of `", temporary, "`: ", std::strerror(error)));
    }
    if (fd < 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot create `", temporary, "`: ", std::strerror(errno)));
    }
    return std::unique_ptr<FileOutput>(new FileOutput(path, std::move(temporary), fd, replace));
  }

  ~FileOutput() override {
    if (fd_ >= 0) {
      close(fd_);
      unlink(temporary_.c_str());
    }
  }

  bool Write(absl::string_view text) override {
    if (!error_.ok()) return false;
    buffer_.append(text.data(), text.size());
    if (buffer_.size() >= kBufferBytes) Flush();
    return error_.ok();
  }

  absl::Status Finish() override {
    Flush();
    if (error_.ok() && fsync(fd_) != 0) Fail("cannot write");
    if (close(std::exchange(fd_, -1)) != 0 && error_.ok()) Fail("cannot write");
    if (error_.ok() && replace_ && std::rename(temporary_.c_str(), path_.c_str()) != 0) {
      error_ = absl::UnavailableError(absl::StrCat("cannot rename `", temporary_, "` to `", path_,
                                                   "`: ", std::strerror(errno)));
    }
    if (error_.ok() && !replace_ && link(temporary_.c_str(), path_.c_str()) != 0) {
      error_ = errno == EEXIST
                   ? absl::AlreadyExistsError(absl::StrCat("`", path_, "` exists already"))
                   : absl::UnavailableError(
                         absl::StrCat("cannot create `", path_, "`: ", std::strerror(errno)));
    }
    if (!error_.ok() || !replace_) unlink(temporary_.c_str());
    return error_;
  }

 private:
  static constexpr size_t kBufferBytes = 1 << 16;

  FileOutput(std::string path, std::string temporary, int fd, bool replace)
      : path_(std::move(path)), temporary_(std::move(temporary)), fd_(fd), replace_(replace) {}

  void Flush() {
    size_t written = 0;
    while (error_.ok() && written < buffer_.size()) {
      const ssize_t n = write(fd_, buffer_.data() + written, buffer_.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        Fail("cannot write");
        break;
      }
      written += static_cast<size_t>(n);
    }
    buffer_.clear();
  }

  void Fail(absl::string_view what) {
    error_ = absl::UnavailableError(absl::StrCat(
        what, " `", temporary_, "`: ", std::strerror(errno), "; `", path_, "` is left as it was"));
  }

  std::string path_;
  std::string temporary_;
  int fd_;
  bool replace_;
  std::string buffer_;
  absl::Status error_;
};

}  // namespace creditd::cli
