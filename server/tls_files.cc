#include "server/tls_files.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"

namespace creditd::server {

namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

absl::Status Bad(const std::string& file, absl::string_view problem) {
  ERR_clear_error();
  return absl::InvalidArgumentError(absl::StrCat("TLS file `", file, "`: ", problem));
}

}  // namespace

absl::Status CheckTlsFiles(const TlsOptions& tls) {
  std::unique_ptr<std::FILE, FileCloser> cert_file(std::fopen(tls.cert_file.c_str(), "rb"));
  if (cert_file == nullptr) return Bad(tls.cert_file, "cannot be read");
  std::unique_ptr<X509, X509Free> cert(PEM_read_X509(cert_file.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) return Bad(tls.cert_file, "holds no PEM certificate");
  if (X509_cmp_current_time(X509_get0_notAfter(cert.get())) <= 0) {
    return Bad(tls.cert_file, "the certificate has expired");
  }
  std::unique_ptr<std::FILE, FileCloser> key_file(std::fopen(tls.key_file.c_str(), "rb"));
  if (key_file == nullptr) return Bad(tls.key_file, "cannot be read");
  std::unique_ptr<EVP_PKEY, KeyFree> key(
      PEM_read_PrivateKey(key_file.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) return Bad(tls.key_file, "holds no PEM private key (or it is encrypted)");
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return Bad(tls.key_file, absl::StrCat("is not the key of the certificate in ", tls.cert_file));
  }
  if (!tls.client_ca_file.empty()) {
    std::unique_ptr<std::FILE, FileCloser> ca_file(std::fopen(tls.client_ca_file.c_str(), "rb"));
    if (ca_file == nullptr) return Bad(tls.client_ca_file, "cannot be read");
    std::unique_ptr<X509, X509Free> ca(PEM_read_X509(ca_file.get(), nullptr, nullptr, nullptr));
    if (ca == nullptr) return Bad(tls.client_ca_file, "holds no PEM certificate");
  }
  if (!tls.crl_dir.empty()) {
    struct stat st;
    if (stat(tls.crl_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return Bad(tls.crl_dir, "is not a directory");
    }
  }
  ERR_clear_error();
  return absl::OkStatus();
}

}  // namespace creditd::server
