// creditctl lsp: a Language Server Protocol server for policy files on
// stdin and stdout, for editors.
#include <iostream>

#include "CLI/CLI.hpp"
#include "cli/creditctl.h"
#include "cli/lsp_server.h"

namespace creditd::cli {

void AddLspCommand(CLI::App& app, Context& context) {
  auto* command = app.add_subcommand(
      "lsp", "Serve the Language Server Protocol on stdin and stdout, for editors");
  command->footer(
      "Diagnostics as you type (the codes of `creditctl check`), hover, go to definition\n"
      "across imports, document symbols, formatting (`creditctl fmt`) and completion.\n"
      "Imports are read from disk relative to each file, open documents taking precedence.\n"
      "Logs go to stderr. Exit status: 0 after a `shutdown` request, 1 otherwise.\n"
      "editors/README.md shows how to use it from VS Code, Neovim, Helix and Emacs.");
  command->callback(
      [&context] { context.exit_code = lsp::Serve(std::cin, context.out, context.err); });
}

}  // namespace creditd::cli
