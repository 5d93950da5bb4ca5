#include "crypto/ed25519.h"

#include <cstdio>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace creditd::crypto {
namespace {

using ::testing::HasSubstr;

TEST(Ed25519Test, SignsAndVerifies) {
  absl::StatusOr<Ed25519Key> key = Ed25519Key::Generate();
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_TRUE(key->can_sign());
  EXPECT_EQ(key->public_key().size(), kEd25519PublicKeyBytes);
  absl::StatusOr<std::string> signature = key->Sign("hello\n");
  ASSERT_TRUE(signature.ok()) << signature.status();
  EXPECT_EQ(signature->size(), kEd25519SignatureBytes);
  EXPECT_TRUE(key->Verify("hello\n", *signature));

  // The public half alone verifies, and cannot sign.
  absl::StatusOr<Ed25519Key> verifier = Ed25519Key::FromRawPublicKey(key->public_key());
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  EXPECT_FALSE(verifier->can_sign());
  EXPECT_TRUE(verifier->Verify("hello\n", *signature));
  EXPECT_FALSE(verifier->Sign("hello\n").ok());
  EXPECT_EQ(verifier->Id("domain\n", 4), key->Id("domain\n", 4));
  EXPECT_EQ(key->Id("domain\n", 4).size(), 8u);
  EXPECT_NE(key->Id("domain\n", 4), key->Id("other\n", 4));
}

TEST(Ed25519Test, AnotherKeyOrTamperedBytesDoNotVerify) {
  absl::StatusOr<Ed25519Key> key = Ed25519Key::Generate();
  absl::StatusOr<Ed25519Key> other = Ed25519Key::Generate();
  ASSERT_TRUE(key.ok() && other.ok());
  const std::string signature = *key->Sign("approve 1.0.0\n");
  EXPECT_FALSE(other->Verify("approve 1.0.0\n", signature));
  EXPECT_FALSE(key->Verify("approve 1.0.1\n", signature));
  EXPECT_FALSE(key->Verify("approve 1.0.0", signature));
  std::string flipped = signature;
  flipped[10] = static_cast<char>(flipped[10] ^ 1);
  EXPECT_FALSE(key->Verify("approve 1.0.0\n", flipped));
  EXPECT_FALSE(key->Verify("approve 1.0.0\n", signature.substr(1)));
  EXPECT_FALSE(key->Verify("approve 1.0.0\n", ""));
}

TEST(Ed25519Test, PemRoundTripsAndBadInputIsRefused) {
  absl::StatusOr<Ed25519Key> key = Ed25519Key::Generate();
  ASSERT_TRUE(key.ok());
  absl::StatusOr<std::string> pem = key->PrivateKeyPem();
  ASSERT_TRUE(pem.ok()) << pem.status();
  const std::string path = ::testing::TempDir() + "ed25519_test.key";
  std::FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs(pem->c_str(), f);
  std::fclose(f);
  absl::StatusOr<Ed25519Key> read = Ed25519Key::FromPrivateKeyFile(path, "test key");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->public_key(), key->public_key());
  EXPECT_TRUE(key->Verify("x", *read->Sign("x")));

  absl::StatusOr<Ed25519Key> bad = Ed25519Key::FromPrivateKeyPem("not pem", "key K");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "key K is not a PEM private key");
  EXPECT_FALSE(Ed25519Key::FromPublicKeyPem(*pem, "key K").ok());
  absl::StatusOr<Ed25519Key> missing =
      Ed25519Key::FromPrivateKeyFile(::testing::TempDir() + "missing.key", "test key");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("test key `"));
  EXPECT_FALSE(Ed25519Key::FromRawPublicKey(std::string(31, 'a')).ok());
}

}  // namespace
}  // namespace creditd::crypto
