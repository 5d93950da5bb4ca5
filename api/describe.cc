#include "api/describe.h"

#include <string>

#include "api/decision.h"
#include "engine/checked_policy.h"
#include "engine/domain.h"
#include "engine/types.h"

namespace creditd::api {
namespace {

namespace v1 = credit::v1;

const char* KindName(engine::TypeKind kind) {
  switch (kind) {
    case engine::TypeKind::kBool:
      return "bool";
    case engine::TypeKind::kInt:
      return "int";
    case engine::TypeKind::kDecimal:
      return "decimal";
    case engine::TypeKind::kMoney:
      return "money";
    case engine::TypeKind::kPercent:
      return "percent";
    case engine::TypeKind::kDate:
      return "date";
    case engine::TypeKind::kEnum:
      return "enum";
    case engine::TypeKind::kEnumSet:
      return "set";
    case engine::TypeKind::kError:
      break;
  }
  return "";
}

// The FactValue field a fact of `kind` travels in.
const char* FactField(engine::TypeKind kind) {
  switch (kind) {
    case engine::TypeKind::kBool:
      return "bool_value";
    case engine::TypeKind::kInt:
      return "int_value";
    case engine::TypeKind::kDecimal:
    case engine::TypeKind::kMoney:
    case engine::TypeKind::kPercent:
      return "decimal_value";
    case engine::TypeKind::kDate:
      return "date_value";
    case engine::TypeKind::kEnum:
      return "enum_value";
    case engine::TypeKind::kEnumSet:
    case engine::TypeKind::kError:
      break;
  }
  return "";
}

void Describe(const engine::Type& type, int places, v1::TypeDescription* out) {
  out->set_kind(KindName(type.kind));
  if (type.enum_type != nullptr) {
    out->set_enum_name(type.enum_type->name);
    for (const std::string& symbol : type.enum_type->symbols) out->add_symbols(symbol);
  }
  if (type.is_decimal()) out->set_places(places >= 0 ? places : engine::DefaultPlaces(type.kind));
  out->set_fact_field(FactField(type.kind));
}

}  // namespace

void DescribeDecision(const engine::CompiledPolicy& policy, v1::DescribeDecisionResponse* out) {
  const engine::CheckedPolicy& checked = policy.checked();
  v1::PolicyId* id = out->mutable_id();
  id->set_name(policy.id().name);
  id->set_version(policy.id().version);
  id->set_sha256(policy.id().sha256);
  out->set_effective(checked.effective);
  out->set_edition(checked.edition);
  for (const engine::InputSlot& in : policy.inputs()) {
    v1::InputDescription* input = out->add_inputs();
    input->set_name(in.name);
    Describe(in.type, in.places, input->mutable_type());
    input->set_required(!in.default_value.has_value() && !in.optional);
    input->set_optional(in.optional);
    if (in.default_value.has_value()) {
      FillValue(*in.default_value, in.type, input->mutable_default_value());
    }
    if (!in.has_range) continue;
    input->set_range(in.range.ToString());
    for (const engine::Domain::Range& r : in.range.ranges()) {
      v1::ValueInterval* interval = input->add_intervals();
      if (!r.low.infinite) {
        if (std::optional<engine::Value> low = in.range.ValueAt(r.low.value)) {
          FillValue(*low, in.type, interval->mutable_low());
          interval->set_low_closed(r.low.closed);
        }
      }
      if (!r.high.infinite) {
        if (std::optional<engine::Value> high = in.range.ValueAt(r.high.value)) {
          FillValue(*high, in.type, interval->mutable_high());
          interval->set_high_closed(r.high.closed);
        }
      }
    }
  }
  for (size_t i = 0; i < policy.outputs().size(); ++i) {
    const engine::OutputSlot& o = policy.outputs()[i];
    v1::OutputDescription* output = out->add_outputs();
    output->set_name(o.name);
    Describe(o.type, -1, output->mutable_type());
    // Outputs are not facts: no FactValue field, and no places but those an
    // edition 2 money output holds.
    output->mutable_type()->clear_places();
    output->mutable_type()->clear_fact_field();
    const int places = i < checked.outputs.size() ? checked.outputs[i].places : -1;
    if (places >= 0 && o.type.kind == engine::TypeKind::kMoney) {
      output->mutable_type()->set_places(places);
    }
  }
  for (const engine::ReasonInfo& r : checked.reasons) {
    v1::ReasonDescription* reason = out->add_reasons();
    reason->set_code(r.code);
    reason->set_message(r.message);
  }
  if (const engine::EnumType* scale = policy.outcome()) {
    for (const std::string& symbol : scale->symbols) out->add_outcomes(symbol);
    if (checked.outcome_initial >= 0 &&
        static_cast<size_t>(checked.outcome_initial) < scale->symbols.size()) {
      out->set_initial_outcome(scale->symbols[static_cast<size_t>(checked.outcome_initial)]);
    }
  }
}

}  // namespace creditd::api
