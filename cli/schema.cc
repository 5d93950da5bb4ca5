// creditctl schema PATH --decision NAME [--of facts|answer]: a JSON Schema
// (draft 2020-12) for the facts JSON that creditctl eval reads, or for the
// answer it prints: what a caller validates requests against and builds
// forms from. Made from the same description DescribeDecision gives.
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "api/describe.h"
#include "cli/creditctl.h"
#include "cli/policy_loading.h"
#include "credit/v1/creditd.pb.h"
#include "rapidjson/prettywriter.h"
#include "rapidjson/stringbuffer.h"

namespace creditd::cli {
namespace {

namespace v1 = credit::v1;
using Writer = rapidjson::PrettyWriter<rapidjson::StringBuffer>;

void Key(Writer& w, const std::string& key) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
}
void Text(Writer& w, const std::string& text) {
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}
void Member(Writer& w, const std::string& key, const std::string& text) {
  Key(w, key);
  Text(w, text);
}

// A bound of an interval as JSON: a number (ints, decimals exactly as
// written), or nothing for other kinds.
bool Number(Writer& w, const v1::Value& value) {
  if (value.has_int_value()) {
    w.Int64(value.int_value());
    return true;
  }
  if (value.has_decimal_value()) {
    const std::string& text = value.decimal_value();
    w.RawValue(text.data(), text.size(), rapidjson::kNumberType);
    return true;
  }
  return false;
}

// The symbols of an enum input its range allows, in declared order.
std::vector<std::string> AllowedSymbols(const v1::InputDescription& input) {
  if (input.intervals().empty()) {
    return {input.type().symbols().begin(), input.type().symbols().end()};
  }
  std::vector<std::string> allowed;
  const auto& symbols = input.type().symbols();
  for (int k = 0; k < symbols.size(); ++k) {
    for (const v1::ValueInterval& interval : input.intervals()) {
      auto ordinal = [&symbols](const v1::Value& v) {
        for (int i = 0; i < symbols.size(); ++i) {
          if (symbols[i] == v.enum_value()) return i;
        }
        return -1;
      };
      const bool above =
          !interval.has_low() ||
          (interval.low_closed() ? k >= ordinal(interval.low()) : k > ordinal(interval.low()));
      const bool below =
          !interval.has_high() ||
          (interval.high_closed() ? k <= ordinal(interval.high()) : k < ordinal(interval.high()));
      if (above && below) {
        allowed.push_back(symbols[k]);
        break;
      }
    }
  }
  return allowed;
}

// Whether every value `input` accepts is zero or more.
bool NonNegative(const v1::InputDescription& input) {
  if (input.intervals().empty()) return false;
  for (const v1::ValueInterval& interval : input.intervals()) {
    if (!interval.has_low()) return false;
    const std::string& low = interval.low().decimal_value();
    if (low.empty() || low[0] == '-') return false;
  }
  return true;
}

// The numeric bounds of one interval, as JSON Schema keywords.
void Bounds(Writer& w, const v1::ValueInterval& interval) {
  if (interval.has_low()) {
    Key(w, interval.low_closed() ? "minimum" : "exclusiveMinimum");
    Number(w, interval.low());
  }
  if (interval.has_high()) {
    Key(w, interval.high_closed() ? "maximum" : "exclusiveMaximum");
    Number(w, interval.high());
  }
}

// A fact of `input` as creditctl eval reads it (docs/testing.md): a JSON
// integer, a number with exactly its written digits, or a string.
void FactSchema(Writer& w, const v1::InputDescription& input) {
  const v1::TypeDescription& type = input.type();
  w.StartObject();
  std::string description = absl::StrCat(type.kind() == "enum" ? type.enum_name() : type.kind());
  if (!input.range().empty()) absl::StrAppend(&description, " in ", input.range());
  if (type.kind() == "bool") {
    Member(w, "type", "boolean");
  } else if (type.kind() == "int") {
    Member(w, "type", "integer");
  } else if (type.kind() == "date") {
    Member(w, "type", "string");
    Member(w, "format", "date");
    Member(w, "pattern", "^[0-9]{4}-[0-9]{2}-[0-9]{2}$");
  } else if (type.kind() == "enum") {
    Member(w, "type", "string");
    Key(w, "enum");
    w.StartArray();
    for (const std::string& symbol : AllowedSymbols(input)) Text(w, symbol);
    w.EndArray();
  } else {
    // decimal, money, percent: a number, or its exact text.
    const int places = type.places();
    const std::string fraction =
        places > 0 ? absl::StrCat("(\\.[0-9]{1,", places, "})?") : std::string();
    Key(w, "type");
    w.StartArray();
    Text(w, "number");
    Text(w, "string");
    w.EndArray();
    // A range that starts at zero or above (amounts, most ratios) refuses a
    // negative text too; other bounds apply to numbers, and creditd checks
    // every text against the range.
    const std::string sign = NonNegative(input) ? "[+]?" : "[+-]?";
    std::string pattern = absl::StrCat("^", sign, "[0-9]+", fraction, "$");
    if (type.kind() == "percent") {
      // A fraction ("0.55"), or percent points with a % ("55%").
      const std::string points =
          places > 2 ? absl::StrCat("(\\.[0-9]{1,", places - 2, "})?") : std::string();
      pattern = absl::StrCat("^", sign, "[0-9]+", fraction, "$|^", sign, "[0-9]+", points, "%$");
      absl::StrAppend(&description, " (as a fraction: 0.55 is 55%)");
    }
    Member(w, "pattern", pattern);
    absl::StrAppend(&description, "; at most ", places, " decimal places",
                    type.kind() == "percent" ? " as a fraction" : "");
  }
  // Numeric ranges: bounds for numbers (a string is checked by creditd).
  if ((type.kind() == "int" || type.kind() == "decimal" || type.kind() == "money" ||
       type.kind() == "percent") &&
      !input.intervals().empty()) {
    if (input.intervals_size() == 1) {
      Bounds(w, input.intervals(0));
    } else {
      Key(w, "anyOf");
      w.StartArray();
      for (const v1::ValueInterval& interval : input.intervals()) {
        w.StartObject();
        Bounds(w, interval);
        w.EndObject();
      }
      w.EndArray();
    }
  }
  if (input.has_default_value()) absl::StrAppend(&description, "; optional, with a default");
  Member(w, "description", description);
  w.EndObject();
}

std::string FactsSchema(const v1::DescribeDecisionResponse& d) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.SetIndent(' ', 2);
  w.StartObject();
  Member(w, "$schema", "https://json-schema.org/draft/2020-12/schema");
  Member(w, "title", absl::StrCat("facts of ", d.id().name(), " ", d.id().version()));
  Member(w, "description",
         absl::StrCat("The facts `creditctl eval` reads for ", d.id().name(), " ", d.id().version(),
                      " (sha256 ", d.id().sha256(),
                      "). Over gRPC each travels in the FactValue field DescribeDecision names."));
  Member(w, "type", "object");
  Key(w, "properties");
  w.StartObject();
  for (const v1::InputDescription& input : d.inputs()) {
    Key(w, input.name());
    FactSchema(w, input);
  }
  w.EndObject();
  Key(w, "required");
  w.StartArray();
  for (const v1::InputDescription& input : d.inputs()) {
    if (input.required()) Text(w, input.name());
  }
  w.EndArray();
  Key(w, "additionalProperties");
  w.Bool(false);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

// An output's value as creditctl eval prints it; null when it has none.
void OutputSchema(Writer& w, const v1::OutputDescription& output, int edition) {
  const v1::TypeDescription& type = output.type();
  w.StartObject();
  Key(w, "anyOf");
  w.StartArray();
  w.StartObject();
  Member(w, "type", "null");
  w.EndObject();
  w.StartObject();
  if (type.kind() == "bool") {
    Member(w, "type", "boolean");
  } else if (type.kind() == "int") {
    Member(w, "type", "integer");
  } else if (type.kind() == "date") {
    Member(w, "type", "string");
    Member(w, "format", "date");
  } else if (type.kind() == "enum" || type.kind() == "set") {
    const bool set = type.kind() == "set";
    if (set) {
      Member(w, "type", "array");
      Key(w, "uniqueItems");
      w.Bool(true);
      Key(w, "items");
      w.StartObject();
    }
    Member(w, "type", "string");
    Key(w, "enum");
    w.StartArray();
    for (const std::string& symbol : type.symbols()) Text(w, symbol);
    w.EndArray();
    if (set) w.EndObject();
  } else if (type.kind() == "money" && edition >= 2) {
    // An edition 2 money output: exactly its places.
    Member(w, "type", "string");
    Member(w, "pattern",
           type.places() == 0 ? std::string("^-?[0-9]+$")
                              : absl::StrCat("^-?[0-9]+\\.[0-9]{", type.places(), "}$"));
  } else if (type.kind() == "percent" && edition >= 2) {
    // An edition 2 policy's percents as a person reads them: "55.12%".
    Member(w, "type", "string");
    Member(w, "pattern", "^-?[0-9]+(\\.[0-9]+)?%$");
  } else {
    // Exact decimal text: money with at least two places, percents as
    // fractions.
    Member(w, "type", "string");
    Member(w, "pattern", "^-?[0-9]+(\\.[0-9]+)?$");
  }
  w.EndObject();
  w.EndArray();
  Member(w, "description",
         type.kind() == "enum" || type.kind() == "set"
             ? absl::StrCat(type.kind(), " of ", type.enum_name())
             : type.kind());
  w.EndObject();
}

std::string AnswerSchema(const v1::DescribeDecisionResponse& d) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.SetIndent(' ', 2);
  auto string_property = [&w](const std::string& name) {
    Key(w, name);
    w.StartObject();
    Member(w, "type", "string");
    w.EndObject();
  };
  w.StartObject();
  Member(w, "$schema", "https://json-schema.org/draft/2020-12/schema");
  Member(w, "title", absl::StrCat("answer of ", d.id().name(), " ", d.id().version()));
  Member(w, "type", "object");
  Key(w, "properties");
  w.StartObject();
  Key(w, "decision");
  w.StartObject();
  Member(w, "const", d.id().name());
  w.EndObject();
  Key(w, "policy");
  w.StartObject();
  Member(w, "type", "object");
  Key(w, "properties");
  w.StartObject();
  string_property("name");
  string_property("version");
  string_property("sha256");
  w.EndObject();
  w.EndObject();
  Key(w, "outcome");
  w.StartObject();
  if (d.outcomes().empty()) {
    Member(w, "type", "null");
  } else {
    Key(w, "enum");
    w.StartArray();
    for (const std::string& outcome : d.outcomes()) Text(w, outcome);
    w.EndArray();
  }
  w.EndObject();
  Key(w, "evaluation_date");
  w.StartObject();
  Member(w, "type", "string");
  Member(w, "format", "date");
  Member(w, "description", "the date the policy read as `today` (edition 2), when it reads it");
  w.EndObject();
  Key(w, "outputs");
  w.StartObject();
  Member(w, "type", "object");
  Key(w, "properties");
  w.StartObject();
  for (const v1::OutputDescription& output : d.outputs()) {
    Key(w, output.name());
    OutputSchema(w, output, d.edition());
  }
  w.EndObject();
  Key(w, "required");
  w.StartArray();
  for (const v1::OutputDescription& output : d.outputs()) Text(w, output.name());
  w.EndArray();
  Key(w, "additionalProperties");
  w.Bool(false);
  w.EndObject();
  Key(w, "reasons");
  w.StartObject();
  Member(w, "type", "array");
  Key(w, "items");
  w.StartObject();
  Member(w, "type", "object");
  Key(w, "properties");
  w.StartObject();
  Key(w, "code");
  w.StartObject();
  Key(w, "enum");
  w.StartArray();
  for (const v1::ReasonDescription& reason : d.reasons()) Text(w, reason.code());
  w.EndArray();
  w.EndObject();
  string_property("message");
  string_property("rule");
  string_property("location");
  w.EndObject();
  Key(w, "required");
  w.StartArray();
  for (const char* field : {"code", "message", "rule", "location"}) Text(w, field);
  w.EndArray();
  w.EndObject();
  w.EndObject();
  w.EndObject();
  Key(w, "required");
  w.StartArray();
  for (const char* field : {"decision", "policy", "outcome", "outputs", "reasons"}) Text(w, field);
  w.EndArray();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

}  // namespace

