#pragma once

// A decision log for tests, filled as creditd fills one: the policies of a
// directory stored, and each request decided (server::Decide) and appended.

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "audit/sqlite_audit.h"
#include "credit/v1/creditd.pb.h"
#include "engine/bundle.h"
#include "gtest/gtest.h"
#include "server/decide.h"

namespace creditd::cli::testing {

// The log `name` (in the test's temporary directory, made afresh) of
// `requests` decided on the policies of `dir`.
inline std::string DecisionLog(const std::string& dir,
                               const std::vector<credit::v1::EvaluateRequest>& requests,
                               const std::string& name) {
  engine::DiskFileReader reader;
  absl::StatusOr<engine::BundleLoad> load = engine::LoadBundle(dir, reader);
  EXPECT_TRUE(load.ok() && load->bundle != nullptr) << (load.ok() ? load->report : "");
  engine::Registry registry;
  EXPECT_TRUE(registry.Install(load->bundle).ok());
  const std::string path = absl::StrCat(::testing::TempDir(), getpid(), "-", name, ".db");
  std::error_code absent;
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix, absent);
  auto sink = audit::SqliteAuditSink::Open(path, {});
  EXPECT_TRUE(sink.ok()) << sink.status();
  for (const auto& [decision, versions] : load->bundle->decisions) {
    for (const engine::BundleVersion& v : versions.versions) {
      EXPECT_TRUE((*sink)->StorePolicy(server::SourceToStore(*v.policy)).ok());
    }
  }
  for (const credit::v1::EvaluateRequest& request : requests) {
    credit::v1::Decision answer;
    server::Decided d = server::Decide(registry, request, &answer);
    EXPECT_TRUE(d.status.ok()) << d.status.error_message();
    EXPECT_TRUE((*sink)->Append(d.record).ok());
  }
  return path;
}

}  // namespace creditd::cli::testing
