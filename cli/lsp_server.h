#pragma once

// `creditctl lsp`: a Language Server Protocol (3.17) server for policy files
// over a byte stream (stdin and stdout), one request at a time.

#include <cstddef>
#include <istream>
#include <ostream>

namespace creditd::cli::lsp {

struct ServerOptions {
  // A longer message is refused and the server stops: its framing can no
  // longer be trusted, and reading it would hold that much memory.
  size_t max_message_bytes = size_t{16} << 20;
  // Documents open at once, and the bytes of their texts together; further
  // ones are not checked (and a document that grows past it is dropped).
  size_t max_documents = 256;
  size_t max_total_bytes = size_t{256} << 20;
};

// Serves messages from `in`, answering on `out` (nothing but protocol
// messages) and logging to `log`, until the `exit` notification or the end
// of `in`. Returns the exit code: 0 after a `shutdown` request, 1 otherwise
// (or when a message is too large).
int Serve(std::istream& in, std::ostream& out, std::ostream& log,
          const ServerOptions& options = {});

}  // namespace creditd::cli::lsp