void AddSchemaCommand(CLI::App& app, Context& context) {
  struct Flags {
    std::string path;
    std::string decision;
    std::string of = "facts";
    VersionFlags version;
  };
  auto flags = std::make_shared<Flags>();
  auto* command = app.add_subcommand(
      "schema", "Print a JSON Schema for a decision's facts (as eval reads them) or its answer");
  command->footer(
      "Examples:\n"
      "  creditctl schema policies -d credit_application               the facts\n"
      "  creditctl schema policies -d credit_application --of answer   what eval prints");
  command->add_option("path", flags->path, "a policy file, or a directory of policies")->required();
  command->add_option("-d,--decision", flags->decision,
                      "the decision (required with a directory of several)");
  command->add_option("--of", flags->of, "facts (default) or answer")
      ->check(CLI::IsMember({"facts", "answer"}));
  AddVersionChoice(*command, &flags->version, /*evaluation_date=*/false);
  command->callback([&context, flags] {
    VersionChoice choice;
    if (!ParseVersionChoice(flags->version, context, &choice)) return;
    absl::StatusOr<std::shared_ptr<const engine::CompiledPolicy>> policy =
        LoadDecision(flags->path, flags->decision, context, choice);
    if (!policy.ok()) return;
    v1::DescribeDecisionResponse description;
    api::DescribeDecision(**policy, &description);
    context.out << (flags->of == "answer" ? AnswerSchema(description) : FactsSchema(description));
  });
}

}  // namespace creditd::cli
