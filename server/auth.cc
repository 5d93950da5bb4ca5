#include "server/auth.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "crypto/sha256.h"
#include "engine/evaluator.h"
#include "grpc/grpc_security_constants.h"
#include "grpcpp/security/auth_context.h"
#include "spdlog/spdlog.h"

namespace creditd::server {

namespace {

struct MethodRole {
  const char* method;
  Role role;
};

// Every method of the API and the role it needs. A method missing here is
// denied to everyone while roles are enforced.
constexpr MethodRole kMethodRoles[] = {
    {"/credit.v1.DecisionService/Evaluate", Role::kEvaluate},
    {"/credit.v1.DecisionService/EvaluateStream", Role::kEvaluate},
    {"/credit.v1.PolicyService/ListPolicies", Role::kReview},
    {"/credit.v1.PolicyService/GetPolicySource", Role::kReview},
    {"/credit.v1.PolicyService/DescribeDecision", Role::kEvaluate},
    {"/credit.v1.PolicyService/ValidatePolicy", Role::kReview},
    {"/credit.v1.PolicyService/Reload", Role::kAdmin},
};

std::optional<Role> ParseRole(absl::string_view name) {
  for (Role role : {Role::kEvaluate, Role::kReview, Role::kAdmin}) {
    if (name == RoleName(role)) return role;
  }
  return std::nullopt;
}

absl::StatusOr<std::string> ReadWhole(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read the ", what, " file `", path, "`"));
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return absl::UnavailableError(absl::StrCat("error reading the ", what, " file `", path, "`"));
  }
  return text.str();
}

// Calls `line` with each non-blank, non-comment line split into its first
// word and the rest (trimmed), and the 1-based line number.
template <typename F>
absl::Status ForEachEntry(const std::string& text, F line) {
  int number = 0;
  for (absl::string_view raw : absl::StrSplit(text, '\n')) {
    ++number;
    absl::string_view entry = absl::StripAsciiWhitespace(raw);
    if (entry.empty() || entry[0] == '#') continue;
    const size_t space = entry.find_first_of(" \t");
    const absl::string_view first = entry.substr(0, space);
    const absl::string_view rest = space == absl::string_view::npos
                                       ? absl::string_view()
                                       : absl::StripAsciiWhitespace(entry.substr(space));
    if (absl::Status status = line(first, rest, number); !status.ok()) return status;
  }
  return absl::OkStatus();
}

bool IsSha256Hex(absl::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::string FirstProperty(const grpc::AuthContext& auth, const char* name) {
  const std::vector<grpc::string_ref> values = auth.FindPropertyValues(name);
  if (values.empty()) return {};
  return std::string(values.front().data(), values.front().size());
}

// Refusals are logged, at most a few a second: a caller retrying in a loop
// must not flood the log.
bool LogAllowed() {
  static std::atomic<int64_t> window{0};
  static std::atomic<int> count{0};
  const int64_t second = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::steady_clock::now().time_since_epoch())
                             .count();
  if (window.exchange(second) != second) count = 0;
  return ++count <= 5;
}

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct NamesFree {
  void operator()(GENERAL_NAMES* names) const { GENERAL_NAMES_free(names); }
};

// Standard base64, padded, nothing else: what HAProxy's base64 converter
// writes. (absl's decoder would also take whitespace and missing padding.)
bool IsPaddedBase64(absl::string_view text) {
  if (text.size() % 4 != 0) return false;
  size_t padding = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '=') {
      ++padding;
    } else if (padding > 0 ||
               !(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/')) {
      return false;
    }
  }
  return padding <= 2;
}

std::string Utf8(const ASN1_STRING* text) {
  unsigned char* utf8 = nullptr;
  const int length = ASN1_STRING_to_UTF8(&utf8, text);
  if (length < 0) return {};
  std::string out(reinterpret_cast<const char*>(utf8), static_cast<size_t>(length));
  OPENSSL_free(utf8);
  return out;
}

// The first SAN of `type` (GEN_URI, GEN_DNS), as gRPC lists them.
std::string FirstName(const GENERAL_NAMES* names, int type) {
  if (names == nullptr) return {};
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type != type) continue;
    std::string text = Utf8(type == GEN_URI ? name->d.uniformResourceIdentifier : name->d.dNSName);
    if (!text.empty()) return text;
  }
  return {};
}

