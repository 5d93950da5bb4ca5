#include "crypto/sha256.h"

#include <openssl/sha.h>

namespace creditd::crypto {
namespace {

static_assert(sizeof(SHA256_CTX) <= 112, "Sha256::state_ is too small for SHA256_CTX");

// The low-level calls skip OpenSSL 3's provider lookup per digest; they use
// the CPU's SHA extensions where it has them.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
void Init(void* ctx) { SHA256_Init(static_cast<SHA256_CTX*>(ctx)); }
void Update(void* ctx, absl::string_view data) {
  SHA256_Update(static_cast<SHA256_CTX*>(ctx), data.data(), data.size());
}
void Final(void* ctx, unsigned char* digest) {
  SHA256_Final(digest, static_cast<SHA256_CTX*>(ctx));
}
#pragma GCC diagnostic pop

std::string Hex(const unsigned char* digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * SHA256_DIGEST_LENGTH, '0');
  for (int i = 0; i < SHA256_DIGEST_LENGTH; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return out;
}

}  // namespace

Sha256::Sha256() { Init(state_); }

void Sha256::Update(absl::string_view data) { crypto::Update(state_, data); }

std::string Sha256::HexDigest() {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  Final(state_, digest);
  return Hex(digest);
}

std::string Sha256Hex(absl::string_view data) {
  Sha256 hash;
  hash.Update(data);
  return hash.HexDigest();
}

}  // namespace creditd::crypto
