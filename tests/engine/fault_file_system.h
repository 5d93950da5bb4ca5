#pragma once

// A FileSystem over the real one with faults a test chooses by path: what a
// test running as root cannot make happen with permissions (an unreadable
// or vanishing directory, a read error, an endless file, a device).

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "engine/file_system.h"

namespace creditd::engine::testing {

class FaultFileSystem : public FileSystem {
 public:
  // Listing a directory whose path ends with `suffix` fails with `status`.
  void FailList(const std::string& suffix, absl::Status status) { list_[suffix] = status; }
  // Opening a file whose path ends with `suffix` finds it not regular: it
  // is `what` ("a character device").
  void NotRegular(const std::string& suffix, const std::string& what) { kind_[suffix] = what; }
  // A file whose path ends with `suffix` never ends: every read fills the
  // buffer (a file that keeps growing, or /dev/zero behind a regular name).
  void Endless(const std::string& suffix) { endless_.push_back(suffix); }
  // Reading a file whose path ends with `suffix` fails after `bytes`.
  void FailReadAfter(const std::string& suffix, size_t bytes) { fail_read_[suffix] = bytes; }
  // A file whose path ends with `suffix` is written while it is read: once
  // its first bytes have been read, its stamp says it changed (as an editor
  // writing it in place, or a copy still under way, would leave it).
  void ChangeWhileRead(const std::string& suffix) { change_.push_back(suffix); }

  // How often the file at `path` was opened for reading.
  int opens(const std::string& path) const {
    auto it = opens_.find(path);
    return it == opens_.end() ? 0 : it->second;
  }

  // Every path the file system was asked about, in order.
  const std::vector<std::string>& calls() const { return calls_; }
  // Bytes handed out by reads of faulty files.
  size_t bytes_read() const { return *bytes_read_; }

  absl::StatusOr<std::string> RealPath(const std::string& path) override {
    calls_.push_back(path);
    return real_.RealPath(path);
  }

  absl::StatusOr<std::unique_ptr<ReadableFile>> OpenRegularFile(const std::string& path) override {
    calls_.push_back(path);
    ++opens_[path];
    for (const auto& [suffix, what] : kind_) {
      if (absl::EndsWith(path, suffix)) return absl::FailedPreconditionError(what);
    }
    for (const std::string& suffix : endless_) {
      if (absl::EndsWith(path, suffix)) return std::make_unique<Faulty>(nullptr, 0, bytes_read_);
    }
    absl::StatusOr<std::unique_ptr<ReadableFile>> file = real_.OpenRegularFile(path);
    if (!file.ok()) return file;
    for (const auto& [suffix, bytes] : fail_read_) {
      if (absl::EndsWith(path, suffix)) {
        return std::make_unique<Faulty>(std::move(*file), bytes, bytes_read_);
      }
    }
    for (const std::string& suffix : change_) {
      if (absl::EndsWith(path, suffix)) return std::make_unique<Changing>(std::move(*file));
    }
    return file;
  }

  absl::StatusOr<std::vector<DirectoryEntry>> ListDirectory(const std::string& path) override {
    calls_.push_back(path);
    for (const auto& [suffix, status] : list_) {
      if (absl::EndsWith(path, suffix)) return status;
    }
    return real_.ListDirectory(path);
  }

  absl::StatusOr<FileInfo> Stat(const std::string& path) override {
    calls_.push_back(path);
    return real_.Stat(path);
  }

 private:
  // Endless (no inner file), or the inner file failing after `limit` bytes.
  class Faulty : public ReadableFile {
   public:
    Faulty(std::unique_ptr<ReadableFile> inner, size_t limit, std::shared_ptr<size_t> counter)
        : inner_(std::move(inner)), limit_(limit), counter_(std::move(counter)) {}
    absl::StatusOr<size_t> Read(char* buffer, size_t n) override {
      if (inner_ == nullptr) {
        std::fill(buffer, buffer + n, 'a');
        *counter_ += n;
        return n;
      }
      if (done_ >= limit_) return absl::DataLossError("read: Input/output error");
      absl::StatusOr<size_t> got = inner_->Read(buffer, std::min(n, limit_ - done_));
      if (got.ok()) {
        done_ += *got;
        *counter_ += *got;
      }
      return got;
    }
    absl::StatusOr<FileStamp> Stamp() override {
      return inner_ == nullptr ? FileStamp() : inner_->Stamp();
    }

   private:
    std::unique_ptr<ReadableFile> inner_;
    size_t limit_;
    size_t done_ = 0;
    std::shared_ptr<size_t> counter_;
  };

  // The inner file, with a later modification time once anything was read.
  class Changing : public ReadableFile {
   public:
    explicit Changing(std::unique_ptr<ReadableFile> inner) : inner_(std::move(inner)) {}
    absl::StatusOr<size_t> Read(char* buffer, size_t n) override {
      absl::StatusOr<size_t> got = inner_->Read(buffer, n);
      if (got.ok() && *got > 0) read_ = true;
      return got;
    }
    absl::StatusOr<FileStamp> Stamp() override {
      absl::StatusOr<FileStamp> stamp = inner_->Stamp();
      if (stamp.ok() && read_) stamp->modified += absl::Milliseconds(1);
      return stamp;
    }

   private:
    std::unique_ptr<ReadableFile> inner_;
    bool read_ = false;
  };

  FileSystem& real_ = FileSystem::Default();
  std::map<std::string, absl::Status> list_;
  std::map<std::string, std::string> kind_;
  std::vector<std::string> endless_;
  std::map<std::string, size_t> fail_read_;
  std::vector<std::string> change_;
  std::vector<std::string> calls_;
  std::map<std::string, int> opens_;
  std::shared_ptr<size_t> bytes_read_ = std::make_shared<size_t>(0);
};

}  // namespace creditd::engine::testing
