#pragma once

// The result of checking a policy: its declarations with names resolved and
// types known, ready for the compiler. It owns the Program (sources and
// ASTs) it was checked from; the AST pointers in it stay valid as long as it
// lives.

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "dsl/ast.h"
#include "engine/domain.h"
#include "engine/program.h"
#include "engine/types.h"
#include "engine/value.h"

namespace creditd::engine {

// The language editions. A policy declares one in its header (`edition 2`);
// text without one is edition 1. An edition fixes what text means: a new
// edition may change the meaning of text, never an old edition's, so every
// stored version keeps evaluating as it did (docs/language.md, Editions).
inline constexpr int kLatestEdition = 2;

// What a name in an expression refers to.
struct Symbol {
  // kToday: the evaluation date (edition 2).
  enum class Kind { kNone, kInput, kLet, kBand, kTable, kScorecard, kEnumSymbol, kOutput, kToday };
  Kind kind = Kind::kNone;
  int index = -1;  // into the CheckedPolicy vector of that kind; the ordinal for kEnumSymbol
};

// What the checker learned about one expression node.
struct ExprInfo {
  Type type;
  // True for number literals and arithmetic on them only: they take the
  // numeric type of whatever they meet ("limit > 500_000" compares money).
  bool untyped = false;
  std::optional<Value> constant;  // set when the value is known at check time
  Symbol symbol;                  // for names and members
  // For members: which part of a scorecard or table (group/factor index,
  // column index; -1 for a scorecard's total).
  int member = -1;
  bool member_is_factor = false;
  int member_group = -1;
  // Numbers: the most decimal places the value may have, trailing zeros not
  // counted (Decimal::kMaxScale when the checker cannot bound it: a
  // quotient). From edition 2 a money output must hold every value it takes.
  int places = Decimal::kMaxScale;
};

struct InputInfo {
  std::string name;
  Type type;
  Domain range;  // the declared range, or the type's full domain
  bool has_range = false;
  std::optional<Value> default_value;
  // Decimal kinds: the most decimal places a fact may have (DefaultPlaces,
  // or as `money(N)` declares); -1 for other types.
  int places = -1;
  // `money?` (edition 2): the fact may be left out; the policy reads it only
  // where `given(name)` holds.
  bool optional = false;
  const dsl::ast::InputDecl* decl = nullptr;
};

// When several fired rules `set` one output: the rule with the highest
// priority wins, or the lowest / highest value (`priority lowest`).
enum class SetResolution { kRulePriority, kLowest, kHighest };

struct OutputInfo {
  std::string name;
  Type type;
  SetResolution resolution = SetResolution::kRulePriority;
  // From edition 2, money: the decimal places it holds (2 unless declared,
  // `money(0)`); every value it may take is checked to fit. -1 otherwise.
  int places = -1;
  const dsl::ast::OutputDecl* decl = nullptr;
  bool set_by_rules = false;    // any rule sets, caps, raises or adds to it
  std::vector<int> depends_on;  // outputs its value expression reads
};

struct LetInfo {
  std::string name;
  Type type;
  const dsl::ast::LetDecl* decl = nullptr;
};

struct BandInfo {
  std::string name;
  Type type;          // the values it maps to
  Type subject_type;  // the value it maps from
  const dsl::ast::BandDecl* decl = nullptr;
};

enum class HitPolicy { kFirst, kUnique, kPriority, kCollect };
enum class Aggregate { kNone, kMin, kMax, kSum };

struct TableInfo {
  std::string name;
  HitPolicy hit = HitPolicy::kFirst;
  Aggregate aggregate = Aggregate::kNone;
  std::vector<Type> input_types;
  std::vector<Type> output_types;  // the column types; collect without aggregate: sets
  const dsl::ast::TableDecl* decl = nullptr;
};

struct FactorInfo {
  std::string subject;
  Type subject_type;
  Symbol subject_symbol;  // the input, let or band it scores
  int reason = -1;        // index into reasons, or -1
  Decimal max_points;
  // The reason applies when points < reason_below (<= with inclusive).
  Decimal reason_below;
  bool reason_inclusive = false;
  const dsl::ast::Factor* decl = nullptr;
};

struct GroupInfo {
  std::string name;
  Decimal weight;  // as a fraction: 40% -> 0.4
  std::vector<FactorInfo> factors;
  const dsl::ast::ScoreGroup* decl = nullptr;
};

struct ScorecardInfo {
  std::string name;
  std::vector<GroupInfo> groups;
  const dsl::ast::ScorecardDecl* decl = nullptr;
};

// A piece of a reason's message: text, or from edition 2 a value it quotes
// (`{exposure}`, `{terms.base_limit}`), checked as an expression.
struct MessagePart {
  std::string text;
  std::shared_ptr<const dsl::ast::Expr> value;  // null for text
};

struct ReasonInfo {
  std::string code;
  std::string message;  // as declared, `{exposure}` and all
  dsl::SourceSpan span;
  // From edition 2, when the message quotes values: its pieces in order.
  // Empty for a message of text only (and in edition 1, where braces are
  // text).
  std::vector<MessagePart> parts;
};

// What one effect of a rule refers to, as the checker resolved it.
struct EffectInfo {
  int output = -1;   // set, cap, raise, add: the output's index
  int outcome = -1;  // an outcome effect: the symbol's ordinal in the outcome scale
  int reason = -1;   // the reason code's index in reasons, when it gives one
};

struct RuleInfo {
  std::string id;
  std::optional<int64_t> priority;
  const dsl::ast::RuleDecl* decl = nullptr;
  std::vector<EffectInfo> effects;  // one per effect of `decl`, in order
};

struct CheckedPolicy {
  std::unique_ptr<Program> program;

