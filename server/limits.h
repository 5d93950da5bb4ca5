#pragma once

#include <cstddef>
#include <cstdint>

namespace creditd::server {

// Every size and count a caller controls, with its bound. Going over one is
// answered with a clear error for that call (or stream item) alone; other
// callers are not disturbed. docs/operations.md lists them with their flags.
struct Limits {
  // An EvaluateRequest, unary or one stream item, in bytes: larger ones get
  // RESOURCE_EXHAUSTED (a stream item alone; the stream goes on). Whole
  // messages above --max_message_bytes are refused by gRPC itself.
  size_t max_request_bytes = 256 << 10;
  // Facts in one request.
  int max_facts = 256;
  // A fact's name, the decision's name and a pinned version, in bytes.
  size_t max_name_bytes = 128;
  // A fact's text value (decimal, enum symbol, date), in bytes.
  size_t max_value_bytes = 256;
  // request_id and customer_id, in bytes.
  size_t max_id_bytes = 128;
  // A candidate policy sent to ValidatePolicy, in bytes (the parser's own
  // file limit).
  size_t max_policy_bytes = 1 << 20;
  // EvaluateStream calls open at once; more get RESOURCE_EXHAUSTED.
  int max_streams = 64;
  // Per stream: requests read ahead and answers waiting to be sent, by
  // count and by bytes; past either, the stream stops reading until answers
  // have been sent.
  size_t stream_window = 1024;
  size_t stream_window_bytes = 8 << 20;
  // Calls in flight (unary calls not yet answered, open streams) per caller
  // identity; more get RESOURCE_EXHAUSTED. 0: no limit.
  int64_t max_calls_per_caller = 2048;
  // ValidatePolicy and Reload calls waiting for the policy worker; more get
  // RESOURCE_EXHAUSTED.
  size_t max_policy_jobs = 8;
};

}  // namespace creditd::server
