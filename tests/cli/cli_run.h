#pragma once

// Runs creditctl in-process for a test: its exit code and what it printed.

#include <sstream>
#include <string>
#include <vector>

#include "cli/creditctl.h"

namespace creditd::cli {

struct CliRun {
  int code;
  std::string out;
  std::string err;
};

inline CliRun Creditctl(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  const int code = RunCreditctl(args, out, err);
  return {code, out.str(), err.str()};
}

}  // namespace creditd::cli
