#pragma once

// Champion / challenger (creditd --challenger DIR --challenger_share P%):
// for a sticky share of customers, the version of a decision in force in a
// second policy directory, the challenger, is evaluated alongside the
// version that answers, the champion. Only the champion's answer is
// returned; the challenger's result goes in the same log record.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/bundle.h"
#include "engine/program.h"

namespace creditd::server {

// The share of customers, in hundredths of a percent (1 to 10000), from
// its flag text: a percentage with at most two decimals, "10%", "2.5%",
// "100%". InvalidArgument naming the flag otherwise.
absl::StatusOr<int> ParseChallengerShare(absl::string_view text);

// The bucket of a customer, 0 to 9999: the first 8 bytes of the SHA-256 of
// its id, as a big-endian number, modulo 10000. A customer is in the
// challenger's share when its bucket is below the share: the same
// customers at every request and on every server, and a larger share keeps
// the customers of a smaller one.
int ChallengerBucket(absl::string_view customer_id);

class Challenger {
 public:
  Challenger(std::string directory, int share);

  // Whether `customer_id` is in the share (never for an empty id).
  bool Chosen(absl::string_view customer_id) const;

  // The challenger's bundle; null before its first load.
  std::shared_ptr<const engine::Bundle> Current() const;
  void Install(std::shared_ptr<const engine::Bundle> bundle);

  const std::string& directory() const { return directory_; }
  int share() const { return share_; }
  engine::PolicyDirReader& reader() { return reader_; }

  // Counts, since start: decisions the challenger ran alongside, those whose
  // outcome (or, for decisions of outputs only, outputs) differed from the
  // champion's, and those it could not decide.
  struct Counts {
    int64_t evaluated = 0;
    int64_t disagreed = 0;
    int64_t failed = 0;
  };
  void Count(bool disagreed, bool failed);
  Counts counts() const;

 private:
  const std::string directory_;
  const int share_;
  engine::PolicyDirReader reader_;
  mutable std::mutex mutex_;
  std::shared_ptr<const engine::Bundle> current_;
  std::atomic<int64_t> evaluated_{0}, disagreed_{0}, failed_{0};
};

}  // namespace creditd::server
