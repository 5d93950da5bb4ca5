#pragma once

#include "absl/status/status.h"
#include "server/server_options.h"

namespace creditd::server {

// Checks what gRPC's file watcher would otherwise take silently: the
// certificate chain and key parse as PEM and belong together, the leaf has
// not expired, the client CA bundle holds at least one certificate, the CRL
// directory exists. InvalidArgument naming the file and the problem.
absl::Status CheckTlsFiles(const TlsOptions& tls);

}  // namespace creditd::server
