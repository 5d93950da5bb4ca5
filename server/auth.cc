#include "server/auth.h"

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
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

}  // namespace

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
    const std::string& roles_path, const std::string& tokens_path) {
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

CallerIdentity IdentifyCaller(const grpc::ServerContextBase& context, const AccessPolicy& policy) {
  CallerIdentity caller;
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
      if (!caller.identity.empty()) return caller;
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

grpc::Status Authorizer::Check(const grpc::ServerContextBase& context, absl::string_view method,
                               std::string* identity) const {
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
      spdlog::warn("permission denied: `{}` may not call {} (needs role {})", caller.identity, name,
                   role ? RoleName(*role) : "none grants it");
    }
    return grpc::Status(
        grpc::StatusCode::PERMISSION_DENIED,
        absl::StrCat("`", engine::EchoText(caller.identity, 128), "` may not call ", method,
                     role ? absl::StrCat(" (needs the role ", RoleName(*role), ")")
                          : std::string(" (no role grants it)")));
  }
  *identity = std::move(caller.identity);
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
