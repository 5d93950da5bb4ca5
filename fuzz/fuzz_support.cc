#include "fuzz/fuzz_support.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <tuple>

#include "absl/strings/str_split.h"
#include "rapidjson/document.h"

namespace creditd::fuzz {

std::string PolicyDirectory() {
  const char* dir = std::getenv("CREDITD_POLICIES");
  return dir != nullptr && *dir != '\0' ? dir : CREDITD_SOURCE_DIR "/policies";
}

std::shared_ptr<const engine::Bundle> ReferenceBundle() {
  static const std::shared_ptr<const engine::Bundle> bundle = [] {
    engine::DiskFileReader reader;
    const std::string dir = PolicyDirectory();
    absl::StatusOr<engine::BundleLoad> load = engine::LoadBundle(dir, reader);
    if (!load.ok()) Fail("the reference policies load", std::string(load.status().message()));
    if (load->bundle == nullptr) Fail("the reference policies load", load->report);
    return load->bundle;
  }();
  return bundle;
}

std::vector<std::shared_ptr<const engine::CompiledPolicy>> ReferencePolicies() {
  std::vector<std::shared_ptr<const engine::CompiledPolicy>> policies;
  for (const auto& [name, decision] : ReferenceBundle()->decisions) {
    for (const engine::BundleVersion& v : decision.versions) policies.push_back(v.policy);
  }
  return policies;
}

engine::EvalOptions FuzzEvalOptions(bool trace) {
  static const int64_t kDay = [] {
    absl::StatusOr<int64_t> day = engine::ParseDate("2026-11-30");
    if (!day.ok()) Fail("the fuzzers' evaluation date parses", day.status().ToString());
    return *day;
  }();
  engine::EvalOptions options;
  options.trace = trace;
  options.evaluation_date = kDay;
  return options;
}

std::vector<engine::Fact> Sorted(const engine::Facts& facts) {
  std::vector<engine::Fact> out = facts.all();
  std::sort(out.begin(), out.end(), [](const engine::Fact& a, const engine::Fact& b) {
    return std::make_tuple(a.name, a.value.kind, a.value.b, a.value.i, a.value.text) <
           std::make_tuple(b.name, b.value.kind, b.value.b, b.value.i, b.value.text);
  });
  return out;
}

bool IsStrictJson(const std::string& text) {
  rapidjson::Document document;
  document.Parse<rapidjson::kParseValidateEncodingFlag>(text.c_str(), text.size());
  return !document.HasParseError();
}

bool Strict(const char* name) {
  static const std::vector<std::string> names = [] {
    const char* value = std::getenv("CREDITD_FUZZ_STRICT");
    return value == nullptr ? std::vector<std::string>()
                            : absl::StrSplit(value, ',', absl::SkipEmpty());
  }();
  for (const std::string& n : names) {
    if (n == "all" || n == name) return true;
  }
  return false;
}

bool Verbose() {
  static const bool verbose = [] {
    const char* value = std::getenv("CREDITD_FUZZ_VERBOSE");
    return value != nullptr && std::string(value) == "1";
  }();
  return verbose;
}

void Fail(const std::string& what, const std::string& detail) {
  std::fprintf(stderr, "invariant broken: %s\n", what.c_str());
  if (!detail.empty()) {
    // Enough to see the problem; the saved input has the rest.
    std::fprintf(stderr, "%.4000s\n", detail.c_str());
  }
  std::fflush(stderr);
  std::abort();
}

}  // namespace creditd::fuzz
