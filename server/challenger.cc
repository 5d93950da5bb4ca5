#include "server/challenger.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "crypto/sha256.h"

namespace creditd::server {

absl::StatusOr<int> ParseChallengerShare(absl::string_view text) {
  auto invalid = [text] {
    return absl::InvalidArgumentError(absl::StrCat(
        "--challenger_share `", absl::CHexEscape(text.substr(0, 32)),
        "` is not a share: write a percentage above 0 and at most 100%, with at most two "
        "decimals (10%, 2.5%)"));
  };
  if (text.empty() || text.back() != '%') return invalid();
  absl::string_view number = text.substr(0, text.size() - 1);
  // Digits, then at most two decimals: exact, never a binary fraction.
  int64_t whole = 0, hundredths = 0;
  size_t i = 0;
  for (; i < number.size() && absl::ascii_isdigit(number[i]); ++i) {
    if (i >= 3) return invalid();
    whole = whole * 10 + (number[i] - '0');
  }
  if (i == 0) return invalid();
  if (i < number.size()) {
    if (number[i] != '.' || number.size() - i - 1 < 1 || number.size() - i - 1 > 2) {
      return invalid();
    }
    int scale = 10;
    for (size_t k = i + 1; k < number.size(); ++k, scale /= 10) {
      if (!absl::ascii_isdigit(number[k])) return invalid();
      hundredths += (number[k] - '0') * scale;
    }
  }
  const int64_t share = whole * 100 + hundredths;
  if (share < 1 || share > 10000) return invalid();
  return static_cast<int>(share);
}

int ChallengerBucket(absl::string_view customer_id) {
  const std::string digest = absl::HexStringToBytes(crypto::Sha256Hex(customer_id));
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | static_cast<unsigned char>(digest[i]);
  return static_cast<int>(value % 10000);
}

Challenger::Challenger(std::string directory, int share)
    : directory_(std::move(directory)), share_(share), reader_(directory_) {}

bool Challenger::Chosen(absl::string_view customer_id) const {
  return !customer_id.empty() && ChallengerBucket(customer_id) < share_;
}

std::shared_ptr<const engine::Bundle> Challenger::Current() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return current_;
}

void Challenger::Install(std::shared_ptr<const engine::Bundle> bundle) {
  std::lock_guard<std::mutex> lock(mutex_);
  current_ = std::move(bundle);
}

void Challenger::Count(bool disagreed, bool failed) {
  evaluated_.fetch_add(1, std::memory_order_relaxed);
  if (disagreed) disagreed_.fetch_add(1, std::memory_order_relaxed);
  if (failed) failed_.fetch_add(1, std::memory_order_relaxed);
}

Challenger::Counts Challenger::counts() const {
  return {evaluated_.load(std::memory_order_relaxed), disagreed_.load(std::memory_order_relaxed),
          failed_.load(std::memory_order_relaxed)};
}

}  // namespace creditd::server
