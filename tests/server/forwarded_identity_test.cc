// The trust rule for callers behind an L7 balancer: only a trusted
// balancer's connection may forward a client certificate, a balancer is
// never a caller itself, and the forwarded certificate is held to bounds
// before its identity is taken by the rule a direct certificate follows.
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "server/auth.h"

namespace creditd::server {
namespace {

std::string WriteFile(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

// A self-signed P-256 certificate's DER bytes: its subject an O entry and a
// CN entry per name given, its subjectAltName `san` when not empty
// (OpenSSL's config syntax, "URI:a,DNS:b").
std::string CertificateDer(const std::vector<std::string>& common_names, const std::string& san) {
  std::unique_ptr<EVP_PKEY, KeyFree> key(EVP_EC_gen("P-256"));
  std::unique_ptr<X509, X509Free> cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("Credit Test"), -1, -1, 0);
  for (const std::string& cn : common_names) {
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(cn.data()),
                               static_cast<int>(cn.size()), -1, 0);
  }
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key.get());
  if (!san.empty()) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, san.c_str());
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(cert.get(), key.get(), EVP_sha256());
  unsigned char* der = nullptr;
  const int length = i2d_X509(cert.get(), &der);
  std::string out(reinterpret_cast<const char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  return out;
}

// The header's value for a certificate, as HAProxy writes it.
std::string Forwarded(const std::vector<std::string>& common_names, const std::string& san) {
  return absl::Base64Escape(CertificateDer(common_names, san));
}

std::string IdentityOf(const std::string& value) {
  absl::StatusOr<std::string> identity = ForwardedCertificateIdentity(value);
  return identity.ok() ? *identity : "error: " + std::string(identity.status().message());
}

TEST(ForwardedIdentityTest, TheSameRuleAsADirectCertificate) {
  // URI SAN first, then DNS SAN, then the subject's first CN.
  EXPECT_EQ(IdentityOf(Forwarded({"orders"}, "DNS:orders.test,URI:spiffe://credit.test/orders")),
            "spiffe://credit.test/orders");
  EXPECT_EQ(IdentityOf(Forwarded({"auditor"}, "DNS:auditor.test,DNS:second.test")), "auditor.test");
  EXPECT_EQ(IdentityOf(Forwarded({"Credit Operations", "second"}, "")), "Credit Operations");
  // SANs that name no identity gRPC would take (an e-mail) fall to the CN.
  EXPECT_EQ(IdentityOf(Forwarded({"ops"}, "email:ops@credit.test")), "ops");
  EXPECT_EQ(IdentityOf(Forwarded({"\u00e9quipe"}, "")), "\u00e9quipe");
}

