#pragma once

// Who is calling and what they may do. A caller's identity comes from its
// client certificate (URI SAN, then DNS SAN, then the subject's CN) or, on a
// TLS connection without one, from a bearer token looked up by its sha256 in
// the tokens file. Behind an L7 balancer that ends the client's TLS, the
// connection's own certificate is the balancer's: a balancer named in the
// trusted-balancers file forwards its client's certificate in a header
// (kForwardedCertificateHeader), and the caller is that certificate's
// identity, by the same rule. Roles come from the roles file; each handler
// asks for the role its method needs (Debian's gRPC has no
// authorization-policy library).

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"

namespace creditd::server {

enum class Role : uint8_t { kEvaluate = 1, kReview = 2, kAdmin = 4 };

// "evaluate", "review", "admin".
const char* RoleName(Role role);

// The role method `method` ("/credit.v1.DecisionService/Evaluate") needs;
// nullopt for a method no role grants, which is then denied to everyone while
// roles are enforced (a method added later is closed until given a role).
std::optional<Role> RoleFor(absl::string_view method);

// Every method RoleFor knows, for tests that hold it to the API.
std::vector<std::string> MethodsWithRoles();

// The identity of callers that present none, where none is required.
inline constexpr char kAnonymous[] = "anonymous";

// The metadata a trusted L7 balancer forwards its client's certificate in:
// the DER bytes, base64 (HAProxy: `%[ssl_c_der,base64]`), one value.
inline constexpr char kForwardedCertificateHeader[] = "x-ssl-client-der";
// Its longest value; a client certificate is about 1 KiB.
inline constexpr size_t kMaxForwardedCertificateBytes = 8192;
// The longest identity a forwarded certificate may name.
inline constexpr size_t kMaxForwardedIdentityBytes = 1024;

// The identity of a forwarded certificate (the header's value): its first
// URI SAN, else its first DNS SAN, else its first subject CN, as for a
// certificate presented directly. InvalidArgument, saying why without
// repeating the value, for an empty value (the balancer's client presented
// no certificate), one over kMaxForwardedCertificateBytes, one that is not
// base64 (standard alphabet, padded, no whitespace) of exactly one DER
// certificate, or a certificate naming no identity, or one over
// kMaxForwardedIdentityBytes or holding control characters. The
// certificate's signature and dates are not checked here: the balancer
// verified them in its handshake with the client, and is trusted to.
// Thread-safe; the identities of up to 1024 certificates parsed are
// remembered, as parsing costs far more than looking one up.
absl::StatusOr<std::string> ForwardedCertificateIdentity(absl::string_view value);

// The roles file and the tokens file, as loaded: immutable, replaced whole on
// SIGHUP.
//
// Roles file: one grant per line, `ROLE IDENTITY`; the identity is the rest of
// the line (it may hold spaces, as a CN can). `#` starts a comment line.
//   evaluate  spiffe://example.com/orders
//   admin     Credit Operations
// Tokens file: one token per line, `SHA256 IDENTITY`: the token's sha256 in
// hex (`printf %s "$TOKEN" | sha256sum`), never the token itself.
// Trusted-balancers file: one identity per line (the whole line, trimmed),
// the identity of a balancer's own client certificate.
class AccessPolicy {
 public:
  // Reads the files; an empty path means no such file. InvalidArgument
  // naming the file and line for any malformed line, an unknown role, or a
  // token that is not a sha256, and for a balancers file that names no
  // balancer; NotFound when a file cannot be read.
  static absl::StatusOr<std::shared_ptr<const AccessPolicy>> Load(
      const std::string& roles_path, const std::string& tokens_path,
      const std::string& balancers_path = "");

  // True with a roles file: only granted roles are allowed, and a caller
  // without an identity is refused. False: every caller has every role.
  bool enforced() const { return enforced_; }
  bool has_tokens() const { return !tokens_.empty(); }
  // Does `identity` hold `role`? (Always true when not enforced.)
  bool Allows(const std::string& identity, Role role) const;
  // The identity whose token hashes to `token`'s sha256; null when none.
  const std::string* IdentityForToken(absl::string_view token) const;
  size_t grants() const { return roles_.size(); }
  // Is `identity`, proved by a connection's client certificate, a trusted
  // balancer?
  bool IsBalancer(const std::string& identity) const { return balancers_.contains(identity); }
  size_t balancers() const { return balancers_.size(); }

 private:
  bool enforced_ = false;
  absl::flat_hash_map<std::string, uint8_t> roles_;       // identity -> role bits
  absl::flat_hash_map<std::string, std::string> tokens_;  // sha256 hex -> identity
  absl::flat_hash_set<std::string> balancers_;
};

// The identity a call carries, or why it carries none that can be used:
// UNAUTHENTICATED for a bearer token sent in plaintext or not in the tokens
// file, PERMISSION_DENIED or UNAUTHENTICATED for a forwarded certificate
// that cannot be used (ApplyForwarded). An empty identity with OK status:
// the caller presented nothing.
struct CallerIdentity {
  std::string identity;
  // The trusted balancer the call came through, when `identity` is the
  // certificate it forwarded; empty for a direct caller.
  std::string via;
  grpc::Status status;
};
CallerIdentity IdentifyCaller(const grpc::ServerContextBase& context, const AccessPolicy& policy);

// The forwarding rule, given the identity the connection itself proved in
// `caller` (`from_certificate`: by its client certificate, rather than a
// token or nothing) and the values of kForwardedCertificateHeader the call
// carries:
// - none: the caller stays, unless it is a trusted balancer, which is never
//   a caller itself (UNAUTHENTICATED: its client presented no certificate);
// - from a connection that is not a trusted balancer's certificate:
//   PERMISSION_DENIED, whoever sent it (only a balancer may speak for
//   another);
// - more than one, or one ForwardedCertificateIdentity refuses:
//   UNAUTHENTICATED;
// - else the caller becomes the forwarded identity, `via` the balancer.
void ApplyForwarded(const AccessPolicy& policy, bool from_certificate,
                    const std::vector<absl::string_view>& forwarded, CallerIdentity* caller);

// The current access policy and the check every handler makes. Thread-safe.
class Authorizer {
 public:
  explicit Authorizer(std::shared_ptr<const AccessPolicy> policy) : policy_(std::move(policy)) {}

  // May the caller call `method`? OK with `*identity` set (kAnonymous for a
  // caller that presented none while roles are not enforced), else
  // UNAUTHENTICATED (no usable identity where one is required) or
  // PERMISSION_DENIED (the identity lacks the method's role; logged with the
  // identity).
  // `via`, when given, is set to the balancer the call came through (empty
  // for a direct caller).
  grpc::Status Check(const grpc::ServerContextBase& context, absl::string_view method,
                     std::string* identity, std::string* via = nullptr) const;

  std::shared_ptr<const AccessPolicy> policy() const;
  void Replace(std::shared_ptr<const AccessPolicy> policy);

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const AccessPolicy> policy_;
};

// Calls in flight per identity, bounded: a caller that floods the server is
// refused (RESOURCE_EXHAUSTED) without crowding others out. Thread-safe.
class CallsPerCaller {
 public:
  explicit CallsPerCaller(int64_t limit) : limit_(limit) {}
  // Counts a call for `identity`; false (nothing counted) when it already has
  // `limit` calls in flight. A limit of 0 means none.
  bool Enter(const std::string& identity);
  void Leave(const std::string& identity);
  int64_t limit() const { return limit_; }

 private:
  const int64_t limit_;
  std::mutex mutex_;
  absl::flat_hash_map<std::string, int64_t> in_flight_;
};

}  // namespace creditd::server
