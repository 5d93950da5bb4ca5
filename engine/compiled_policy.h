#pragma once

// A checked policy compiled for evaluation: an immutable program of typed
// instructions over a frame of slots, with bands, factors and table columns
// as sorted interval lookups. Built once by Compile() (compiler.h); shared
// by any number of threads evaluating at once (evaluator.h).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "engine/checked_policy.h"
#include "engine/decimal.h"
#include "engine/decision.h"
#include "engine/domain.h"
#include "engine/types.h"

namespace creditd::engine {

namespace program {

// One frame slot: integers, dates, enum ordinals, bools and enum sets (as
// bits) live in `i`; decimal kinds in `d`.
struct Slot {
  Decimal d;
  int64_t i = 0;
};

enum class OpCode : uint8_t {
  kMove,      // dst = a
  kIntToDec,  // dst.d = a.i
  kAddI,      // dst.i = a.i + b.i (overflow checked); also date - date
  kSubI,
  kMulI,
  kNegI,
  kAddDays,  // dst.i = a.i + b.i, a date: leaving kMinDate..kMaxDate fails
  kSubDays,  // dst.i = a.i - b.i, a date: leaving kMinDate..kMaxDate fails
  kAddD,     // dst.d = a.d + b.d (overflow checked)
  kSubD,
  kMulD,
  kDivD,  // division by zero checked
  kNegD,
  kAbsI,
  kAbsD,
  kMinI,
  kMaxI,
  kMinD,
  kMaxD,
  kRoundD,  // dst.d = round(a.d, imm places, aux mode)
  kCmpI,    // dst.i = compare(a.i, b.i) by aux (a Cmp)
  kCmpD,
  kInRangeI,  // dst.i = a.i in [b.i, c.i] with aux bit 0: low open, bit 1: high open
  kInRangeD,
  kInBits,       // dst.i = (a.i is a bit of b.i)   (enum in set literal)
  kNot,          // dst.i = !a.i
  kOrBits,       // dst.i = a.i | b.i
  kBit,          // dst.i = 1 << a.i
  kJump,         // pc = imm
  kJumpIfFalse,  // if (!a.i) pc = imm
  kJumpIfTrue,   // if (a.i) pc = imm
  kLookup,       // dst.i = row of lookup imm for value a (-1: none)
  kTableMatch,   // match table imm: dst.i = matched-row count, rows into its mask
  kMaskFirst,    // dst.i = first matched row of table imm, or -1
  kMaskHas,      // dst.i = row b (constant index in aux-free field `c`) matched in table imm
  kJumpTable,    // pc = jump_tables[imm][a.i]
  kJumpUnlessI,  // if !(a.i aux b.i) pc = imm   (compare and branch, for conditions)
  kJumpUnlessD,  // if !(a.d aux b.d) pc = imm
  kFail,         // stop with the error message errors[imm]
};

enum class Cmp : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe };

// Operands index the frame: slots first (below `slot_count`), then the
// constants, which the evaluator copies in once per thread and policy.
struct Instr {
  OpCode op = OpCode::kMove;
  uint8_t aux = 0;
  uint32_t dst = 0;
  uint32_t a = 0;
  uint32_t b = 0;
  uint32_t c = 0;
  int32_t imm = 0;
  uint32_t where = 0;  // index into Program::contexts, for error messages
};

// A sorted interval lookup over one value: the value's position among the
// sorted bounds picks a segment; each segment lists the rows it matches as
// bits (`words` 64-bit words per segment). Enums and bools index segments by
// ordinal directly.
struct Lookup {
  bool decimal = false;
  bool direct = false;  // enums and bools: segment = ordinal
  std::vector<Decimal> bounds_d;
  std::vector<int64_t> bounds_i;
  int words = 1;
  std::vector<uint64_t> masks;     // segments x words
  std::vector<int32_t> first_row;  // per segment: the first matching row, or -1
};

struct TableProgram {
  std::vector<uint32_t> columns;  // operands of the condition values
  std::vector<int> lookups;       // per column, into Program::lookups
  int rows = 0;
  int words = 1;
  uint32_t mask_offset = 0;  // where this table's matched-row mask lives in the mask area
};

struct Program {
  std::vector<Instr> code;
  std::vector<Slot> constants;
  std::vector<Lookup> lookups;
  std::vector<TableProgram> tables;
  std::vector<std::vector<int32_t>> jump_tables;
  std::vector<std::string> errors;    // kFail messages
  std::vector<std::string> contexts;  // "let `x` (policy.credit:12)"
  uint32_t slot_count = 0;
  uint32_t mask_words = 0;
  uint64_t generation = 0;  // unique per compiled program, for frame caching
};

}  // namespace program

