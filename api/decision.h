#pragma once

// The API's answer, credit.v1.Decision, made from what the engine decided,
// and its bytes in the decision log. creditd answers with it and logs it;
// creditctl replays a logged decision through the same code and compares.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "credit/v1/creditd.pb.h"
#include "engine/decision.h"
#include "engine/types.h"
#include "engine/value.h"
#include "google/protobuf/message_lite.h"

namespace creditd::api {

// `value`, of `type`, as the API's Value: decimals as exact text (money with
// at least two places, or exactly `places` when it is 0 or more: an edition 2
// money output; percents as fractions), dates ISO, enum symbols, sets as
// sorted symbols (an empty set is still a set).
void FillValue(const engine::Value& value, const engine::Type& type, credit::v1::Value* out,
               int places = -1);

// What the engine decided, into `out`: decision, policy, outcome, outputs
// with a value, reasons, scorecards and the trace (when evaluated with
// one). The caller adds decision_id, time and request_id.
void FillDecision(const engine::Decision& decision, credit::v1::Decision* out);

// `decision` in protobuf's deterministic serialization (map entries sorted
// by key), as the decision log stores it from record format 5. The same
// message gives the same bytes under one protobuf version; another version
// may order bytes differently, so logged decisions are compared as messages
// (SameDecision), never as bytes.
// The same for any message the log keeps (a credit.v1.ChallengerResult).
std::string DeterministicBytes(const google::protobuf::MessageLite& message);

// Reads logged bytes into `out`; InvalidArgument when they are not a
// credit.v1.Decision.
absl::Status ParseDecision(absl::string_view bytes, credit::v1::Decision* out);

// The evaluation date logged decision bytes name (Decision.evaluation_date),
// as days since 1970-01-01, into `date`; empty when they name none.
// InvalidArgument when the bytes are not a decision or the date no date.
absl::Status EvaluationDateOf(absl::string_view bytes, std::optional<int64_t>* date);

// What a review of many logged answers reads of each: the outcome, the
// outputs as text (as AnswerValueText gives them), the reason codes and the
// evaluation date. Read straight from the bytes, without building the
// message: scorecards, messages and the trace are skipped.
struct AnswerSummary {
  std::string outcome;
  std::string evaluation_date;
  std::vector<std::pair<std::string, std::string>> outputs;  // by name, as in the bytes
  std::vector<std::string> reason_codes;
};
// InvalidArgument when the bytes are not a credit.v1.Decision. Reuses the
// summary's buffers.
absl::Status SummarizeAnswer(absl::string_view bytes, AnswerSummary* out);

// An output value as text for comparing and showing: decimals as their exact
// text, sets as "{a, b}", "(none)" when no value is set.
std::string AnswerValueText(const credit::v1::Value& value);

// AnswerValueText of the Value FillValue makes of `value`, into `out` (its
// buffer kept), without making the Value: for comparing many answers.
void AssignValueText(const engine::Value& value, const engine::Type& type, int places,
                     std::string* out);

// Whether `a` and `b` hold the same fields and values (maps compared by key,
// repeated fields in order). When they differ and `difference` is not null,
// it says what differs, one line per field.
bool SameDecision(const credit::v1::Decision& a, const credit::v1::Decision& b,
                  std::string* difference = nullptr);

// Logged decision bytes as one line of JSON for people (protobuf's JSON
// printer, field names as in the .proto, fields and map entries in the
// order of the bytes): for display only; the log keeps and hashes the bytes.
// InvalidArgument when they are not a decision.
absl::StatusOr<std::string> DecisionBytesToJson(absl::string_view bytes);
// The same for a logged credit.v1.ChallengerResult.
absl::StatusOr<std::string> ChallengerBytesToJson(absl::string_view bytes);

}  // namespace creditd::api
