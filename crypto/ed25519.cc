#include "crypto/ed25519.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "crypto/sha256.h"

namespace creditd::crypto {

struct Ed25519Key::Key {
  EVP_PKEY* pkey = nullptr;
  ~Key() { EVP_PKEY_free(pkey); }
};

namespace {

constexpr size_t kMaxKeyFileBytes = 64 << 10;

absl::Status OpenSslError(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(what, " (OpenSSL)"));
}

}  // namespace

absl::StatusOr<std::string> ReadSmallFile(const std::string& path, size_t limit,
                                          absl::string_view what) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
  if (fd < 0) return absl::NotFoundError(absl::StrCat("cannot open: ", std::strerror(errno)));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError("not a regular file");
  }
  std::string text(limit + 1, '\0');
  size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      return absl::DataLossError(absl::StrCat("cannot read: ", std::strerror(error)));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  if (got > limit) return absl::InvalidArgumentError(absl::StrCat("too large for ", what));
  text.resize(got);
  return text;
}

Ed25519Key::Ed25519Key(Ed25519Key&&) noexcept = default;
Ed25519Key& Ed25519Key::operator=(Ed25519Key&&) noexcept = default;
Ed25519Key::~Ed25519Key() = default;

namespace {

// The raw public half of `pkey`.
absl::StatusOr<std::string> RawPublicKey(EVP_PKEY* pkey) {
  unsigned char raw[kEd25519PublicKeyBytes];
  size_t size = sizeof raw;
  if (EVP_PKEY_get_raw_public_key(pkey, raw, &size) != 1 || size != sizeof raw) {
    return OpenSslError("cannot read an Ed25519 public key");
  }
  return std::string(reinterpret_cast<const char*>(raw), size);
}

}  // namespace

absl::StatusOr<Ed25519Key> Ed25519Key::Generate() {
  EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (pkey == nullptr) return OpenSslError("cannot generate an Ed25519 key");
  Ed25519Key key;
  key.key_ = std::make_unique<Key>();
  key.key_->pkey = pkey;
  key.can_sign_ = true;
  absl::StatusOr<std::string> raw = RawPublicKey(pkey);
  if (!raw.ok()) return raw.status();
  key.public_key_ = *std::move(raw);
  return key;
}

namespace {

absl::StatusOr<EVP_PKEY*> ReadPem(absl::string_view pem, absl::string_view name, bool private_key) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return OpenSslError("out of memory");
  EVP_PKEY* pkey = private_key ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr)
                               : PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (pkey == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " is not a PEM ", private_key ? "private" : "public", " key"));
  }
  if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(pkey);
    return absl::InvalidArgumentError(absl::StrCat(name, " is not an Ed25519 key"));
  }
  return pkey;
}

}  // namespace

absl::StatusOr<Ed25519Key> Ed25519Key::FromPrivateKeyPem(absl::string_view pem,
                                                         absl::string_view name) {
  absl::StatusOr<EVP_PKEY*> pkey = ReadPem(pem, name, true);
  if (!pkey.ok()) return pkey.status();
  Ed25519Key key;
  key.key_ = std::make_unique<Key>();
  key.key_->pkey = *pkey;
  key.can_sign_ = true;
  absl::StatusOr<std::string> raw = RawPublicKey(*pkey);
  if (!raw.ok()) return raw.status();
  key.public_key_ = *std::move(raw);
  return key;
}

absl::StatusOr<Ed25519Key> Ed25519Key::FromPublicKeyPem(absl::string_view pem,
                                                        absl::string_view name) {
  absl::StatusOr<EVP_PKEY*> pkey = ReadPem(pem, name, false);
  if (!pkey.ok()) return pkey.status();
  Ed25519Key key;
  key.key_ = std::make_unique<Key>();
  key.key_->pkey = *pkey;
  absl::StatusOr<std::string> raw = RawPublicKey(*pkey);
  if (!raw.ok()) return raw.status();
  key.public_key_ = *std::move(raw);
  return key;
}

absl::StatusOr<Ed25519Key> Ed25519Key::FromPrivateKeyFile(const std::string& path,
                                                          absl::string_view what) {
  const std::string name = absl::StrCat(what, " `", path, "`");
  absl::StatusOr<std::string> pem = ReadSmallFile(path, kMaxKeyFileBytes, "a key file");
  if (!pem.ok()) {
    return absl::Status(pem.status().code(), absl::StrCat(name, ": ", pem.status().message()));
  }
  return FromPrivateKeyPem(*pem, name);
}

absl::StatusOr<Ed25519Key> Ed25519Key::FromPublicKeyFile(const std::string& path,
                                                         absl::string_view what) {
  const std::string name = absl::StrCat(what, " `", path, "`");
  absl::StatusOr<std::string> pem = ReadSmallFile(path, kMaxKeyFileBytes, "a key file");
  if (!pem.ok()) {
    return absl::Status(pem.status().code(), absl::StrCat(name, ": ", pem.status().message()));
  }
  return FromPublicKeyPem(*pem, name);
}

absl::StatusOr<Ed25519Key> Ed25519Key::FromRawPublicKey(absl::string_view raw) {
  if (raw.size() != kEd25519PublicKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "an Ed25519 public key is ", kEd25519PublicKeyBytes, " bytes, not ", raw.size()));
  }
  EVP_PKEY* pkey = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
  if (pkey == nullptr) return absl::InvalidArgumentError("not an Ed25519 public key");
  Ed25519Key key;
  key.key_ = std::make_unique<Key>();
  key.key_->pkey = pkey;
  key.public_key_ = std::string(raw);
  return key;
}

absl::StatusOr<std::string> Ed25519Key::PrivateKeyPem() const {
  if (!can_sign_) return absl::FailedPreconditionError("a public key has no private half");
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return OpenSslError("out of memory");
  std::string pem;
  if (PEM_write_bio_PrivateKey(bio, key_->pkey, nullptr, nullptr, 0, nullptr, nullptr) == 1) {
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);  // NOLINT(runtime/int): OpenSSL's type
    if (size > 0) pem.assign(data, static_cast<size_t>(size));
  }
  BIO_free(bio);
  if (pem.empty()) return OpenSslError("cannot write a private key");
  return pem;
}

std::string Ed25519Key::Id(absl::string_view domain, size_t bytes) const {
  return Sha256Hex(absl::StrCat(domain, public_key_)).substr(0, 2 * bytes);
}

absl::StatusOr<std::string> Ed25519Key::Sign(absl::string_view message) const {
  if (!can_sign_) return absl::FailedPreconditionError("a public key cannot sign");
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) return OpenSslError("out of memory");
  unsigned char signature[kEd25519SignatureBytes];
  size_t size = sizeof signature;
  const bool ok =
      EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key_->pkey) == 1 &&
      EVP_DigestSign(ctx, signature, &size, reinterpret_cast<const unsigned char*>(message.data()),
                     message.size()) == 1 &&
      size == kEd25519SignatureBytes;
  EVP_MD_CTX_free(ctx);
  if (!ok) return OpenSslError("cannot sign");
  return std::string(reinterpret_cast<const char*>(signature), size);
}

bool Ed25519Key::Verify(absl::string_view message, absl::string_view signature) const {
  if (signature.size() != kEd25519SignatureBytes) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) return false;
  const bool valid =
      EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key_->pkey) == 1 &&
      EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                       message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return valid;
}

}  // namespace creditd::crypto