// A named value an expression reads (input, let, band, table column,
// scorecard value), for traces.
struct ReadSlot {
  std::string name;
  uint32_t slot = 0;
  Type type;
  int64_t given_slot = -1;  // an optional input: the slot saying it was given
};

// A validated input: how a fact becomes a slot.
struct InputSlot {
  std::string name;
  Type type;
  Domain range;
  bool has_range = false;
  // A range of one interval, checked without the Domain: bounds as slots
  // (ints in `i`, decimals in `d`), each absent when infinite.
  bool simple_range = false;
  bool has_low = false, has_high = false;
  bool low_closed = true, high_closed = true;
  program::Slot low, high;
  std::optional<Value> default_value;
  int places = -1;  // decimal kinds: the most decimal places a fact may have
  uint32_t slot = 0;
  // `money?` (edition 2): may be left out; `given_slot` holds 1 when given.
  bool optional = false;
  uint32_t given_slot = 0;
};

struct OutputSlot {
  std::string name;
  Type type;
  int places = -1;  // edition 2 money: the decimal places it holds and shows
  uint32_t slot = 0;
  uint32_t has_value_slot = 0;  // slot holding 1 when the output has a value
  // Values its own expression and the rules' effects on it read, for traces.
  std::vector<ReadSlot> reads;
};

struct RuleSlot {
  std::string id;
  uint32_t fired = 0;                                        // slot holding 1 when the rule fired
  int severity = -1;                                         // the outcome ordinal it gives, or -1
  std::vector<std::pair<std::string, std::string>> reasons;  // (code, message)
  std::vector<int> reason_indexes;  // per reason: its index in CheckedPolicy::reasons
  std::string file;
  int line = 0;
  std::vector<ReadSlot> reads;  // values its condition reads
};

struct FactorSlot {
  std::string group;
  std::string subject;
  uint32_t row = 0;     // slot: matched bin
  uint32_t points = 0;  // slot
  Decimal max_points;
  Decimal weight;
  std::string reason;
  Decimal reason_below;  // the reason applies below (or, inclusive, at) this
  bool reason_inclusive = false;
  std::vector<std::string> bins;  // each bin's test as written, for traces
  std::vector<int> bin_lines;     // each bin's source line
  std::string file;               // where the factor is declared
};

struct ScorecardSlot {
  std::string name;
  uint32_t total = 0;
  std::vector<std::pair<std::string, uint32_t>> groups;  // name, slot
  std::vector<Decimal> weights;
  std::vector<FactorSlot> factors;
};

// A reason message that quotes values (edition 2): text and the slots of
// the values, filled in when a decision gives the reason.
struct MessageTemplate {
  struct Piece {
    std::string text;  // text, when it quotes no value
    bool is_value = false;
    uint32_t slot = 0;  // a value's operand in the frame
    Type type;
  };
  std::vector<Piece> pieces;  // empty: the message is text only
};

