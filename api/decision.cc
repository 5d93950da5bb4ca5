#include "api/decision.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/decision_json.h"
#include "engine/evaluator.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/type_resolver.h"
#include "google/protobuf/util/type_resolver_util.h"
#include "google/protobuf/wire_format_lite.h"

namespace creditd::api {

namespace v1 = credit::v1;

void FillValue(const engine::Value& value, const engine::Type& type, v1::Value* out, int places) {
  switch (value.kind) {
    case engine::TypeKind::kBool:
      out->set_bool_value(value.b);
      break;
    case engine::TypeKind::kInt:
      out->set_int_value(value.i);
      break;
    case engine::TypeKind::kDate:
      out->set_date_value(engine::FormatDate(value.i));
      break;
    case engine::TypeKind::kEnum:
      out->set_enum_value(engine::FormatValue(value, type));
      break;
    case engine::TypeKind::kEnumSet: {
      // An empty set is still a set: the oneof is set before any symbol.
      v1::SymbolSet* set = out->mutable_set_value();
      for (std::string& s : engine::SetSymbols(value, type)) set->add_symbols(std::move(s));
      break;
    }
    default: {
      // Decimals: the JSON form without its quotes (money keeps two places,
      // or from edition 2 exactly its own).
      std::string text = engine::JsonValue(value, type, /*percent_points=*/false, places);
      out->set_decimal_value(text.substr(1, text.size() - 2));
    }
  }
}

void FillDecision(const engine::Decision& d, v1::Decision* out) {
  out->set_decision(std::string(d.decision));
  const engine::PolicyId& id = d.policy_id();
  out->mutable_policy()->set_name(id.name);
  out->mutable_policy()->set_version(id.version);
  out->mutable_policy()->set_sha256(id.sha256);
  if (d.has_outcome) out->set_outcome(std::string(d.outcome));
  if (d.evaluation_date) out->set_evaluation_date(engine::FormatDate(*d.evaluation_date));
  for (const engine::OutputValue& o : d.outputs) {
    if (!o.has_value) continue;
    FillValue(o.value, o.type, &(*out->mutable_outputs())[std::string(o.name)], o.places);
  }
  for (const engine::Reason& r : d.reasons) {
    v1::Reason* reason = out->add_reasons();
    reason->set_code(std::string(r.code));
    reason->set_message(std::string(r.Message()));
    reason->set_rule(std::string(r.rule));
    reason->set_location(absl::StrCat(r.file, ":", r.line));
  }
  for (const engine::ScorecardResult& s : d.scorecards) {
    v1::Scorecard* card = out->add_scorecards();
    card->set_name(std::string(s.name));
    card->set_total(s.total.ToCanonicalString());
    for (const engine::GroupResult& g : s.groups) {
      v1::ScoreGroup* group = card->add_groups();
      group->set_name(std::string(g.name));
      group->set_weight(g.weight.ToCanonicalString());
      group->set_points(g.points.ToCanonicalString());
    }
    for (const engine::FactorResult& f : s.factors) {
      v1::ScoreFactor* factor = card->add_factors();
      factor->set_group(std::string(f.group));
      factor->set_factor(std::string(f.subject));
      factor->set_bin(f.bin + 1);
      factor->set_points(f.points.ToCanonicalString());
      factor->set_max_points(f.max_points.ToCanonicalString());
      factor->set_weighted_points_lost(f.weighted_lost.ToCanonicalString());
      factor->set_reason(std::string(f.reason));
    }
    for (int k : s.top_reasons) {
      card->add_top_reasons(std::string(s.factors[static_cast<size_t>(k)].reason));
    }
  }
  static constexpr const char* kSteps[] = {"let",       "band", "table", "factor",
                                           "scorecard", "rule", "output"};
  for (const engine::TraceStep& t : d.trace) {
    v1::TraceStep* step = out->add_trace();
    step->set_step(kSteps[static_cast<int>(t.kind)]);
    step->set_name(t.name);
    step->set_value(t.value);
    step->set_detail(t.detail);
    step->set_location(t.location);
    for (const auto& [name, value] : t.reads) (*step->mutable_reads())[name] = value;
  }
}

std::string DeterministicBytes(const google::protobuf::MessageLite& decision) {
  std::string bytes(decision.ByteSizeLong(), '\0');
  google::protobuf::io::ArrayOutputStream array(bytes.data(), static_cast<int>(bytes.size()));
  google::protobuf::io::CodedOutputStream coded(&array);
  coded.SetSerializationDeterministic(true);
  decision.SerializeWithCachedSizes(&coded);
  return bytes;
}

absl::Status ParseDecision(absl::string_view bytes, v1::Decision* out) {
  if (bytes.size() > static_cast<size_t>(INT32_MAX) ||
      !out->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError(
        absl::StrCat("the ", bytes.size(), " bytes are not a credit.v1.Decision"));
  }
  return absl::OkStatus();
}

absl::Status EvaluationDateOf(absl::string_view bytes, std::optional<int64_t>* date) {
  date->reset();
  v1::Decision decision;
  if (absl::Status status = ParseDecision(bytes, &decision); !status.ok()) return status;
  if (decision.evaluation_date().empty()) return absl::OkStatus();
  absl::StatusOr<int64_t> days = engine::ParseDate(decision.evaluation_date());
  if (!days.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "evaluation_date `", engine::EchoText(decision.evaluation_date()), "` is not a date"));
  }
  *date = *days;
  return absl::OkStatus();
}

