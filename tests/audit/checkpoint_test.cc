#include "audit/checkpoint.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace creditd::audit {
namespace {

using ::testing::HasSubstr;

// Writes a fresh Ed25519 pair as PEM files NAME.key and NAME.pub.
std::string MakeKeyPair(const std::string& name) {
  const std::string base = ::testing::TempDir() + name;
  EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  EXPECT_NE(pkey, nullptr);
  std::FILE* f = std::fopen((base + ".key").c_str(), "w");
  EXPECT_EQ(PEM_write_PrivateKey(f, pkey, nullptr, nullptr, 0, nullptr, nullptr), 1);
  std::fclose(f);
  f = std::fopen((base + ".pub").c_str(), "w");
  EXPECT_EQ(PEM_write_PUBKEY(f, pkey), 1);
  std::fclose(f);
  EVP_PKEY_free(pkey);
  return base;
}

Checkpoint Sample(int64_t records, const std::string& head) {
  Checkpoint c;
  c.log_id = "00112233445566778899aabbccddeeff";
  c.chain_id = "main";
  c.records = records;
  c.head = head;
  c.time = "2026-11-30T12:00:00Z";
  return c;
}

std::string Hash(char c) { return std::string(64, c); }

TEST(CheckpointTest, SignsANoteThatOpensWithThePublicKeyOnly) {
  const std::string pair = MakeKeyPair("sign");
  auto signer = CheckpointKey::FromPrivateKeyFile(pair + ".key");
  ASSERT_TRUE(signer.ok()) << signer.status();
  auto verifier = CheckpointKey::FromPublicKeyFile(pair + ".pub");
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  EXPECT_EQ(signer->id(), verifier->id());
  EXPECT_EQ(signer->id().size(), 8u);
  EXPECT_FALSE(verifier->can_sign());

  const Checkpoint c = Sample(42, Hash('a'));
  absl::StatusOr<std::string> note = signer->Sign(c);
  ASSERT_TRUE(note.ok()) << note.status();
  EXPECT_EQ(note->substr(0, CheckpointBody(c).size()), CheckpointBody(c));
  EXPECT_EQ(CheckpointBody(c),
            "creditd audit log checkpoint\nlog 00112233445566778899aabbccddeeff\nchain main\n"
            "records 42\nhead " +
                Hash('a') + "\ntime 2026-11-30T12:00:00Z\n");
  absl::StatusOr<Checkpoint> opened = verifier->Open(*note);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->records, 42);
  EXPECT_EQ(opened->head, Hash('a'));
  EXPECT_EQ(opened->log_id, c.log_id);
  EXPECT_FALSE(verifier->Sign(c).ok());
}

TEST(CheckpointTest, AChangedNoteOrAnotherKeyIsRefused) {
  const std::string pair = MakeKeyPair("tamper");
  const std::string other = MakeKeyPair("other");
  auto signer = CheckpointKey::FromPrivateKeyFile(pair + ".key");
  auto verifier = CheckpointKey::FromPublicKeyFile(pair + ".pub");
  auto stranger = CheckpointKey::FromPublicKeyFile(other + ".pub");
  ASSERT_TRUE(signer.ok() && verifier.ok() && stranger.ok());
  const std::string note = *signer->Sign(Sample(42, Hash('a')));
  // One more record claimed: the signature no longer covers the text.
  const std::string changed = absl::StrReplaceAll(note, {{"records 42", "records 43"}});
  EXPECT_EQ(verifier->Open(changed).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(stranger->Open(note).status().message()),
              HasSubstr(absl::StrCat("signed by key ", signer->id())));
  for (const std::string& bad :
       {std::string(""), std::string("creditd audit log checkpoint\n"),
        absl::StrReplaceAll(note, {{"\xe2\x80\x94 creditd ", "- creditd "}}),
        absl::StrReplaceAll(note, {{"chain main\n", ""}}), note + "extra line\n"}) {
    EXPECT_FALSE(verifier->Open(bad).ok()) << bad;
  }
}

TEST(CheckpointTest, KeysThatAreNotEd25519AreRefused) {
  const std::string path = ::testing::TempDir() + "rsa.key";
  EVP_PKEY* rsa = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
  ASSERT_NE(rsa, nullptr);
  std::FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_EQ(PEM_write_PrivateKey(f, rsa, nullptr, nullptr, 0, nullptr, nullptr), 1);
  std::fclose(f);
  EVP_PKEY_free(rsa);
  auto key = CheckpointKey::FromPrivateKeyFile(path);
  ASSERT_FALSE(key.ok());
  EXPECT_THAT(std::string(key.status().message()), HasSubstr("is not an Ed25519 key"));
  EXPECT_FALSE(CheckpointKey::FromPrivateKeyFile(::testing::TempDir() + "missing.key").ok());
}

std::vector<CheckpointFile> Files(const std::vector<Checkpoint>& checkpoints) {
  std::vector<CheckpointFile> files;
  for (const Checkpoint& c : checkpoints) {
    files.push_back({absl::StrCat(c.records, "-", c.head.substr(0, 4), ".checkpoint"), c});
  }
  return files;
}

const LogIdentity kLog{"00112233445566778899aabbccddeeff", "main"};