TEST(ForwardedIdentityTest, RefusesWhatIsNotOneBoundedCertificateWithAnIdentity) {
  const std::string good = Forwarded({"orders"}, "");
  auto refused = [](const std::string& value, const std::string& why) {
    absl::StatusOr<std::string> identity = ForwardedCertificateIdentity(value);
    ASSERT_FALSE(identity.ok()) << "accepted as " << *identity;
    EXPECT_EQ(identity.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(identity.status().message().find(why), std::string::npos)
        << identity.status().message();
    // The value is never repeated.
    if (value.size() > 8) {
      EXPECT_EQ(identity.status().message().find(value.substr(0, 8)), std::string::npos);
    }
  };
  // What a balancer sends when its client presented no certificate.
  refused("", "is empty");
  refused(std::string(kMaxForwardedCertificateBytes + 4, 'A'), "at most 8192");
  refused(good.substr(0, good.size() - 1), "not base64");              // padding cut
  refused(good.substr(0, 40) + "\n" + good.substr(40), "not base64");  // whitespace
  refused(good.substr(0, 40) + "*" + good.substr(41), "not base64");
  refused("AAAA=AAA", "not base64");  // padding inside
  refused(absl::Base64Escape("not a certificate"), "not one DER certificate");
  refused(absl::Base64Escape(CertificateDer({"orders"}, "") + "x"), "not one DER certificate");
  // Half a certificate, as a cut header would be.
  refused(absl::Base64Escape(CertificateDer({"orders"}, "").substr(0, 100)),
          "not one DER certificate");
  refused(Forwarded({}, ""), "names no identity");
  refused(Forwarded({"two\nlines"}, ""), "control characters");
  refused(Forwarded({}, "URI:spiffe://credit.test/" + std::string(kMaxForwardedIdentityBytes, 'a')),
          "at most 1024");
}

TEST(ForwardedIdentityTest, RepeatedCertificatesAreCheap) {
  // A balancer forwards the same certificates over and over: their
  // identities are remembered, and a new certificate is parsed.
  std::vector<std::string> clients;
  for (int i = 0; i < 200; ++i) clients.push_back(Forwarded({"client " + std::to_string(i)}, ""));
  const auto start = std::chrono::steady_clock::now();
  for (const std::string& client : clients) ASSERT_EQ(IdentityOf(client).find("client "), 0u);
  const auto parsed = std::chrono::steady_clock::now() - start;
  for (int round = 0; round < 50; ++round) {
    for (size_t i = 0; i < clients.size(); ++i) {
      ASSERT_EQ(IdentityOf(clients[i]), "client " + std::to_string(i));
    }
  }
  const auto remembered = std::chrono::steady_clock::now() - start - parsed;
  std::printf("forwarded identity: %.2f us parsed, %.2f us remembered\n",
              std::chrono::duration<double, std::micro>(parsed).count() / 200,
              std::chrono::duration<double, std::micro>(remembered).count() / (50 * 200));
}

std::shared_ptr<const AccessPolicy> WithBalancers() {
  auto policy =
      AccessPolicy::Load("", "",
                         WriteFile("balancers",
                                   "# the balancers' own certificates\n"
                                   "  spiffe://credit.test/balancer  \n\nEdge Balancer One\n"));
  EXPECT_TRUE(policy.ok()) << policy.status();
  return *policy;
}

CallerIdentity Apply(const AccessPolicy& policy, const std::string& peer, bool from_certificate,
                     const std::vector<absl::string_view>& forwarded) {
  CallerIdentity caller;
  caller.identity = peer;
  ApplyForwarded(policy, from_certificate, forwarded, &caller);
  return caller;
}

TEST(ForwardedIdentityTest, ReadsTheBalancersFile) {
  std::shared_ptr<const AccessPolicy> policy = WithBalancers();
  EXPECT_EQ(policy->balancers(), 2u);
  EXPECT_TRUE(policy->IsBalancer("spiffe://credit.test/balancer"));
  EXPECT_TRUE(policy->IsBalancer("Edge Balancer One"));  // a whole line, spaces and all
  EXPECT_FALSE(policy->IsBalancer("Edge"));
  auto empty = AccessPolicy::Load("", "", WriteFile("balancers_empty", "# none yet\n\n"));
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(empty.status().message().find("names no balancer"), std::string::npos);
  EXPECT_EQ(AccessPolicy::Load("", "", "/nonexistent/balancers").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ((*AccessPolicy::Load("", ""))->balancers(), 0u);
}

TEST(ForwardedIdentityTest, ATrustedBalancerSpeaksForItsClient) {
  std::shared_ptr<const AccessPolicy> policy = WithBalancers();
  const std::string orders = Forwarded({"orders"}, "URI:spiffe://credit.test/orders");
  CallerIdentity caller = Apply(*policy, "spiffe://credit.test/balancer", true, {orders});
  EXPECT_TRUE(caller.status.ok()) << caller.status.error_message();
  EXPECT_EQ(caller.identity, "spiffe://credit.test/orders");
  EXPECT_EQ(caller.via, "spiffe://credit.test/balancer");
  // A direct caller without the header is left as it is.
  caller = Apply(*policy, "spiffe://credit.test/orders", true, {});
  EXPECT_TRUE(caller.status.ok());
  EXPECT_EQ(caller.identity, "spiffe://credit.test/orders");
  EXPECT_EQ(caller.via, "");
}

TEST(ForwardedIdentityTest, OnlyATrustedBalancerMayForward) {
  std::shared_ptr<const AccessPolicy> policy = WithBalancers();
  const std::string admin = Forwarded({"Credit Operations"}, "");
  // A client with a certificate of its own, a caller with none, and a
  // token whose identity is spelled like a balancer's: none is a balancer.
  for (const auto& [peer, from_certificate] :
       std::vector<std::pair<std::string, bool>>{{"spiffe://credit.test/orders", true},
                                                 {"", false},
                                                 {"spiffe://credit.test/balancer", false}}) {
    for (const std::shared_ptr<const AccessPolicy>& trusting :
         {policy, *AccessPolicy::Load("", "")}) {
      CallerIdentity caller = Apply(*trusting, peer, from_certificate, {admin});
      EXPECT_EQ(caller.status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << peer;
      EXPECT_NE(caller.status.error_message().find("is not a trusted balancer"), std::string::npos);
      EXPECT_EQ(caller.via, "");
    }
  }
}

TEST(ForwardedIdentityTest, ABalancerIsNeverACallerItself) {
  std::shared_ptr<const AccessPolicy> policy = WithBalancers();
  // No certificate forwarded: its client presented none.
  CallerIdentity caller = Apply(*policy, "Edge Balancer One", true, {});
  EXPECT_EQ(caller.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(caller.status.error_message().find("without a client certificate"), std::string::npos);
  // An empty one, two, or one that is not a certificate.
  const std::string orders = Forwarded({"orders"}, "");
  for (const std::vector<absl::string_view>& forwarded :
       std::vector<std::vector<absl::string_view>>{{""}, {orders, orders}, {"bm90IGEgY2VydA=="}}) {
    caller = Apply(*policy, "Edge Balancer One", true, forwarded);
    EXPECT_EQ(caller.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(caller.via, "");
  }
}

TEST(ForwardedIdentityTest, AnEarlierRefusalStands) {
  std::shared_ptr<const AccessPolicy> policy = WithBalancers();
  CallerIdentity caller;
  caller.status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "unknown bearer token");
  ApplyForwarded(*policy, false, {}, &caller);
  EXPECT_EQ(caller.status.error_message(), "unknown bearer token");
}

}  // namespace
}  // namespace creditd::server