// A named derived value (let, band, table column) for traces.
struct NamedSlot {
  TraceStep::Kind kind = TraceStep::Kind::kLet;
  std::string name;
  Type type;
  uint32_t slot = 0;
  int32_t row_slot = -1;  // bands and tables: the matched row
  int32_t table = -1;     // tables: the program table (its mask lists every matched row)
  std::string location;
  std::string file;
  std::vector<int> row_lines;  // bands and tables: each row's source line
  std::vector<ReadSlot> reads;
};

// The canonical form a policy's sha256 covers: the formatter's output
// (dsl/formatter.h) of every file of the policy, in load order, each under a
// "=== path" line (the path relative to the policy's folder). It is a
// contract: form 1 is the formatter's output the golden files in
// tests/golden/canonical/form1 hold, and any change to that output for any
// policy is a new form, with this number raised and new golden files. The
// audit log records the form of every text it stores; a version stored in
// an earlier form keeps the sha256 it was stored under, and is compared
// with a policy file by formatting its stored text again in today's form.
inline constexpr int kCanonicalForm = 1;

class CompiledPolicy {
 public:
  const PolicyId& id() const { return id_; }
  const std::string& name() const { return id_.name; }
  bool is_library() const { return checked_->is_library; }
  const CheckedPolicy& checked() const { return *checked_; }
  const std::vector<InputSlot>& inputs() const { return inputs_; }
  const std::vector<OutputSlot>& outputs() const { return outputs_; }
  const std::vector<RuleSlot>& rules() const { return rules_; }
  const std::vector<ScorecardSlot>& scorecards() const { return scorecards_; }
  const std::vector<NamedSlot>& named() const { return named_; }
  // Per reason of CheckedPolicy::reasons: how its message is filled in.
  const std::vector<MessageTemplate>& messages() const { return messages_; }
  const program::Program& code() const { return program_; }
  const EnumType* outcome() const { return outcome_; }
  uint32_t outcome_slot() const { return outcome_slot_; }
  // The language edition the policy is written in.
  int edition() const { return checked_->edition; }
  // Does the policy read `today`, the evaluation date (edition 2)? Its slot
  // holds the date as days.
  bool reads_today() const { return reads_today_; }
  uint32_t today_slot() const { return today_slot_; }
  // The input with this name, or -1.
  int FindInput(absl::string_view name) const;
  // The canonical source of every file, in load order: what the sha256 covers.
  // For a version rebuilt from the audit log, the text as stored.
  const std::string& canonical_source() const { return canonical_source_; }
  // The canonical form canonical_source() is in: kCanonicalForm, or the form
  // a version rebuilt from the audit log was stored in.
  int canonical_form() const { return canonical_form_; }
  // The sha256 of the policy's text in today's canonical form: id().sha256,
  // except for a version stored in an earlier form, whose id keeps the
  // sha256 it was stored under.
  const std::string& form_sha256() const { return form_sha256_; }
  // The most instructions one evaluation can execute (the program only jumps
  // forward), and the frame size: the static bound on the work per decision.
  size_t max_steps() const { return program_.code.size(); }

 private:
  friend class Compiler;

  PolicyId id_;
  std::unique_ptr<CheckedPolicy> checked_;
  std::string canonical_source_;
  int canonical_form_ = kCanonicalForm;
  std::string form_sha256_;
  std::vector<InputSlot> inputs_;
  absl::flat_hash_map<std::string, int> input_index_;
  std::vector<OutputSlot> outputs_;
  std::vector<RuleSlot> rules_;
  std::vector<ScorecardSlot> scorecards_;
  std::vector<NamedSlot> named_;
  std::vector<MessageTemplate> messages_;
  program::Program program_;
  const EnumType* outcome_ = nullptr;
  uint32_t outcome_slot_ = 0;
  bool reads_today_ = false;
  uint32_t today_slot_ = 0;
  std::vector<int> reason_order_;  // rules sorted by severity, then source order
 public:
  const std::vector<int>& reason_order() const { return reason_order_; }
};

}  // namespace creditd::engine