TEST(CheckpointTest, ALogThatAgreesHasNoProblems) {
  const CheckpointReport report =
      CheckLogAgainst(Files({Sample(10, Hash('a')), Sample(20, Hash('b'))}), kLog, 25,
                      {{10, Hash('a')}, {20, Hash('b')}});
  EXPECT_TRUE(report.problems.empty());
  EXPECT_EQ(report.checked, 2);
  EXPECT_EQ(report.covered, 20);
}

TEST(CheckpointTest, RecordsCutOffAreTruncation) {
  const CheckpointReport report = CheckLogAgainst(
      Files({Sample(10, Hash('a')), Sample(20, Hash('b'))}), kLog, 15, {{10, Hash('a')}});
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_EQ(report.problems[0].kind, CheckpointProblem::Kind::kTruncated);
  EXPECT_EQ(report.problems[0].first_record, 16);
  EXPECT_THAT(report.problems[0].message, HasSubstr("records 16 to 20 were cut off"));
  // Everything cut: the log is empty.
  const CheckpointReport empty = CheckLogAgainst(Files({Sample(10, Hash('a'))}), kLog, 0, {});
  ASSERT_EQ(empty.problems.size(), 1u);
  EXPECT_EQ(empty.problems[0].first_record, 1);
}

TEST(CheckpointTest, AnotherHeadAtACheckpointedCountIsARewrite) {
  const CheckpointReport report =
      CheckLogAgainst(Files({Sample(10, Hash('a')), Sample(20, Hash('b'))}), kLog, 20,
                      {{10, Hash('a')}, {20, Hash('x')}});
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_EQ(report.problems[0].kind, CheckpointProblem::Kind::kRewritten);
  EXPECT_EQ(report.problems[0].first_record, 11);
  EXPECT_THAT(report.problems[0].message, HasSubstr("from record 11"));
}

TEST(CheckpointTest, TwoSignedHistoriesAreAFork) {
  // Two heads signed for one count.
  CheckpointReport report =
      CheckLogAgainst(Files({Sample(10, Hash('a')), Sample(20, Hash('b')), Sample(20, Hash('c'))}),
                      kLog, 20, {{10, Hash('a')}, {20, Hash('c')}});
  ASSERT_FALSE(report.problems.empty());
  EXPECT_EQ(report.problems[0].kind, CheckpointProblem::Kind::kForked);
  EXPECT_EQ(report.problems[0].first_record, 11);
  // A later checkpoint signs this log, an earlier one another history.
  report = CheckLogAgainst(Files({Sample(10, Hash('a')), Sample(30, Hash('d'))}), kLog, 30,
                           {{10, Hash('z')}, {30, Hash('d')}});
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_EQ(report.problems[0].kind, CheckpointProblem::Kind::kForked);
  EXPECT_EQ(report.problems[0].first_record, 1);
}

TEST(CheckpointTest, CheckpointsOfAnotherLogOnlyAreReported) {
  Checkpoint c = Sample(10, Hash('a'));
  c.log_id = "ffffffffffffffffffffffffffffffff";
  const CheckpointReport report = CheckLogAgainst(Files({c}), kLog, 10, {{10, Hash('a')}});
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_EQ(report.problems[0].kind, CheckpointProblem::Kind::kOtherLog);
  EXPECT_EQ(report.checked, 0);
}

TEST(CheckpointTest, TheCheckpointerWritesWhenTheHeadMovesAndAtStop) {
  const std::string pair = MakeKeyPair("writer");
  const std::string dir = ::testing::TempDir() + "checkpoints";
  std::error_code error;
  std::filesystem::remove_all(dir, error);
  auto key = CheckpointKey::FromPrivateKeyFile(pair + ".key");
  ASSERT_TRUE(key.ok());
  ChainHead head{3, Hash('a')};
  std::vector<std::string> written;
  CheckpointerOptions options;
  options.dir = dir;
  options.interval = absl::Hours(1);
  options.on_written = [&](const std::string& file) { written.push_back(file); };
  Checkpointer checkpointer(
      *std::move(key), kLog, [&] { return head; }, options);
  ASSERT_TRUE(checkpointer.Start().ok());
  ASSERT_TRUE(checkpointer.WriteNow().ok());  // unchanged: nothing new
  head = {7, Hash('b')};
  ASSERT_TRUE(checkpointer.Stop().ok());
  ASSERT_EQ(written.size(), 2u);
  EXPECT_EQ(written[0], "000000000003-aaaaaaaaaaaaaaaa.checkpoint");
  auto verifier = CheckpointKey::FromPublicKeyFile(pair + ".pub");
  ASSERT_TRUE(verifier.ok());
  absl::StatusOr<CheckpointDir> read = ReadCheckpointDir(dir, *verifier);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(read->refused.empty());
  ASSERT_EQ(read->checkpoints.size(), 2u);
  EXPECT_EQ(read->checkpoints[1].checkpoint.records, 7);
  // A stray or forged file is listed, not trusted.
  std::ofstream(dir + "/000000000009-forged.checkpoint") << "creditd audit log checkpoint\n";
  read = ReadCheckpointDir(dir, *verifier);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->checkpoints.size(), 2u);
  ASSERT_EQ(read->refused.size(), 1u);
  EXPECT_THAT(read->refused[0], HasSubstr("000000000009-forged.checkpoint"));
}

}  // namespace
}  // namespace creditd::audit
