// The creditd side of bench/zen/run.sh: evaluates grade_terms.credit on
// every input line ({"score": "64.99", "segment": "new", ...}), prints one
// output line each, and the time taken to stderr.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "engine/checker.h"
#include "engine/compiler.h"
#include "engine/evaluator.h"
#include "rapidjson/document.h"

int main(int argc, char** argv) {
  using namespace creditd::engine;
  if (argc != 3) {
    std::fprintf(stderr, "usage: zen_compare POLICY INPUTS.jsonl\n");
    return 2;
  }
  DiskFileReader reader;
  creditd::dsl::DiagnosticSink sink;
  auto checked = LoadAndCheck(argv[1], reader, sink);
  if (!checked.ok() || sink.has_errors()) {
    std::fprintf(stderr, "zen_compare: cannot load %s\n", argv[1]);
    return 1;
  }
  auto compiled = Compile(*std::move(checked));
  if (!compiled.ok()) return 1;
  const CompiledPolicy& policy = **compiled;

  std::ifstream in(argv[2]);
  std::vector<std::string> scores, segments;
  for (std::string line; std::getline(in, line);) {
    rapidjson::Document doc;
    doc.Parse(line.c_str());
    if (doc.HasParseError() || !doc.IsObject()) continue;
    scores.push_back(doc["score"].GetString());
    segments.push_back(doc["segment"].GetString());
  }
  std::vector<Facts> facts(scores.size());
  for (size_t i = 0; i < scores.size(); ++i) {
    facts[i]
        .Add("score", FactValue::Decimal(scores[i]))
        .Add("segment", FactValue::Symbol(segments[i]));
  }
  std::vector<std::string> grades(scores.size()), limits(scores.size());
  std::vector<int64_t> terms(scores.size());
  Decision d;
  for (size_t i = 0; i < 200 && i < facts.size(); ++i) (void)EvaluateInto(policy, facts[i], {}, &d);
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < facts.size(); ++i) {
    if (!EvaluateInto(policy, facts[i], {}, &d).ok()) return 1;
    grades[i] = FormatValue(d.outputs[0].value, d.outputs[0].type);
    limits[i] = d.outputs[1].value.d.ToCanonicalString();
    terms[i] = d.outputs[2].value.i;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (size_t i = 0; i < facts.size(); ++i) {
    std::cout << "{\"grade\":\"" << grades[i] << "\",\"base_limit\":\"" << limits[i]
              << "\",\"payment_terms_days\":" << terms[i] << "}\n";
  }
  std::fprintf(stderr, "creditd: %zu decisions in %.1f ms, %.0f decisions/s\n", facts.size(),
               seconds * 1e3, static_cast<double>(facts.size()) / seconds);
  return 0;
}
