#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace creditd::crypto {

// The SHA-256 digest of `data` (FIPS 180-4), as 64 lowercase hex digits.
std::string Sha256Hex(absl::string_view data);

// The same over data given in pieces, without joining them first.
class Sha256 {
 public:
  Sha256();
  void Update(absl::string_view data);
  // The digest of everything given so far, as 64 lowercase hex digits. Call once.
  std::string HexDigest();

 private:
  alignas(8) unsigned char state_[112];  // OpenSSL's SHA256_CTX, kept opaque here
};

}  // namespace creditd::crypto