std::string AnswerValueText(const v1::Value& v) {
  switch (v.value_case()) {
    case v1::Value::kBoolValue:
      return v.bool_value() ? "true" : "false";
    case v1::Value::kIntValue:
      return absl::StrCat(v.int_value());
    case v1::Value::kDecimalValue:
      return v.decimal_value();
    case v1::Value::kEnumValue:
      return v.enum_value();
    case v1::Value::kDateValue:
      return v.date_value();
    case v1::Value::kSetValue:
      return absl::StrCat("{", absl::StrJoin(v.set_value().symbols(), ", "), "}");
    case v1::Value::VALUE_NOT_SET:
      break;
  }
  return "(none)";
}

namespace {

using google::protobuf::internal::WireFormatLite;

// Reads a length-delimited field's bytes.
bool ReadBytes(google::protobuf::io::CodedInputStream& in, std::string* out) {
  uint32_t length = 0;
  return in.ReadVarint32(&length) && in.ReadString(out, static_cast<int>(length));
}

// A Value's text, from its bytes (the last field of the oneof wins, a set's
// occurrences merge, as protobuf reads them).
bool ValueTextFrom(absl::string_view bytes, std::string* text) {
  v1::Value value;
  if (bytes.size() > static_cast<size_t>(INT32_MAX) ||
      !value.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return false;
  }
  *text = AnswerValueText(value);
  return true;
}

// One map entry of Decision.outputs: key 1, value 2.
bool ReadOutput(absl::string_view entry, std::pair<std::string, std::string>* out) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(entry.data()),
                                            static_cast<int>(entry.size()));
  std::string value_bytes;
  out->first.clear();
  out->second = "(none)";
  bool has_value = false;
  while (true) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) break;
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    const auto type = WireFormatLite::GetTagWireType(tag);
    if (type == WireFormatLite::WIRETYPE_LENGTH_DELIMITED && (field == 1 || field == 2)) {
      std::string bytes;
      if (!ReadBytes(in, &bytes)) return false;
      if (field == 1) {
        out->first = std::move(bytes);
      } else {
        // A repeated message field merges: keep every occurrence.
        value_bytes += bytes;
        has_value = true;
      }
      continue;
    }
    if (!WireFormatLite::SkipField(&in, tag)) return false;
  }
  if (!in.ConsumedEntireMessage()) return false;
  // A map entry without its value holds the default: an empty Value.
  return !has_value ? ValueTextFrom("", &out->second) : ValueTextFrom(value_bytes, &out->second);
}