absl::Status BadForwarded(absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("the forwarded client certificate (", kForwardedCertificateHeader, ") ", why));
}

absl::StatusOr<std::string> ParseForwarded(absl::string_view value) {
  if (value.empty()) return BadForwarded("is empty: the client presented none to the balancer");
  if (value.size() > kMaxForwardedCertificateBytes) {
    return BadForwarded(absl::StrCat("is ", value.size(), " bytes; at most ",
                                     kMaxForwardedCertificateBytes, " are accepted"));
  }
  std::string der;
  if (!IsPaddedBase64(value) || !absl::Base64Unescape(value, &der)) {
    return BadForwarded("is not base64 (standard alphabet, padded, no whitespace)");
  }
  const auto* start = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* end = start;
  std::unique_ptr<X509, X509Free> cert(d2i_X509(nullptr, &end, static_cast<long>(der.size())));
  const bool whole = cert != nullptr && end == start + der.size();
  ERR_clear_error();
  if (!whole) return BadForwarded("is not one DER certificate");
  std::unique_ptr<GENERAL_NAMES, NamesFree> names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  std::string identity = FirstName(names.get(), GEN_URI);
  if (identity.empty()) identity = FirstName(names.get(), GEN_DNS);
  if (identity.empty()) {
    const X509_NAME* subject = X509_get_subject_name(cert.get());
    const int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (at >= 0) identity = Utf8(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at)));
  }
  ERR_clear_error();
  if (identity.empty()) return BadForwarded("names no identity (URI SAN, DNS SAN or subject CN)");
  if (identity.size() > kMaxForwardedIdentityBytes) {
    return BadForwarded(absl::StrCat("names an identity of ", identity.size(), " bytes; at most ",
                                     kMaxForwardedIdentityBytes, " are accepted"));
  }
  for (char c : identity) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f)
      return BadForwarded("names an identity with control characters");
  }
  return identity;
}

}  // namespace

absl::StatusOr<std::string> ForwardedCertificateIdentity(absl::string_view value) {
  // A balancer forwards the same certificates over and over, and parsing
  // one costs far more than the lookup: the identities of those parsed are
  // remembered, up to kRemembered, then all forgotten at once (only
  // certificates a trusted balancer forwarded get here). The lock is held
  // for the lookup alone.
  constexpr size_t kRemembered = 1024;
  static std::mutex mutex;
  static auto* remembered = new absl::flat_hash_map<std::string, std::string>();
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = remembered->find(value);
    if (it != remembered->end()) return it->second;
  }
  absl::StatusOr<std::string> identity = ParseForwarded(value);
  if (identity.ok()) {
    std::lock_guard<std::mutex> lock(mutex);
    if (remembered->size() >= kRemembered) remembered->clear();
    remembered->emplace(value, *identity);
  }
  return identity;
}

const char* RoleName(Role role) {
  switch (role) {
    case Role::kEvaluate:
      return "evaluate";
    case Role::kReview:
      return "review";
    case Role::kAdmin:
      return "admin";
  }
  return "?";
}

std::optional<Role> RoleFor(absl::string_view method) {
  for (const MethodRole& entry : kMethodRoles) {
    if (method == entry.method) return entry.role;
  }
  return std::nullopt;
}

std::vector<std::string> MethodsWithRoles() {
  std::vector<std::string> methods;
  for (const MethodRole& entry : kMethodRoles) methods.emplace_back(entry.method);
  return methods;
}

