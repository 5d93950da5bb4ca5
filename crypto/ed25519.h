#pragma once

// Ed25519 keys (RFC 8032) through OpenSSL EVP: signing and verifying
// detached signatures, keys read from PEM (as `openssl genpkey -algorithm
// ed25519` and `openssl pkey -pubout` write them) or from the raw 32-byte
// public key, and a short id naming a key in messages.

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace creditd::crypto {

// Reads at most `limit` bytes of the regular file `path` (no link followed,
// never blocking on a FIFO); messages name no path. A larger file is
// InvalidArgument "too large for `what`".
absl::StatusOr<std::string> ReadSmallFile(const std::string& path, size_t limit,
                                          absl::string_view what);

inline constexpr size_t kEd25519PublicKeyBytes = 32;
inline constexpr size_t kEd25519SignatureBytes = 64;

// An Ed25519 public key, or a key pair. Movable, not copyable.
class Ed25519Key {
 public:
  // A new key pair from the system's random source.
  static absl::StatusOr<Ed25519Key> Generate();
  // From PEM text. Error messages begin with `name` (how the caller knows the
  // key): "NAME is not a PEM private key", "NAME is not an Ed25519 key".
  static absl::StatusOr<Ed25519Key> FromPrivateKeyPem(absl::string_view pem,
                                                      absl::string_view name);
  static absl::StatusOr<Ed25519Key> FromPublicKeyPem(absl::string_view pem, absl::string_view name);
  // From PEM files, at most 64 KiB, regular files only (a link at `path` is
  // not followed). Messages name the file as "`what` `path`".
  static absl::StatusOr<Ed25519Key> FromPrivateKeyFile(const std::string& path,
                                                       absl::string_view what);
  static absl::StatusOr<Ed25519Key> FromPublicKeyFile(const std::string& path,
                                                      absl::string_view what);
  // From the raw 32-byte public key.
  static absl::StatusOr<Ed25519Key> FromRawPublicKey(absl::string_view raw);

  Ed25519Key(Ed25519Key&&) noexcept;
  Ed25519Key& operator=(Ed25519Key&&) noexcept;
  ~Ed25519Key();

  bool can_sign() const { return can_sign_; }
  // The raw 32-byte public key.
  const std::string& public_key() const { return public_key_; }
  // The private key as PKCS#8 PEM (FailedPrecondition for a public key).
  absl::StatusOr<std::string> PrivateKeyPem() const;

  // The first `bytes` bytes of sha256 over `domain` and the raw public key,
  // in hex. Each use of keys has its own domain, so one key has unrelated
  // ids in each.
  std::string Id(absl::string_view domain, size_t bytes) const;

  // The 64-byte signature of `message` (FailedPrecondition for a public key).
  absl::StatusOr<std::string> Sign(absl::string_view message) const;
  // Whether `signature` is this key's signature of exactly `message`.
  bool Verify(absl::string_view message, absl::string_view signature) const;

 private:
  struct Key;
  Ed25519Key() = default;
  std::unique_ptr<Key> key_;
  std::string public_key_;
  bool can_sign_ = false;
};

}  // namespace creditd::crypto
