#include "api/decision.h"

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
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

namespace {

// AnswerValueText into `out`, whose buffer is kept.
void AssignValueText(const v1::Value& v, std::string* out) {
  switch (v.value_case()) {
    case v1::Value::kBoolValue:
      out->assign(v.bool_value() ? "true" : "false");
      return;
    case v1::Value::kIntValue: {
      char digits[24];
      const std::to_chars_result end = std::to_chars(digits, digits + sizeof digits, v.int_value());
      out->assign(digits, static_cast<size_t>(end.ptr - digits));
      return;
    }
    case v1::Value::kDecimalValue:
      out->assign(v.decimal_value());
      return;
    case v1::Value::kEnumValue:
      out->assign(v.enum_value());
      return;
    case v1::Value::kDateValue:
      out->assign(v.date_value());
      return;
    case v1::Value::kSetValue:
      out->assign("{");
      for (int i = 0; i < v.set_value().symbols_size(); ++i) {
        if (i > 0) out->append(", ");
        out->append(v.set_value().symbols(i));
      }
      out->append("}");
      return;
    case v1::Value::VALUE_NOT_SET:
      break;
  }
  out->assign("(none)");
}

}  // namespace

std::string AnswerValueText(const v1::Value& v) {
  std::string text;
  AssignValueText(v, &text);
  return text;
}

void AssignValueText(const engine::Value& value, const engine::Type& type, int places,
                     std::string* out) {
  // As FillValue, then AnswerValueText.
  switch (value.kind) {
    case engine::TypeKind::kBool:
      out->assign(value.b ? "true" : "false");
      return;
    case engine::TypeKind::kInt: {
      char digits[24];
      const std::to_chars_result end = std::to_chars(digits, digits + sizeof digits, value.i);
      out->assign(digits, static_cast<size_t>(end.ptr - digits));
      return;
    }
    case engine::TypeKind::kDate:
      out->assign(engine::FormatDate(value.i));
      return;
    case engine::TypeKind::kEnum:
      out->assign(engine::FormatValue(value, type));
      return;
    case engine::TypeKind::kEnumSet: {
      out->assign("{");
      bool first = true;
      for (const std::string& symbol : engine::SetSymbols(value, type)) {
        if (!first) out->append(", ");
        out->append(symbol);
        first = false;
      }
      out->append("}");
      return;
    }
    default: {
      const std::string text = engine::JsonValue(value, type, /*percent_points=*/false, places);
      out->assign(text, 1, text.size() - 2);
    }
  }
}

namespace {

using google::protobuf::internal::WireFormatLite;

// Reads a length-delimited field of `data`, which `in` reads, as a view of
// its bytes: reading many answers copies none.
bool ReadView(google::protobuf::io::CodedInputStream& in, absl::string_view data,
              absl::string_view* out) {
  uint32_t length = 0;
  if (!in.ReadVarint32(&length)) return false;
  const auto at = static_cast<size_t>(in.CurrentPosition());
  if (at > data.size() || length > data.size() - at || !in.Skip(static_cast<int>(length))) {
    return false;
  }
  *out = data.substr(at, length);
  return true;
}

google::protobuf::io::CodedInputStream Stream(absl::string_view data) {
  return google::protobuf::io::CodedInputStream(reinterpret_cast<const uint8_t*>(data.data()),
                                                static_cast<int>(data.size()));
}

// The text of a Value whose bytes are one field of the oneof other than a
// set: ASCII text, a one-byte bool or a non-negative int; what answers hold,
// read without protobuf's parser. False for any other bytes.
bool SimpleValueText(absl::string_view bytes, std::string* text) {
  if (bytes.size() < 2) return false;
  const auto tag = static_cast<unsigned char>(bytes[0]);
  const auto* at = reinterpret_cast<const unsigned char*>(bytes.data()) + 1;
  const auto* const end = reinterpret_cast<const unsigned char*>(bytes.data()) + bytes.size();
  if (tag == WireFormatLite::MakeTag(3, WireFormatLite::WIRETYPE_LENGTH_DELIMITED) ||
      tag == WireFormatLite::MakeTag(4, WireFormatLite::WIRETYPE_LENGTH_DELIMITED) ||
      tag == WireFormatLite::MakeTag(5, WireFormatLite::WIRETYPE_LENGTH_DELIMITED)) {
    // decimal_value, enum_value, date_value: a one-byte length, then text
    // that protobuf's UTF-8 check could not refuse.
    if (*at >= 0x80 || static_cast<size_t>(end - at - 1) != *at) return false;
    for (const unsigned char* c = at + 1; c < end; ++c) {
      if (*c >= 0x80) return false;
    }
    text->assign(reinterpret_cast<const char*>(at + 1), *at);
    return true;
  }
  if (tag == WireFormatLite::MakeTag(1, WireFormatLite::WIRETYPE_VARINT)) {
    if (bytes.size() != 2 || *at >= 0x80) return false;
    text->assign(*at != 0 ? "true" : "false");
    return true;
  }
  if (tag == WireFormatLite::MakeTag(2, WireFormatLite::WIRETYPE_VARINT)) {
    // int_value: a varint of at most 9 bytes (an int from 0 to 2^63 - 1),
    // the last alone without its high bit.
    if (end - at > 9 || (end[-1] & 0x80) != 0) return false;
    uint64_t value = 0;
    int shift = 0;
    for (const unsigned char* c = at; c < end; ++c, shift += 7) {
      if (c + 1 < end && (*c & 0x80) == 0) return false;
      value |= static_cast<uint64_t>(*c & 0x7f) << shift;
    }
    char digits[24];
    const std::to_chars_result written =
        std::to_chars(digits, digits + sizeof digits, static_cast<int64_t>(value));
    text->assign(digits, static_cast<size_t>(written.ptr - digits));
    return true;
  }
  return false;
}

// A Value's text, from its bytes (the last field of the oneof wins, a set's
// occurrences merge, as protobuf reads them).
bool ValueTextFrom(absl::string_view bytes, std::string* text) {
  if (SimpleValueText(bytes, text)) return true;
  thread_local v1::Value value;  // its buffers serve every answer
  if (bytes.size() > static_cast<size_t>(INT32_MAX) ||
      !value.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return false;
  }
  AssignValueText(value, text);
  return true;
}

// One map entry of Decision.outputs: key 1, value 2.
bool ReadOutput(absl::string_view entry, std::pair<std::string, std::string>* out) {
  google::protobuf::io::CodedInputStream in = Stream(entry);
  // The value's bytes: a view of the entry's, or when the value occurs more
  // than once (a repeated message field merges) every occurrence, joined.
  thread_local std::string joined;
  absl::string_view value;
  int values = 0;
  out->first.clear();
  while (true) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) break;
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    const auto type = WireFormatLite::GetTagWireType(tag);
    if (type == WireFormatLite::WIRETYPE_LENGTH_DELIMITED && (field == 1 || field == 2)) {
      absl::string_view bytes;
      if (!ReadView(in, entry, &bytes)) return false;
      if (field == 1) {
        out->first.assign(bytes.data(), bytes.size());
      } else if (values++ == 0) {
        value = bytes;
      } else {
        if (values == 2) joined.assign(value.data(), value.size());
        joined.append(bytes.data(), bytes.size());
        value = joined;
      }
      continue;
    }
    if (!WireFormatLite::SkipField(&in, tag)) return false;
  }
  if (!in.ConsumedEntireMessage()) return false;
  // A map entry without its value holds the default: an empty Value.
  return ValueTextFrom(value, &out->second);
}