absl::StatusOr<std::shared_ptr<const AccessPolicy>> AccessPolicy::Load(
    const std::string& roles_path, const std::string& tokens_path,
    const std::string& balancers_path) {
  auto policy = std::make_shared<AccessPolicy>();
  if (!roles_path.empty()) {
    absl::StatusOr<std::string> text = ReadWhole(roles_path, "roles");
    if (!text.ok()) return text.status();
    policy->enforced_ = true;
    absl::Status status =
        ForEachEntry(*text, [&](absl::string_view role_name, absl::string_view identity, int line) {
          const std::optional<Role> role = ParseRole(role_name);
          if (!role) {
            return absl::InvalidArgumentError(
                absl::StrCat(roles_path, ":", line, ": unknown role `", engine::EchoText(role_name),
                             "`; the roles are evaluate, review and admin"));
          }
          if (identity.empty()) {
            return absl::InvalidArgumentError(absl::StrCat(roles_path, ":", line, ": `", role_name,
                                                           "` needs an identity after it"));
          }
          policy->roles_[std::string(identity)] |= static_cast<uint8_t>(*role);
          return absl::OkStatus();
        });
    if (!status.ok()) return status;
  }
  if (!tokens_path.empty()) {
    absl::StatusOr<std::string> text = ReadWhole(tokens_path, "tokens");
    if (!text.ok()) return text.status();
    absl::Status status =
        ForEachEntry(*text, [&](absl::string_view hash, absl::string_view identity, int line) {
          if (!IsSha256Hex(hash) || identity.empty()) {
            return absl::InvalidArgumentError(absl::StrCat(
                tokens_path, ":", line,
                ": expected the sha256 of a token (64 hex digits) and then its identity; the "
                "file holds token hashes, never tokens"));
          }
          policy->tokens_[absl::AsciiStrToLower(hash)] = std::string(identity);
          return absl::OkStatus();
        });
    if (!status.ok()) return status;
  }
  if (!balancers_path.empty()) {
    absl::StatusOr<std::string> text = ReadWhole(balancers_path, "trusted balancers");
    if (!text.ok()) return text.status();
    for (absl::string_view raw : absl::StrSplit(*text, '\n')) {
      absl::string_view identity = absl::StripAsciiWhitespace(raw);
      if (identity.empty() || identity[0] == '#') continue;
      policy->balancers_.emplace(identity);
    }
    if (policy->balancers_.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the trusted balancers file `", balancers_path,
          "` names no balancer: one identity per line, a balancer's own certificate's"));
    }
  }
  return std::shared_ptr<const AccessPolicy>(std::move(policy));
}

bool AccessPolicy::Allows(const std::string& identity, Role role) const {
  if (!enforced_) return true;
  auto it = roles_.find(identity);
  return it != roles_.end() && (it->second & static_cast<uint8_t>(role)) != 0;
}

const std::string* AccessPolicy::IdentityForToken(absl::string_view token) const {
  auto it = tokens_.find(crypto::Sha256Hex(token));
  return it == tokens_.end() ? nullptr : &it->second;
}

namespace {

// The caller the connection itself proves: its client certificate, else a
// bearer token; `from_certificate` says which.
CallerIdentity ConnectionIdentity(const grpc::ServerContextBase& context,
                                  const AccessPolicy& policy, bool* from_certificate) {
  CallerIdentity caller;
  *from_certificate = false;
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  bool tls = false;
  if (auth != nullptr) {
    // "ssl" from SslServerCredentials, "tls" from TlsServerCredentials.
    const std::string security = FirstProperty(*auth, GRPC_TRANSPORT_SECURITY_TYPE_PROPERTY_NAME);
    tls = security == "ssl" || security == "tls";
    // A verified client certificate: URI SAN, then DNS SAN, then the CN.
    for (const char* property :
         {GRPC_PEER_URI_PROPERTY_NAME, GRPC_PEER_DNS_PROPERTY_NAME, GRPC_X509_CN_PROPERTY_NAME}) {
      caller.identity = FirstProperty(*auth, property);
      if (!caller.identity.empty()) {
        *from_certificate = true;
        return caller;
      }
    }
  }
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return caller;
  const absl::string_view value(it->second.data(), it->second.size());
  absl::string_view token = value;
  if (!absl::ConsumePrefix(&token, "Bearer ") && !absl::ConsumePrefix(&token, "bearer ")) {
    caller.status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                 "the authorization metadata must be `Bearer TOKEN`");
    return caller;
  }
  if (!tls) {
    caller.status =
        grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "bearer tokens are accepted over TLS only");
    return caller;
  }
  const std::string* identity = policy.IdentityForToken(token);
  if (identity == nullptr) {
    caller.status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "unknown bearer token");
    return caller;
  }
  caller.identity = *identity;
  return caller;
}

}  // namespace

