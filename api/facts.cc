#include "api/facts.h"

namespace creditd::api {

namespace v1 = credit::v1;

void AddRequestFacts(const v1::EvaluateRequest& request, const engine::CompiledPolicy& policy,
                     engine::Facts* facts) {
  for (const auto& [name, value] : request.facts()) {
    switch (value.value_case()) {
      case v1::FactValue::kBoolValue:
        facts->Add(name, engine::FactValue::Bool(value.bool_value()));
        break;
      case v1::FactValue::kIntValue:
        facts->Add(name, engine::FactValue::Int(value.int_value()));
        break;
      case v1::FactValue::kDecimalValue:
        facts->Add(name, engine::FactValue::Decimal(value.decimal_value()));
        break;
      case v1::FactValue::kEnumValue:
        facts->Add(name, engine::FactValue::Symbol(value.enum_value()));
        break;
      case v1::FactValue::kDateValue:
        facts->Add(name, engine::FactValue::Date(value.date_value()));
        break;
      case v1::FactValue::VALUE_NOT_SET:
        if (policy.FindInput(name) < 0) facts->Add(name, engine::FactValue::Symbol(""));
        break;
    }
  }
}

}  // namespace creditd::api