  bool is_library = false;
  int edition = 1;  // the language edition the policy is written in
  std::string name;
  std::string version;
  std::string effective;  // ISO date
  std::string owner;
  std::string description;

  std::deque<EnumType> enums;  // deque: pointers to elements stay valid
  std::vector<ReasonInfo> reasons;
  std::vector<InputInfo> inputs;
  std::vector<OutputInfo> outputs;
  std::vector<LetInfo> lets;
  std::vector<BandInfo> bands;
  std::vector<TableInfo> tables;
  std::vector<ScorecardInfo> scorecards;
  std::vector<RuleInfo> rules;

  // Outputs in the order they are finalised: each after the outputs its
  // value expression reads.
  std::vector<int> output_order;

  const EnumType* outcome = nullptr;  // the outcome scale, when declared
  int outcome_initial = 0;
  dsl::SourceSpan outcome_span;

  absl::flat_hash_map<const dsl::ast::Expr*, ExprInfo> exprs;

  // The work units the static analysis spent (CheckOptions::max_analysis_work).
  int64_t analysis_work = 0;

  // Looks up what the checker learned about `expr`; null when unknown.
  const ExprInfo* Info(const dsl::ast::Expr* expr) const {
    auto it = exprs.find(expr);
    return it == exprs.end() ? nullptr : &it->second;
  }
  int FindReason(const std::string& code) const;
  int FindOutput(const std::string& name) const;
  int FindInput(const std::string& name) const;

  // Where each reason, output and input is in its vector, by name (the first
  // of a name); the checker adds to both together.
  absl::flat_hash_map<std::string, int> reason_index;
  absl::flat_hash_map<std::string, int> output_index;
  absl::flat_hash_map<std::string, int> input_index;

  // The lets, bands, tables and scorecards in an order where each comes
  // after those it uses (cycles, which are errors, broken anywhere): the
  // compiler goes through them in this order, so compiling one never
  // recurses into another.
  std::vector<Symbol> definition_order;
};

}  // namespace creditd::engine
