// creditctl: the policy author's command-line tool.
#include <iostream>
#include <string>
#include <vector>

#include "cli/creditctl.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return creditd::cli::RunCreditctl(args, std::cout, std::cerr);
}