void ApplyForwarded(const AccessPolicy& policy, bool from_certificate,
                    const std::vector<absl::string_view>& forwarded, CallerIdentity* caller) {
  if (!caller->status.ok()) return;
  const bool balancer = from_certificate && policy.IsBalancer(caller->identity);
  if (forwarded.empty()) {
    if (balancer) {
      caller->status =
          grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                       absl::StrCat("the call came through the balancer `",
                                    engine::EchoText(caller->identity, 128),
                                    "` without a client certificate: present one to the balancer"));
    }
    return;
  }
  if (!balancer) {
    caller->status = grpc::Status(
        grpc::StatusCode::PERMISSION_DENIED,
        absl::StrCat(caller->identity.empty()
                         ? std::string("a caller without a certificate")
                         : absl::StrCat("`", engine::EchoText(caller->identity, 128), "`"),
                     " is not a trusted balancer and may not send ", kForwardedCertificateHeader,
                     " (another caller's certificate)"));
    return;
  }
  if (forwarded.size() > 1) {
    caller->status =
        grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                     absl::StrCat("the call carries ", forwarded.size(), " ",
                                  kForwardedCertificateHeader, " values; a balancer forwards one"));
    return;
  }
  absl::StatusOr<std::string> identity = ForwardedCertificateIdentity(forwarded.front());
  if (!identity.ok()) {
    caller->status =
        grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(identity.status().message()));
    return;
  }
  caller->via = std::move(caller->identity);
  caller->identity = *std::move(identity);
}

CallerIdentity IdentifyCaller(const grpc::ServerContextBase& context, const AccessPolicy& policy) {
  bool from_certificate = false;
  CallerIdentity caller = ConnectionIdentity(context, policy, &from_certificate);
  // One lookup for calls without the header, where no balancer is trusted.
  const auto& metadata = context.client_metadata();
  auto [first, last] = metadata.equal_range(kForwardedCertificateHeader);
  if (first == last && policy.balancers() == 0) return caller;
  std::vector<absl::string_view> forwarded;
  for (auto it = first; it != last; ++it)
    forwarded.emplace_back(it->second.data(), it->second.size());
  ApplyForwarded(policy, from_certificate, forwarded, &caller);
  return caller;
}

grpc::Status Authorizer::Check(const grpc::ServerContextBase& context, absl::string_view method,
                               std::string* identity, std::string* via) const {
  const std::shared_ptr<const AccessPolicy> access = policy();
  const std::string name(method);
  CallerIdentity caller = IdentifyCaller(context, *access);
  if (!caller.status.ok()) {
    if (LogAllowed()) {
      spdlog::warn("refused {} from {}: {}", name, context.peer(), caller.status.error_message());
    }
    return caller.status;
  }
  if (caller.identity.empty()) {
    if (access->enforced()) {
      if (LogAllowed()) spdlog::warn("refused {} from {}: no identity", name, context.peer());
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "no identity: present a client certificate or a bearer token");
    }
    caller.identity = kAnonymous;
  }
  const std::optional<Role> role = RoleFor(method);
  if (access->enforced() && (!role || !access->Allows(caller.identity, *role))) {
    if (LogAllowed()) {
      spdlog::warn("permission denied: `{}`{}{} may not call {} (needs role {})", caller.identity,
                   caller.via.empty() ? "" : " via ", caller.via, name,
                   role ? RoleName(*role) : "none grants it");
    }
    return grpc::Status(
        grpc::StatusCode::PERMISSION_DENIED,
        absl::StrCat("`", engine::EchoText(caller.identity, 128), "` may not call ", method,
                     role ? absl::StrCat(" (needs the role ", RoleName(*role), ")")
                          : std::string(" (no role grants it)")));
  }
  *identity = std::move(caller.identity);
  if (via != nullptr) *via = std::move(caller.via);
  return grpc::Status::OK;
}

std::shared_ptr<const AccessPolicy> Authorizer::policy() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return policy_;
}

void Authorizer::Replace(std::shared_ptr<const AccessPolicy> policy) {
  std::lock_guard<std::mutex> lock(mutex_);
  policy_ = std::move(policy);
}

bool CallsPerCaller::Enter(const std::string& identity) {
  std::lock_guard<std::mutex> lock(mutex_);
  int64_t& count = in_flight_[identity];
  if (limit_ > 0 && count >= limit_) return false;
  ++count;
  return true;
}

void CallsPerCaller::Leave(const std::string& identity) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = in_flight_.find(identity);
  if (it == in_flight_.end()) return;
  if (--it->second <= 0) in_flight_.erase(it);
}

}  // namespace creditd::server
