#pragma once

// Directories and files the engine tests make under the test's temporary
// directory.

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace creditd::engine::testing {

// A fresh, empty directory `name`, apart for each test process (test
// binaries of other checkouts may run at the same time).
inline std::string MakeDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + std::to_string(getpid()) + "-" + name;
  std::error_code error;
  std::filesystem::remove_all(dir, error);
  std::filesystem::create_directories(dir, error);
  EXPECT_FALSE(error) << error.message();
  return dir;
}

// Writes `text` to `path`, making its directories.
inline void Write(const std::string& path, const std::string& text) {
  std::error_code error;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), error);
  std::ofstream out(path, std::ios::binary);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

// `text` with its first `from` replaced by `to`; fails the test when there
// is no `from`.
inline std::string Edit(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  if (at == std::string::npos) {
    ADD_FAILURE() << "no `" << from << "` to replace";
    return text;
  }
  return text.replace(at, from.size(), to);
}

}  // namespace creditd::engine::testing