// A Reason's code (field 1).
bool ReadReasonCode(absl::string_view reason, std::string* code) {
  google::protobuf::io::CodedInputStream in = Stream(reason);
  code->clear();
  while (true) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) break;
    if (WireFormatLite::GetTagFieldNumber(tag) == 1 &&
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      absl::string_view bytes;
      if (!ReadView(in, reason, &bytes)) return false;
      code->assign(bytes.data(), bytes.size());
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
  // The entries of each vector read so far; those after keep their buffers
  // for the next entry until the end, when they go.
  size_t outputs = 0;
  size_t reasons = 0;
  auto done = [&](bool ok) {
    out->outputs.resize(ok ? outputs : 0);
    out->reason_codes.resize(ok ? reasons : 0);
    return ok ? absl::OkStatus()
              : absl::InvalidArgumentError(
                    absl::StrCat("the ", bytes.size(), " bytes are not a credit.v1.Decision"));
  };
  if (bytes.size() > static_cast<size_t>(INT32_MAX)) return done(false);
  google::protobuf::io::CodedInputStream in = Stream(bytes);
  while (true) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) break;
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    const bool delimited =
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
    if (delimited && (field == 5 || field == 6 || field == 7 || field == 11)) {
      absl::string_view field_bytes;
      if (!ReadView(in, bytes, &field_bytes)) return done(false);
      if (field == 5) {
        out->outcome.assign(field_bytes.data(), field_bytes.size());
      } else if (field == 11) {
        out->evaluation_date.assign(field_bytes.data(), field_bytes.size());
      } else if (field == 6) {
        if (outputs == out->outputs.size()) out->outputs.emplace_back();
        std::pair<std::string, std::string>& output = out->outputs[outputs];
        if (!ReadOutput(field_bytes, &output)) return done(false);
        // A key given again replaces the earlier entry, as a map does.
        const auto read = out->outputs.begin() + static_cast<std::ptrdiff_t>(outputs);
        auto same = std::find_if(out->outputs.begin(), read,
                                 [&](const auto& o) { return o.first == output.first; });
        if (same != read) {
          same->second.swap(output.second);
        } else {
          ++outputs;
        }
      } else {
        if (reasons == out->reason_codes.size()) out->reason_codes.emplace_back();
        if (!ReadReasonCode(field_bytes, &out->reason_codes[reasons])) return done(false);
        ++reasons;
      }
      continue;
    }
    if (!WireFormatLite::SkipField(&in, tag)) return done(false);
  }
  return done(in.ConsumedEntireMessage());
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
