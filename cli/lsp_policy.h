#pragma once

// What `creditctl lsp` knows about one checked policy: which declaration
// each name written in it refers to, what to say about a declaration, the
// outline of the file, and what may be written at a place.

#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "cli/lsp_protocol.h"
#include "dsl/ast.h"
#include "dsl/source.h"
#include "engine/checked_policy.h"

namespace creditd::cli::lsp {

enum class DeclKind {
  kEnum,
  kEnumSymbol,  // key "Grade.A"
  kReason,
  kInput,
  kOutput,
  kLet,
  kBand,
  kTable,
  kColumn,  // key "base_terms.base_limit"
  kScorecard,
  kGroup,   // key "credit_score.financial"
  kFactor,  // key "credit_score.financial.debt_ratio"
  kRule,
};

// A declared name: where the name is written and where its declaration is.
struct Declaration {
  DeclKind kind = DeclKind::kInput;
  std::string key;
  dsl::SourceSpan name_span;
  dsl::SourceSpan span;
};

// A name written in the policy's own file, and the declaration it names.
struct Reference {
  dsl::SourceSpan span;
  DeclKind kind = DeclKind::kInput;
  std::string key;
};

// What a hover shows: a line in policy syntax, then notes (`code` in
// backticks).
struct HoverText {
  std::string signature;
  std::vector<std::string> notes;
};

// LSP SymbolKind and CompletionItemKind numbers used here.
namespace symbol_kind {
inline constexpr int kModule = 2;
inline constexpr int kClass = 5;
inline constexpr int kMethod = 6;
inline constexpr int kField = 8;
inline constexpr int kEnum = 10;
inline constexpr int kFunction = 12;
inline constexpr int kVariable = 13;
inline constexpr int kConstant = 14;
inline constexpr int kEnumMember = 22;
inline constexpr int kStruct = 23;
inline constexpr int kEvent = 24;
}  // namespace symbol_kind

namespace completion_kind {
inline constexpr int kFunction = 3;
inline constexpr int kField = 5;
inline constexpr int kVariable = 6;
inline constexpr int kClass = 7;
inline constexpr int kEnum = 13;
inline constexpr int kKeyword = 14;
inline constexpr int kEnumMember = 20;
inline constexpr int kConstant = 21;
inline constexpr int kStruct = 22;
inline constexpr int kTypeParameter = 25;
}  // namespace completion_kind

// One entry of the outline (LSP DocumentSymbol).
struct OutlineSymbol {
  std::string name;
  std::string detail;
  int kind = symbol_kind::kVariable;
  dsl::SourceSpan span;
  dsl::SourceSpan name_span;
  std::vector<OutlineSymbol> children;
};

struct CompletionItem {
  std::string label;
  int kind = completion_kind::kVariable;
  std::string detail;
  // Items ranked first sort first ("0" before "1"); clients filter by label.
  std::string sort = "1";
};

// The outline of parsed file `file` (its declarations, in order).
std::vector<OutlineSymbol> Outline(const dsl::ast::File& file);

class PolicyIndex {
 public:
  // `policy` (and the program it owns) must outlive the index. Names are
  // only resolved in a policy the checker ran on (CheckedPolicy::name is
  // set); otherwise the index knows its declarations only.
  explicit PolicyIndex(const engine::CheckedPolicy& policy);

  const engine::CheckedPolicy& policy() const { return policy_; }

  // The innermost name written at `at` in the policy's own file (file 0).
  const Reference* At(const EngineLocation& at) const;
  // The declaration of `key` of kind `kind` in any file of the policy.
  const Declaration* Find(DeclKind kind, const std::string& key) const;
  // What to show for a reference; nullopt when the checker has nothing.
  std::optional<HoverText> Hover(const Reference& reference) const;

  // What may be written after `before` (the current line up to the cursor).
  std::vector<CompletionItem> Complete(absl::string_view before) const;

 private:
  void AddDeclarations(const dsl::ast::File& file);
  void AddReferences(const dsl::ast::File& file);
  void AddExpr(const dsl::ast::Expr& expr);
  void AddTest(const dsl::ast::Test& test);
  void AddInterval(const dsl::ast::Interval& interval);
  void AddType(const dsl::ast::TypeRef& type);
  void AddValueName(const dsl::ast::Ident& name);
  void AddRef(const dsl::SourceSpan& span, DeclKind kind, std::string key);

  const engine::TableInfo* FindTable(absl::string_view name) const;
  const engine::ScorecardInfo* FindScorecard(absl::string_view name) const;
  const engine::EnumType* FindEnum(absl::string_view name) const;
  // The type of the value (input, let, band, output) named `name`.
  std::optional<engine::Type> ValueType(absl::string_view name) const;

  void AddValueItems(std::vector<CompletionItem>* items) const;
  void AddSymbolItems(const engine::EnumType* first, std::vector<CompletionItem>* items) const;
  void AddReasonItems(std::vector<CompletionItem>* items) const;
  void AddOutputItems(bool sets_only, std::vector<CompletionItem>* items) const;
  void AddTypeItems(std::vector<CompletionItem>* items) const;

  const engine::CheckedPolicy& policy_;
  bool checked_ = false;
  absl::flat_hash_map<std::pair<int, std::string>, Declaration> declarations_;
  std::vector<Reference> references_;
};

}  // namespace creditd::cli::lsp
