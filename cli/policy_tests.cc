#include "cli/policy_tests.h"

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/creditctl.h"
#include "cli/facts_json.h"
#include "cli/policy_loading.h"
#include "engine/decision_json.h"
#include "engine/evaluator.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace creditd::cli {

namespace {

using engine::TraceStep;

std::string RowKey(const std::string& kind, const std::string& name, int row) {
  return absl::StrCat(kind, "\t", name, "\t", row);
}

// The JSON text of a value, for messages.
std::string JsonText(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return buffer.GetString();
}

// A JSON scalar as plain text (strings unquoted; numbers as written).
std::string ScalarText(const rapidjson::Value& v) {
  if (v.IsString()) return std::string(v.GetString(), v.GetStringLength());
  if (v.IsBool()) return v.GetBool() ? "true" : "false";
  if (v.IsNull()) return "null";
  return JsonText(v);
}

// Does output `actual` equal the expected JSON value?
// `percent_points`: an edition 2 policy's percents show as "55.12%".
bool OutputMatches(const engine::OutputValue& actual, const rapidjson::Value& expected,
                   bool percent_points, std::string* shown) {
  *shown = actual.has_value ? engine::JsonValue(actual.value, actual.type, percent_points) : "null";
  if (expected.IsNull()) return !actual.has_value;
  if (!actual.has_value) return false;
  const engine::Type& type = actual.type;
  switch (type.kind) {
    case engine::TypeKind::kBool:
      return expected.IsBool() && expected.GetBool() == actual.value.b;
    case engine::TypeKind::kEnumSet: {
      if (!expected.IsArray()) return false;
      uint64_t bits = 0;
      for (const rapidjson::Value& e : expected.GetArray()) {
        if (!e.IsString()) return false;
        const int k = type.enum_type->Find(e.GetString());
        if (k < 0) return false;
        bits |= uint64_t{1} << k;
      }
      return bits == actual.value.bits;
    }
    case engine::TypeKind::kDecimal:
    case engine::TypeKind::kMoney:
    case engine::TypeKind::kPercent:
    case engine::TypeKind::kInt: {
      std::string text = ScalarText(expected);
      const bool percent = !text.empty() && text.back() == '%';
      if (percent) {
        text.pop_back();
        // Shown as the case writes it: "66.67%" against "66.66%", not a
        // fraction against percent points.
        if (type.kind == engine::TypeKind::kPercent) {
          *shown = absl::StrCat("\"", engine::FormatValue(actual.value, type), "\"");
        }
      }
      absl::StatusOr<engine::Decimal> parsed = engine::Decimal::Parse(text);
      if (!parsed.ok()) return false;
      absl::StatusOr<engine::Decimal> want =
          percent ? parsed->Div(engine::Decimal::FromInt(100)) : parsed;
      return want.ok() && *want == actual.value.AsDecimal();
    }
    default:
      return ScalarText(expected) == engine::FormatValue(actual.value, type);
  }
}

}  // namespace

Coverage::Coverage(const engine::CompiledPolicy& policy) {
  auto add = [&](std::string key, std::string what, std::string location) {
    index_[key] = static_cast<int>(items_.size());
    items_.push_back({std::move(what), std::move(location)});
  };
  for (const engine::RuleSlot& rule : policy.rules()) {
    add(RowKey("rule", rule.id, 0), absl::StrCat("rule `", rule.id, "` firing"),
        absl::StrCat(rule.file, ":", rule.line));
  }
  std::set<std::string> tables;
  for (const engine::NamedSlot& n : policy.named()) {
    if (n.kind == TraceStep::Kind::kBand) {
      for (size_t r = 0; r < n.row_lines.size(); ++r) {
        add(RowKey("band", n.name, static_cast<int>(r)),
            absl::StrCat("band `", n.name, "` row ", r + 1),
            absl::StrCat(n.file, ":", n.row_lines[r]));
      }
    } else if (n.kind == TraceStep::Kind::kTable) {
      const std::string table = n.name.substr(0, n.name.find('.'));
      if (!tables.insert(table).second) continue;
      for (size_t r = 0; r < n.row_lines.size(); ++r) {
        add(RowKey("table", table, static_cast<int>(r)),
            absl::StrCat("table `", table, "` row ", r + 1),
            absl::StrCat(n.file, ":", n.row_lines[r]));
      }
    }
  }
  for (const engine::ScorecardSlot& card : policy.scorecards()) {
    for (const engine::FactorSlot& factor : card.factors) {
      const std::string name = absl::StrCat(card.name, ".", factor.subject);
      for (size_t b = 0; b < factor.bins.size(); ++b) {
        add(RowKey("factor", name, static_cast<int>(b)),
            absl::StrCat("factor `", name, "` bin ", b + 1, " (", factor.bins[b], ")"),
            absl::StrCat(factor.file, ":", factor.bin_lines[b]));
      }
    }
  }
}