// A Reason's code (field 1).
bool ReadReasonCode(absl::string_view reason, std::string* code) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(reason.data()),
                                            static_cast<int>(reason.size()));
  code->clear();
  while (true) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) break;
    if (WireFormatLite::GetTagFieldNumber(tag) == 1 &&
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      if (!ReadBytes(in, code)) return false;
      continue;
    }
    if (!WireFormatLite::SkipField(&in, tag)) return false;
  }
  return in.ConsumedEntireMessage();
}

}  // namespace

absl::Status SummarizeAnswer(absl::string_view bytes, AnswerSummary* out) {
  out->outcome.clear();
  out->evaluation_date.clear();
  out->outputs.clear();
  out->reason_codes.clear();
  auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("the ", bytes.size(), " bytes are not a credit.v1.Decision"));
  };
  if (bytes.size() > static_cast<size_t>(INT32_MAX)) return bad();
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  std::string field_bytes;
  while (true) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) break;
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    const bool delimited =
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
    if (delimited && (field == 5 || field == 6 || field == 7 || field == 11)) {
      if (!ReadBytes(in, &field_bytes)) return bad();
      if (field == 5) {
        out->outcome = field_bytes;
      } else if (field == 11) {
        out->evaluation_date = field_bytes;
      } else if (field == 6) {
        std::pair<std::string, std::string> output;
        if (!ReadOutput(field_bytes, &output)) return bad();
        // A key given again replaces the earlier entry, as a map does.
        auto same = std::find_if(out->outputs.begin(), out->outputs.end(),
                                 [&](const auto& o) { return o.first == output.first; });
        if (same != out->outputs.end()) {
          same->second = std::move(output.second);
        } else {
          out->outputs.push_back(std::move(output));
        }
      } else {
        std::string code;
        if (!ReadReasonCode(field_bytes, &code)) return bad();
        out->reason_codes.push_back(std::move(code));
      }
      continue;
    }
    if (!WireFormatLite::SkipField(&in, tag)) return bad();
  }
  if (!in.ConsumedEntireMessage()) return bad();
  return absl::OkStatus();
}

bool SameDecision(const v1::Decision& a, const v1::Decision& b, std::string* difference) {
  std::string report;
  bool same = false;
  {
    // Proto maps compare by key. The report is complete once the
    // differencer, which owns its writer, is gone.
    google::protobuf::util::MessageDifferencer differencer;
    if (difference != nullptr) differencer.ReportDifferencesToString(&report);
    same = differencer.Compare(a, b);
  }
  if (difference != nullptr) *difference = std::move(report);
  return same;
}

namespace {

// Bytes of message type `type` as JSON, printed from the bytes rather than
// a parsed message: map entries print in the order they were logged
// (sorted), not in a parsed map's.
absl::StatusOr<std::string> BytesToJson(absl::string_view bytes, const std::string& type) {
  static google::protobuf::util::TypeResolver* const resolver =
      google::protobuf::util::NewTypeResolverForDescriptorPool(
          "type.googleapis.com", google::protobuf::DescriptorPool::generated_pool());
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  const auto printed = google::protobuf::util::BinaryToJsonString(
      resolver, "type.googleapis.com/" + type, std::string(bytes), &json, options);
  if (!printed.ok()) {
    return absl::InternalError(
        absl::StrCat("the ", type, " does not print as JSON: ", std::string(printed.message())));
  }
  return json;
}

}  // namespace

absl::StatusOr<std::string> DecisionBytesToJson(absl::string_view bytes) {
  v1::Decision decision;
  if (absl::Status status = ParseDecision(bytes, &decision); !status.ok()) return status;
  return BytesToJson(bytes, v1::Decision::descriptor()->full_name());
}

absl::StatusOr<std::string> ChallengerBytesToJson(absl::string_view bytes) {
  v1::ChallengerResult result;
  if (bytes.size() > static_cast<size_t>(INT32_MAX) ||
      !result.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError(
        absl::StrCat("the ", bytes.size(), " bytes are not a credit.v1.ChallengerResult"));
  }
  return BytesToJson(bytes, v1::ChallengerResult::descriptor()->full_name());
}

}  // namespace creditd::api
