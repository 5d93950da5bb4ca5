#include "engine/decision_json.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/compiled_policy.h"

namespace creditd::engine {

void AppendJsonQuoted(absl::string_view text, std::string* out) {
  out->push_back('"');
  // Most text needs no escapes: copy it whole.
  const bool plain = std::none_of(text.begin(), text.end(), [](char c) {
    return c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20;
  });
  if (plain) {
    out->append(text.data(), text.size());
    out->push_back('"');
    return;
  }
  for (char c : text) {
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(out, "\\u%04x", static_cast<int>(c));
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

std::string JsonQuote(absl::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  AppendJsonQuoted(text, &out);
  return out;
}

namespace {

std::string DecimalText(const Decimal& d, TypeKind kind) {
  if (kind == TypeKind::kMoney) {
    const Decimal n = d.Normalized();
    if (n.scale() < 2) return n.Round(2).value_or(n).ToString();
    return n.ToString();
  }
  return d.ToCanonicalString();
}

// Builds JSON with optional pretty printing.
class Writer {
 public:
  explicit Writer(bool pretty) : pretty_(pretty) {}

  void Open(char c) {
    out_ += c;
    ++depth_;
    first_ = true;
  }
  void Close(char c) {
    --depth_;
    if (!first_) Newline();
    out_ += c;
    first_ = false;
  }
  void Key(absl::string_view key) {
    Separator();
    AppendJsonQuoted(key, &out_);
    out_ += pretty_ ? ": " : ":";
  }
  void Raw(absl::string_view text) {
    out_.append(text.data(), text.size());
    first_ = false;
  }
  void Item() { Separator(); }
  void Member(absl::string_view key, absl::string_view raw) {
    Key(key);
    Raw(raw);
  }
  void String(absl::string_view key, absl::string_view text) {
    Key(key);
    AppendJsonQuoted(text, &out_);
    first_ = false;
  }
  std::string Take() { return std::move(out_); }

 private:
  void Separator() {
    if (!first_) out_ += ',';
    Newline();
    first_ = true;
  }
  void Newline() {
    if (!pretty_) return;
    out_ += '\n';
    out_.append(static_cast<size_t>(depth_) * 2, ' ');
  }

  bool pretty_;
  int depth_ = 0;
  bool first_ = true;
  std::string out_;
};

}  // namespace

std::string JsonValue(const Value& value, const Type& type, bool percent_points, int places) {
  if (percent_points && value.kind == TypeKind::kPercent) {
    return JsonQuote(FormatValue(value, type));
  }
  if (places >= 0 && value.kind == TypeKind::kMoney) {
    // The checker saw to it that the value has no more places (E0321):
    // padding is exact.
    absl::StatusOr<Decimal> exact = value.d.Normalized().Round(places);
    if (exact.ok() && *exact == value.d) return JsonQuote(exact->ToString());
  }
  switch (value.kind) {
    case TypeKind::kBool:
      return value.b ? "true" : "false";
    case TypeKind::kInt:
      return absl::StrCat(value.i);
    case TypeKind::kDecimal:
    case TypeKind::kMoney:
    case TypeKind::kPercent:
      return JsonQuote(DecimalText(value.d, value.kind));
    case TypeKind::kDate:
      return JsonQuote(FormatDate(value.i));
    case TypeKind::kEnum:
      return JsonQuote(FormatValue(value, type));
    case TypeKind::kEnumSet: {
      const std::vector<std::string> symbols = SetSymbols(value, type);
      std::string out = "[";
      for (size_t i = 0; i < symbols.size(); ++i) {
        absl::StrAppend(&out, i > 0 ? ", " : "", JsonQuote(symbols[i]));
      }
      return out + "]";
    }
    case TypeKind::kError:
      break;
  }
  return "null";
}

std::string DecisionToJson(const Decision& d, const JsonOptions& options) {
  Writer w(options.pretty);
  w.Open('{');
  w.String("decision", d.decision);
  w.Key("policy");
  w.Open('{');
  const PolicyId& id = d.policy_id();
  w.String("name", id.name);
  w.String("version", id.version);
  w.String("sha256", id.sha256);
  w.Close('}');
  if (d.has_outcome) {
    w.String("outcome", d.outcome);
  } else {
    w.Member("outcome", "null");
  }
  if (d.evaluation_date) w.String("evaluation_date", FormatDate(*d.evaluation_date));
  w.Key("outputs");
  w.Open('{');
  for (const OutputValue& o : d.outputs) {
    w.Member(o.name,
             o.has_value ? JsonValue(o.value, o.type, options.percent_points, o.places) : "null");
  }
  w.Close('}');
  w.Key("reasons");
  w.Open('[');
  for (const Reason& r : d.reasons) {
    w.Item();
    w.Open('{');
    w.String("code", r.code);
    w.String("message", r.Message());
    w.String("rule", r.rule);
    w.String("location", absl::StrCat(r.file, ":", r.line));
    w.Close('}');
  }
  w.Close(']');
  if (options.scorecards && !d.scorecards.empty()) {
    w.Key("scorecards");
    w.Open('[');
    for (const ScorecardResult& s : d.scorecards) {
      w.Item();
      w.Open('{');
      w.String("name", s.name);
      w.String("total", s.total.ToCanonicalString());
      w.Key("groups");
      w.Open('[');
      for (const GroupResult& g : s.groups) {
        w.Item();
        w.Open('{');
        w.String("name", g.name);
        w.String("weight", g.weight.ToCanonicalString());
        w.String("points", g.points.ToCanonicalString());
        w.Close('}');
      }
      w.Close(']');
      w.Key("factors");
      w.Open('[');
      for (const FactorResult& f : s.factors) {
        w.Item();
        w.Open('{');
        w.String("group", f.group);
        w.String("factor", f.subject);
        w.Member("bin", absl::StrCat(f.bin + 1));
        w.String("points", f.points.ToCanonicalString());
        w.String("max_points", f.max_points.ToCanonicalString());
        w.String("weighted_points_lost", f.weighted_lost.ToCanonicalString());
        if (!f.reason.empty()) w.String("reason", f.reason);
        w.Close('}');
      }
      w.Close(']');
      w.Key("top_reasons");
      w.Open('[');
      for (int k : s.top_reasons) {
        w.Item();
        w.Raw(JsonQuote(s.factors[static_cast<size_t>(k)].reason));
      }
      w.Close(']');
      w.Close('}');
    }
    w.Close(']');
  }
  if (options.trace && !d.trace.empty()) {
    static constexpr const char* kKinds[] = {"let",       "band", "table", "factor",
                                             "scorecard", "rule", "output"};
    w.Key("trace");
    w.Open('[');
    for (const TraceStep& t : d.trace) {
      w.Item();
      w.Open('{');
      w.String("step", kKinds[static_cast<int>(t.kind)]);
      w.String("name", t.name);
      w.String("value", t.value);
      if (!t.detail.empty()) w.String("detail", t.detail);
      if (!t.location.empty()) w.String("location", t.location);
      if (!t.reads.empty()) {
        w.Key("reads");
        w.Open('{');
        for (const auto& [name, value] : t.reads) w.String(name, value);
        w.Close('}');
      }
      w.Close('}');
    }
    w.Close(']');
  }
  w.Close('}');
  std::string out = w.Take();
  if (options.pretty) out += '\n';
  return out;
}

}  // namespace creditd::engine