void Coverage::Add(const engine::Decision& decision) {
  auto mark = [&](const std::string& key) {
    auto it = index_.find(key);
    if (it != index_.end()) reached_.insert(it->second);
  };
  for (const TraceStep& step : decision.trace) {
    switch (step.kind) {
      case TraceStep::Kind::kRule:
        if (step.fired) mark(RowKey("rule", step.name, 0));
        break;
      case TraceStep::Kind::kBand:
        for (int r : step.rows) mark(RowKey("band", step.name, r));
        break;
      case TraceStep::Kind::kTable:
        for (int r : step.rows) mark(RowKey("table", step.name.substr(0, step.name.find('.')), r));
        break;
      case TraceStep::Kind::kFactor:
        for (int r : step.rows) mark(RowKey("factor", step.name, r));
        break;
      default:
        break;
    }
  }
}

std::vector<CoverageItem> Coverage::Missing() const {
  std::vector<CoverageItem> missing;
  for (size_t i = 0; i < items_.size(); ++i) {
    if (!reached_.count(static_cast<int>(i))) missing.push_back(items_[i]);
  }
  return missing;
}

absl::StatusOr<std::string> PolicyPathFor(const std::string& test_path) {
  absl::StatusOr<std::string> text = ReadFile(test_path);
  if (!text.ok()) return text.status();
  rapidjson::Document doc;
  doc.Parse(text->c_str(), text->size());
  const std::filesystem::path dir = std::filesystem::path(test_path).parent_path();
  std::string policy;
  if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("policy") &&
      doc["policy"].IsString()) {
    policy = (dir / doc["policy"].GetString()).string();
  } else {
    // NAME.tests.json tests NAME.credit, whatever dots NAME holds
    // (credit_check-1.0.0.tests.json tests credit_check-1.0.0.credit).
    std::string stem = std::filesystem::path(test_path).filename().string();
    constexpr absl::string_view kSuffix = ".tests.json";
    if (absl::EndsWith(stem, kSuffix)) stem.resize(stem.size() - kSuffix.size());
    policy = (dir / (stem + ".credit")).string();
  }
  std::error_code error;
  if (!std::filesystem::is_regular_file(policy, error)) {
    return absl::NotFoundError(absl::StrCat(
        test_path, " tests `", policy,
        "`, which is not there: name a test file after its policy (NAME.tests.json beside "
        "NAME.credit), or say which policy it tests with a \"policy\" member"));
  }
  return policy;
}

