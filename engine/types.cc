#include "engine/types.h"

#include "absl/strings/str_cat.h"
#include "engine/decimal.h"

namespace creditd::engine {

int EnumType::Find(const std::string& symbol) const {
  for (size_t i = 0; i < symbols.size(); ++i) {
    if (symbols[i] == symbol) return static_cast<int>(i);
  }
  return -1;
}

bool Type::is_numeric() const {
  return kind == TypeKind::kInt || kind == TypeKind::kDecimal || kind == TypeKind::kMoney ||
         kind == TypeKind::kPercent;
}

bool Type::is_decimal() const {
  return kind == TypeKind::kDecimal || kind == TypeKind::kMoney || kind == TypeKind::kPercent;
}

bool Type::is_ordered() const {
  return is_numeric() || kind == TypeKind::kDate || kind == TypeKind::kEnum;
}

int DefaultPlaces(TypeKind kind) {
  switch (kind) {
    case TypeKind::kMoney:
      return 2;
    case TypeKind::kPercent:
      return 4;
    case TypeKind::kDecimal:
      return Decimal::kMaxScale;
    default:
      return -1;
  }
}

std::string TypeName(const Type& type) {
  switch (type.kind) {
    case TypeKind::kError:
      return "<error>";
    case TypeKind::kBool:
      return "bool";
    case TypeKind::kInt:
      return "int";
    case TypeKind::kDecimal:
      return "decimal";
    case TypeKind::kMoney:
      return "money";
    case TypeKind::kPercent:
      return "percent";
    case TypeKind::kDate:
      return "date";
    case TypeKind::kEnum:
      return type.enum_type != nullptr ? type.enum_type->name : "enum";
    case TypeKind::kEnumSet:
      return absl::StrCat("set of ", type.enum_type != nullptr ? type.enum_type->name : "enum");
  }
  return "<error>";
}

}  // namespace creditd::engine