absl::StatusOr<TestFileResult> RunTestFile(const std::string& path,
                                           const engine::CompiledPolicy& policy, Coverage& coverage,
                                           const TestRunOptions& options, std::ostream& out) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  FactsJson json;
  if (absl::Status status = json.Parse(*text); !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not valid JSON: ", status.message()));
  }
  const rapidjson::Value& doc = json.root();
  if (!doc.IsObject() || !doc.HasMember("cases") || !doc["cases"].IsArray()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": a test file is an object with a \"cases\" array"));
  }
  static const rapidjson::Value kEmpty(rapidjson::kObjectType);
  const rapidjson::Value& defaults =
      doc.HasMember("defaults") && doc["defaults"].IsObject() ? doc["defaults"] : kEmpty;

  // The evaluation date, `today` of an edition 2 policy: the file's
  // "evaluation_date", or a case's own. A case never takes the clock's, so
  // it gives the same answer on every day.
  auto date_of = [&](const rapidjson::Value& object,
                     const std::string& where) -> absl::StatusOr<std::optional<int64_t>> {
    if (!object.IsObject() || !object.HasMember("evaluation_date")) {
      return std::optional<int64_t>();
    }
    const rapidjson::Value& v = object["evaluation_date"];
    absl::StatusOr<int64_t> days = v.IsString() ? engine::ParseDate(v.GetString())
                                                : absl::InvalidArgumentError("not a string");
    if (!days.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": ", where, "\"evaluation_date\" must be a date such as \"2026-11-30\""));
    }
    return std::optional<int64_t>(*days);
  };
  absl::StatusOr<std::optional<int64_t>> file_date = date_of(doc, "");
  if (!file_date.ok()) return file_date.status();

  TestFileResult result;
  engine::Decision decision;
  engine::EvalOptions eval;
  eval.trace = true;
  int number = 0;
  for (const rapidjson::Value& c : doc["cases"].GetArray()) {
    ++number;
    const std::string name = c.IsObject() && c.HasMember("name") && c["name"].IsString()
                                 ? c["name"].GetString()
                                 : absl::StrCat("case ", number);
    if (!c.IsObject() || !c.HasMember("expect") || !c["expect"].IsObject()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": case `", name, "` needs an \"expect\" object"));
    }
    const rapidjson::Value& facts_json =
        c.HasMember("facts") && c["facts"].IsObject() ? c["facts"] : kEmpty;
    engine::Facts facts;
    AddFacts(json, defaults, policy, &facts_json, &facts);
    AddFacts(json, facts_json, policy, nullptr, &facts);
    const rapidjson::Value& expect = c["expect"];
    absl::StatusOr<std::optional<int64_t>> case_date =
        date_of(c, absl::StrCat("case `", name, "`: "));
    if (!case_date.ok()) return case_date.status();
    eval.evaluation_date = *case_date ? *case_date : *file_date;

    std::vector<std::string> diffs;
    std::vector<engine::FactProblem> problems;
    absl::Status status = engine::EvaluateInto(policy, facts, eval, &decision, &problems);
    if (expect.HasMember("fact_problems")) {
      // The case expects the facts to be refused, naming these facts.
      std::vector<std::string> want;
      for (const rapidjson::Value& v : expect["fact_problems"].GetArray())
        want.push_back(ScalarText(v));
      std::vector<std::string> got;
      for (const engine::FactProblem& p : problems) got.push_back(p.fact);
      std::sort(want.begin(), want.end());
      if (status.ok()) {
        diffs.push_back(absl::StrCat("facts: expected problems with [", absl::StrJoin(want, ", "),
                                     "], but the facts were accepted"));
      } else if (got != want) {
        diffs.push_back(absl::StrCat("fact problems: expected [", absl::StrJoin(want, ", "),
                                     "], got [", absl::StrJoin(got, ", "), "] (", status.message(),
                                     ")"));
      }
    } else if (!status.ok()) {
      diffs.push_back(absl::StrCat("evaluation failed: ", status.message(),
                                   policy.reads_today() && !eval.evaluation_date
                                       ? " (give the case or the file an \"evaluation_date\")"
                                       : ""));
    } else {
      coverage.Add(decision);
      if (expect.HasMember("outcome")) {
        const std::string want = ScalarText(expect["outcome"]);
        const std::string got = decision.has_outcome ? std::string(decision.outcome) : "null";
        if (want != got) diffs.push_back(absl::StrCat("outcome: expected ", want, ", got ", got));
      }
      if (expect.HasMember("outputs") && expect["outputs"].IsObject()) {
        for (auto it = expect["outputs"].MemberBegin(); it != expect["outputs"].MemberEnd(); ++it) {
          const std::string key = it->name.GetString();
          const engine::OutputValue* output = decision.Output(key);
          if (output == nullptr) {
            diffs.push_back(absl::StrCat("outputs.", key, ": the policy has no such output"));
            continue;
          }
          std::string shown;
          if (!OutputMatches(*output, it->value, policy.edition() >= 2, &shown)) {
            diffs.push_back(
                absl::StrCat("outputs.", key, ": expected ", JsonText(it->value), ", got ", shown));
          }
        }
      }
      if (expect.HasMember("reasons") && expect["reasons"].IsArray()) {
        std::vector<std::string> want;
        for (const rapidjson::Value& v : expect["reasons"].GetArray())
          want.push_back(ScalarText(v));
        std::vector<std::string> got;
        for (const engine::Reason& r : decision.reasons) got.emplace_back(r.code);
        if (want != got) {
          diffs.push_back(absl::StrCat("reasons: expected [", absl::StrJoin(want, ", "), "], got [",
                                       absl::StrJoin(got, ", "), "]"));
        }
      }
      if (expect.HasMember("messages") && expect["messages"].IsObject()) {
        for (const auto& m : expect["messages"].GetObject()) {
          const std::string code(m.name.GetString(), m.name.GetStringLength());
          const std::string want = ScalarText(m.value);
          const engine::Reason* given = nullptr;
          for (const engine::Reason& r : decision.reasons) {
            if (r.code == code) given = &r;
          }
          if (given == nullptr) {
            diffs.push_back(absl::StrCat("messages.", code, ": expected \"", want,
                                         "\", but the decision does not give ", code));
          } else if (given->Message() != want) {
            diffs.push_back(absl::StrCat("messages.", code, ": expected \"", want, "\", got \"",
                                         given->Message(), "\""));
          }
        }
      }
      if (expect.HasMember("score_reasons") && expect["score_reasons"].IsArray()) {
        std::vector<std::string> want;
        for (const rapidjson::Value& v : expect["score_reasons"].GetArray()) {
          want.push_back(ScalarText(v));
        }
        std::vector<std::string> got;
        if (!decision.scorecards.empty()) {
          const engine::ScorecardResult& s = decision.scorecards.front();
          for (int k : s.top_reasons) got.emplace_back(s.factors[static_cast<size_t>(k)].reason);
        }
        if (want != got) {
          diffs.push_back(absl::StrCat("score reasons: expected [", absl::StrJoin(want, ", "),
                                       "], got [", absl::StrJoin(got, ", "), "]"));
        }
      }
    }
    if (diffs.empty()) {
      ++result.passed;
      if (options.verbose) out << "  ok    " << name << "\n";
    } else {
      ++result.failed;
      out << "  FAIL  " << name << "\n";
      for (const std::string& d : diffs) out << "        " << d << "\n";
    }
    result.cases.push_back({name, std::move(diffs)});
  }
  return result;
}

}  // namespace creditd::cli
