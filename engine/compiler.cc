#include "engine/compiler.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "crypto/sha256.h"
#include "dsl/formatter.h"
#include "engine/row_tests.h"

namespace creditd::engine {

namespace ast = dsl::ast;
using ast::Op;
using program::Cmp;
using program::Instr;
using program::OpCode;
using program::Slot;

namespace {

// Operands with this bit set index the constant pool.
constexpr uint32_t kConstBit = 0x80000000u;

// How a value sits in a slot: integers, dates, enums, bools and sets in
// `i`; decimal kinds in `d`.
enum class Rep { kI, kD };

Rep RepOf(const Type& t) { return t.is_decimal() ? Rep::kD : Rep::kI; }

Cmp CmpOf(Op op) {
  switch (op) {
    case Op::kEq:
      return Cmp::kEq;
    case Op::kNe:
      return Cmp::kNe;
    case Op::kLt:
      return Cmp::kLt;
    case Op::kLe:
      return Cmp::kLe;
    case Op::kGt:
      return Cmp::kGt;
    default:
      return Cmp::kGe;
  }
}

}  // namespace

class Compiler {
 public:
  Compiler(std::unique_ptr<CheckedPolicy> checked, const CompileOptions& options)
      : policy_(std::make_shared<CompiledPolicy>()), p_(*checked), options_(options) {
    policy_->checked_ = std::move(checked);
    prog_.contexts.push_back(absl::StrCat("policy `", p_.name, "`"));
  }

  absl::StatusOr<std::shared_ptr<const CompiledPolicy>> Run() {
    if (p_.is_library) {
      return absl::FailedPreconditionError(
          absl::StrCat("`", p_.name, "` is a library: there is no decision to evaluate"));
    }
    Identity();
    Inputs();
    let_slot_.assign(p_.lets.size(), kNone);
    band_slot_.assign(p_.bands.size(), kNone);
    table_slots_.assign(p_.tables.size(), {});
    table_done_.assign(p_.tables.size(), false);
    scorecard_done_.assign(p_.scorecards.size(), -1);
    // Each definition after those it uses, so compiling one finds them
    // compiled and never recurses into them.
    for (const Symbol& s : p_.definition_order) {
      switch (s.kind) {
        case Symbol::Kind::kLet:
          Let(s.index);
          break;
        case Symbol::Kind::kBand:
          Band(s.index);
          break;
        case Symbol::Kind::kTable:
          Table(s.index);
          break;
        default:
          Scorecard(s.index);
          break;
      }
    }
    Rules();
    Outputs();
    Outcome();
    Messages();
    if (!error_.ok()) return error_;
    PlaceConstants();
    static std::atomic<uint64_t> generations{0};
    prog_.generation = ++generations;
    policy_->program_ = std::move(prog_);
    return std::shared_ptr<const CompiledPolicy>(policy_);
  }

 private:
  static constexpr uint32_t kNone = 0xffffffffu;

  const dsl::SourceSet& sources() const { return p_.program->sources; }

  void Fail(std::string message) {
    if (error_.ok()) error_ = absl::InternalError(std::move(message));
  }

  // `d`, which the checker proved whole and within int64 (an ordinal, a
  // bound of an int, a constant held as an integer); a compile error
  // naming `what` when it is not, never a number made up.
  int64_t WholeNumber(const Decimal& d, absl::string_view what) {
    absl::StatusOr<int64_t> whole = d.ToInt64();
    if (!whole.ok()) {
      Fail(absl::StrCat(what, " is not a whole number within 64 bits: ", d.ToString()));
      return 0;
    }
    return *whole;
  }

  // The policy is too large to compile: not a defect of the checker.
  void TooLarge(std::string message) {
    if (error_.ok()) error_ = absl::ResourceExhaustedError(std::move(message));
  }

  // ----- identity --------------------------------------------------------

  // Paths are shown relative to the policy's folder: the same wherever the
  // bundle sits (replay compares them), and no server paths reach callers.
  std::string Relative(const std::string& path) const {
    if (!base_.empty() && path.compare(0, base_.size(), base_) == 0)
      return path.substr(base_.size());
    return path;
  }
  std::string Location(const dsl::SourceSpan& span) const {
    if (!span.known()) return "";
    return absl::StrCat(Relative(sources().file(span.file).path()), ":", span.line);
  }

  void Identity() {
    policy_->id_.name = p_.name;
    policy_->id_.version = p_.version;
    // The canonical text of every file, in load order, each under its path
    // relative to the policy's folder, so where the bundle sits does not
    // change the hash.
    const std::string& main_path = sources().file(0).path();
    const size_t slash = main_path.rfind('/');
    base_ = slash == std::string::npos ? "" : main_path.substr(0, slash + 1);
    std::string canonical;
    for (const auto& file : p_.program->files) {
      const std::string path = Relative(sources().file(file->file).path());
      absl::StrAppend(&canonical, "=== ", path, "\n",
                      dsl::Format(*file, sources().file(file->file)));
    }
    policy_->form_sha256_ = crypto::Sha256Hex(canonical);
    if (options_.stored_sha256.empty()) {
      policy_->id_.sha256 = policy_->form_sha256_;
      policy_->canonical_source_ = std::move(canonical);
    } else {
      // Stored: the identity it was stored under, never recomputed.
      policy_->id_.sha256 = options_.stored_sha256;
      policy_->canonical_source_ = options_.stored_source;
      policy_->canonical_form_ = options_.stored_form;
    }
  }

  // ----- slots, constants, code -------------------------------------------

  // Constants live in the frame after the slots: operands marked as
  // constants become plain frame indexes, so reading an operand never
  // branches.
  void PlaceConstants() {
    const uint32_t base = prog_.slot_count;
    auto place = [&](uint32_t& x) {
      if (x & kConstBit) x = base + (x & ~kConstBit);
    };
    for (Instr& in : prog_.code) {
      place(in.a);
      place(in.b);
      place(in.c);
      place(in.dst);
    }
    for (program::TableProgram& t : prog_.tables) {
      for (uint32_t& c : t.columns) place(c);
    }
    for (auto& [output, slot] : output_slot_) place(slot);
    for (MessageTemplate& message : policy_->messages_) {
      for (MessageTemplate::Piece& piece : message.pieces) {
        if (piece.is_value) place(piece.slot);
      }
    }
  }

  uint32_t NewSlot() { return prog_.slot_count++; }

  // Adds a constant, once per distinct value (same digits and scale).
  uint32_t Const(const Slot& s) {
    const auto key = std::make_tuple(s.i, static_cast<int64_t>(s.d.coefficient() >> 64),
                                     static_cast<uint64_t>(s.d.coefficient()), s.d.scale());
    auto [it, fresh] = constant_index_.emplace(key, static_cast<uint32_t>(prog_.constants.size()));
    if (fresh) prog_.constants.push_back(s);
    return kConstBit | it->second;
  }
  uint32_t ConstI(int64_t i) {
    Slot s;
    s.i = i;
    return Const(s);
  }
  uint32_t ConstD(const Decimal& d) {
    Slot s;
    s.d = d;
    return Const(s);
  }
  uint32_t ConstValue(const Value& v, Rep rep) {
    if (rep == Rep::kD) return ConstD(v.AsDecimal());
    switch (v.kind) {
      case TypeKind::kBool:
        return ConstI(v.b ? 1 : 0);
      case TypeKind::kEnumSet:
        return ConstI(static_cast<int64_t>(v.bits));
      case TypeKind::kDecimal:
      case TypeKind::kMoney:
      case TypeKind::kPercent:
        return ConstI(WholeNumber(v.d, "a decimal constant held as an integer"));
      default:
        return ConstI(v.i);
    }
  }

  size_t Emit(OpCode op, uint32_t dst = 0, uint32_t a = 0, uint32_t b = 0, uint8_t aux = 0,
              int32_t imm = 0, uint32_t c = 0) {
    Instr in;
    in.op = op;
    in.dst = dst;
    in.a = a;
    in.b = b;
    in.c = c;
    in.aux = aux;
    in.imm = imm;
    in.where = context_;
    prog_.code.push_back(in);
    return prog_.code.size() - 1;
  }
  // Points the jump at `at` to the next instruction.
  void Land(size_t at) { prog_.code[at].imm = static_cast<int32_t>(prog_.code.size()); }
  uint32_t Here() const { return static_cast<uint32_t>(prog_.code.size()); }

  uint32_t Error(std::string message) {
    prog_.errors.push_back(std::move(message));
    return static_cast<uint32_t>(prog_.errors.size() - 1);
  }

  // Sets the context named in evaluation errors for the code that follows.
  void Context(std::string what, const dsl::SourceSpan& span) {
    prog_.contexts.push_back(absl::StrCat(what, " (", Location(span), ")"));
    context_ = static_cast<uint32_t>(prog_.contexts.size() - 1);
  }

  // ----- inputs -------------------------------------------------------------

  void Inputs() {
    policy_->today_slot_ = NewSlot();
    for (const InputInfo& in : p_.inputs) {
      InputSlot slot;
      slot.name = in.name;
      slot.type = in.type;
      slot.range = in.range;
      slot.has_range = in.has_range;
      slot.default_value = in.default_value;
      slot.places = in.places;
      if (in.has_range && in.range.ranges().size() == 1 && in.type.is_ordered()) {
        const Domain::Range& r = in.range.ranges().front();
        slot.simple_range = true;
        slot.has_low = !r.low.infinite;
        slot.has_high = !r.high.infinite;
        slot.low_closed = r.low.closed;
        slot.high_closed = r.high.closed;
        slot.low.d = r.low.value;
        slot.high.d = r.high.value;
        if (!in.type.is_decimal()) {
          // Whole-number bounds as int64; a bound beyond int64 (`> 2^63`)
          // is checked exactly through the Domain instead.
          const absl::StatusOr<int64_t> low = r.low.value.ToInt64();
          const absl::StatusOr<int64_t> high = r.high.value.ToInt64();
          if ((slot.has_low && !low.ok()) || (slot.has_high && !high.ok())) {
            slot.simple_range = false;
          } else {
            slot.low.i = slot.has_low ? *low : 0;
            slot.high.i = slot.has_high ? *high : 0;
          }
        }
      }
      slot.slot = NewSlot();
      slot.optional = in.optional;
      if (in.optional) slot.given_slot = NewSlot();
      policy_->input_index_[in.name] = static_cast<int>(policy_->inputs_.size());
      policy_->inputs_.push_back(std::move(slot));
    }
  }

  // ----- expressions ----------------------------------------------------------

  const ExprInfo& Info(const ast::Expr& e) {
    const ExprInfo* info = p_.Info(&e);
    if (info == nullptr) {
      Fail(absl::StrCat("no type for expression at ", Location(e.span)));
      static const ExprInfo kEmpty;
      return kEmpty;
    }
    return *info;
  }

  // Compiles one side of a comparison; a decimal constant compared with a
  // money or percent value is padded to that type's canonical scale, so the
  // evaluator compares coefficients directly.
  uint32_t CompareOperand(const ast::Expr& e, Rep rep, const Type& other) {
    if (rep == Rep::kD && Info(e).constant && CanonicalScale(other.kind) > 0) {
      return PaddedConstant(Info(e), rep, other);
    }
    return Expr(e, rep);
  }

  uint32_t PaddedConstant(const ExprInfo& info, Rep rep, const Type& other) {
    const int canonical = CanonicalScale(other.kind);
    const Decimal d = info.constant->AsDecimal();
    if (d.scale() <= canonical) {
      // Padding is a fast path only: Decimal::Compare is exact at any
      // scales. A constant with too many digits to pad (beyond any value of
      // the type) is compared as it is.
      absl::StatusOr<Decimal> padded = d.Round(canonical);
      return ConstD(padded.ok() ? *padded : d);
    }
    return ConstValue(*info.constant, rep);
  }

  // Converts operand `x` held as `from` to `to` (int to decimal only).
  uint32_t Convert(uint32_t x, Rep from, Rep to) {
    if (from == to) return x;
    if (from == Rep::kI && to == Rep::kD) {
      if (x & kConstBit) {
        return ConstD(Decimal::FromInt(prog_.constants[x & ~kConstBit].i));
      }
      const uint32_t dst = NewSlot();
      Emit(OpCode::kIntToDec, dst, x);
      return dst;
    }
    Fail("cannot convert a decimal to an integer at run time");
    return x;
  }

  // Compiles `e`; the result is an operand holding it as `want`. Expressions
  // are compiled by recursion, at most ParseOptions::max_depth levels deep;
  // the functions on it keep few locals and leave the rest to helpers, so a
  // level costs little stack (docs/language.md, Limits).
  uint32_t Expr(const ast::Expr& e, Rep want) {
    const ExprInfo& info = Info(e);
    if (info.constant) return ConstValue(*info.constant, want);
    const Rep rep = RepOf(info.type);
    return Convert(ExprNative(e, info), rep, want);
  }

  // Compiles `e` in its own representation.
  uint32_t ExprNative(const ast::Expr& e, const ExprInfo& info) {
    switch (e.kind) {
      case ast::ExprKind::kLiteral:
        return ConstValue(*info.constant, RepOf(info.type));
      case ast::ExprKind::kName:
        return Name(e, info);
      case ast::ExprKind::kMember:
        return Member(e, info);
      case ast::ExprKind::kUnary:
        return Unary(e, info);
      case ast::ExprKind::kBinary:
        return Binary(e, info);
      case ast::ExprKind::kIn:
        return In(e);
      case ast::ExprKind::kIf:
        return If(e, info);
      case ast::ExprKind::kCall:
        return Call(e, info);
      case ast::ExprKind::kSet:
        return ConstValue(*info.constant, Rep::kI);
    }
    return ConstI(0);
  }

  uint32_t Name(const ast::Expr& e, const ExprInfo& info) {
    switch (info.symbol.kind) {
      case Symbol::Kind::kInput:
        return policy_->inputs_[static_cast<size_t>(info.symbol.index)].slot;
      case Symbol::Kind::kLet:
        return Let(info.symbol.index);
      case Symbol::Kind::kBand:
        return Band(info.symbol.index);
      case Symbol::Kind::kOutput: {
        auto it = output_slot_.find(info.symbol.index);
        if (it == output_slot_.end()) {
          Fail(absl::StrCat("output `", e.text, "` read before it is final"));
          return ConstI(0);
        }
        return it->second;
      }
      case Symbol::Kind::kEnumSymbol:
        return ConstI(info.symbol.index);
      case Symbol::Kind::kToday:
        policy_->reads_today_ = true;
        return policy_->today_slot_;
      default:
        Fail(absl::StrCat("unresolved name `", e.text, "`"));
        return ConstI(0);
    }
  }

  uint32_t Member(const ast::Expr& e, const ExprInfo& info) {
    if (info.symbol.kind == Symbol::Kind::kTable) {
      Table(info.symbol.index);
      return table_slots_[static_cast<size_t>(info.symbol.index)][static_cast<size_t>(info.member)];
    }
    if (info.symbol.kind == Symbol::Kind::kScorecard) {
      const int card = Scorecard(info.symbol.index);
      const ScorecardSlot& slots = policy_->scorecards_[static_cast<size_t>(card)];
      if (info.member < 0) return slots.total;
      if (!info.member_is_factor) return slots.groups[static_cast<size_t>(info.member)].second;
      // Factor points: find the factor by group and position.
      int index = 0;
      const ScorecardInfo& sc = p_.scorecards[static_cast<size_t>(info.symbol.index)];
      for (int g = 0; g < info.member_group; ++g) {
        index += static_cast<int>(sc.groups[static_cast<size_t>(g)].factors.size());
      }
      return slots.factors[static_cast<size_t>(index + info.member)].points;
    }
    Fail(absl::StrCat("unresolved member `", e.text, "`"));
    return ConstI(0);
  }

  uint32_t Unary(const ast::Expr& e, const ExprInfo& info) {
    const uint32_t dst = NewSlot();
    if (e.op == Op::kNot) {
      Emit(OpCode::kNot, dst, Expr(*e.args[0], Rep::kI));
    } else if (RepOf(info.type) == Rep::kD) {
      Emit(OpCode::kNegD, dst, Expr(*e.args[0], Rep::kD));
    } else {
      Emit(OpCode::kNegI, dst, Expr(*e.args[0], Rep::kI));
    }
    return dst;
  }

  // Emits code that jumps when condition `e` is false; returns the jumps to
  // patch to the false target. Comparisons become one compare-and-branch,
  // `and` a chain of them: the cheap form for rule conditions.
  void JumpIfFalse(const ast::Expr& e, std::vector<size_t>* jumps) {
    const bool constant = Info(e).constant.has_value();
    if (!constant && e.kind == ast::ExprKind::kBinary && e.op == Op::kAnd) {
      JumpIfFalse(*e.args[0], jumps);
      JumpIfFalse(*e.args[1], jumps);
      return;
    }
    if (!constant && e.kind == ast::ExprKind::kBinary && IsComparison(e.op)) {
      jumps->push_back(JumpUnless(e));
      return;
    }
    jumps->push_back(Emit(OpCode::kJumpIfFalse, 0, Expr(e, Rep::kI)));
  }

  static bool IsComparison(Op op) {
    return op == Op::kEq || op == Op::kNe || op == Op::kLt || op == Op::kLe || op == Op::kGt ||
           op == Op::kGe;
  }

  // The rep both sides of comparison `e` are compared in.
  Rep CompareRep(const ast::Expr& e) {
    return RepOf(Info(*e.args[0]).type) == Rep::kD || RepOf(Info(*e.args[1]).type) == Rep::kD
               ? Rep::kD
               : Rep::kI;
  }

  // Comparison `e` as one compare-and-branch, taken when it is false.
  size_t JumpUnless(const ast::Expr& e) {
    const Rep rep = CompareRep(e);
    const uint32_t x = CompareOperand(*e.args[0], rep, Info(*e.args[1]).type);
    const uint32_t y = CompareOperand(*e.args[1], rep, Info(*e.args[0]).type);
    return Emit(rep == Rep::kD ? OpCode::kJumpUnlessD : OpCode::kJumpUnlessI, 0, x, y,
                static_cast<uint8_t>(CmpOf(e.op)));
  }

  // Short-circuit `and` / `or`: the right side runs only when it decides.
  uint32_t Logic(const ast::Expr& e) {
    const uint32_t dst = NewSlot();
    Emit(OpCode::kMove, dst, Expr(*e.args[0], Rep::kI));
    const size_t skip = Emit(e.op == Op::kAnd ? OpCode::kJumpIfFalse : OpCode::kJumpIfTrue, 0, dst);
    Emit(OpCode::kMove, dst, Expr(*e.args[1], Rep::kI));
    Land(skip);
    return dst;
  }

  uint32_t Binary(const ast::Expr& e, const ExprInfo& info) {
    if (e.op == Op::kAnd || e.op == Op::kOr) return Logic(e);
    if (IsComparison(e.op)) return Comparison(e);
    const Rep rep = RepOf(info.type);
    const uint32_t x = Expr(*e.args[0], rep);
    const uint32_t y = Expr(*e.args[1], rep);
    return Arithmetic(e, rep, x, y);
  }

  uint32_t Comparison(const ast::Expr& e) {
    const Rep rep = CompareRep(e);
    const uint32_t x = CompareOperand(*e.args[0], rep, Info(*e.args[1]).type);
    const uint32_t y = CompareOperand(*e.args[1], rep, Info(*e.args[0]).type);
    const uint32_t dst = NewSlot();
    Emit(rep == Rep::kD ? OpCode::kCmpD : OpCode::kCmpI, dst, x, y,
         static_cast<uint8_t>(CmpOf(e.op)));
    return dst;
  }

  // Emits `x op y` for arithmetic `e`.
  uint32_t Arithmetic(const ast::Expr& e, Rep rep, uint32_t x, uint32_t y) {
    const uint32_t dst = NewSlot();
    OpCode op = OpCode::kAddI;
    const bool date = Info(e).type.kind == TypeKind::kDate;  // date ± days
    switch (e.op) {
      case Op::kAdd:
        op = rep == Rep::kD ? OpCode::kAddD : (date ? OpCode::kAddDays : OpCode::kAddI);
        break;
      case Op::kSub:
        op = rep == Rep::kD ? OpCode::kSubD : (date ? OpCode::kSubDays : OpCode::kSubI);
        break;
      case Op::kMul:
        op = rep == Rep::kD ? OpCode::kMulD : OpCode::kMulI;
        break;
      case Op::kDiv:
        op = OpCode::kDivD;
        break;
      default:
        Fail("unknown arithmetic operator");
    }
    Emit(op, dst, x, y);
    return dst;
  }

  uint32_t In(const ast::Expr& e) {
    const uint32_t dst = e.interval != nullptr ? InRange(e) : InSet(e);
    if (e.op == Op::kNotIn) Emit(OpCode::kNot, dst, dst);
    return dst;
  }

  uint32_t InRange(const ast::Expr& e) {
    const uint32_t dst = NewSlot();
    const Rep rep = RepOf(Info(*e.args[0]).type);
    const uint32_t v = Expr(*e.args[0], rep);
    const uint32_t lo = Expr(*e.interval->low, rep);
    const uint32_t hi = Expr(*e.interval->high, rep);
    const uint8_t open =
        static_cast<uint8_t>((e.interval->low_closed ? 0 : 1) | (e.interval->high_closed ? 0 : 2));
    Emit(rep == Rep::kD ? OpCode::kInRangeD : OpCode::kInRangeI, dst, v, lo, open, 0, hi);
    return dst;
  }

  uint32_t InSet(const ast::Expr& e) {
    const ExprInfo& x = Info(*e.args[0]);
    const uint32_t dst = NewSlot();
    // Constant enum members: one bit test. Otherwise equality with each.
    bool constant_enum = x.type.kind == TypeKind::kEnum;
    uint64_t bits = 0;
    for (size_t i = 1; i < e.args.size() && constant_enum; ++i) {
      const ExprInfo& m = Info(*e.args[i]);
      constant_enum = m.constant.has_value();
      if (constant_enum) bits |= uint64_t{1} << m.constant->i;
    }
    if (constant_enum) {
      Emit(OpCode::kInBits, dst, Expr(*e.args[0], Rep::kI), ConstI(static_cast<int64_t>(bits)));
      return dst;
    }
    const Rep rep = RepOf(x.type);
    const uint32_t v = Expr(*e.args[0], rep);
    Emit(OpCode::kMove, dst, ConstI(0));
    std::vector<size_t> done;
    for (size_t i = 1; i < e.args.size(); ++i) {
      Emit(rep == Rep::kD ? OpCode::kCmpD : OpCode::kCmpI, dst, v, Expr(*e.args[i], rep),
           static_cast<uint8_t>(Cmp::kEq));
      done.push_back(Emit(OpCode::kJumpIfTrue, 0, dst));
    }
    for (size_t at : done) Land(at);
    return dst;
  }

  uint32_t If(const ast::Expr& e, const ExprInfo& info) {
    const Rep rep = RepOf(info.type);
    const uint32_t dst = NewSlot();
    const uint32_t cond = Expr(*e.args[0], Rep::kI);
    const size_t to_else = Emit(OpCode::kJumpIfFalse, 0, cond);
    Emit(OpCode::kMove, dst, Expr(*e.args[1], rep));
    const size_t to_end = Emit(OpCode::kJump);
    Land(to_else);
    Emit(OpCode::kMove, dst, Expr(*e.args[2], rep));
    Land(to_end);
    return dst;
  }

  uint32_t Call(const ast::Expr& e, const ExprInfo& info) {
    const Rep rep = RepOf(info.type);
    if (e.text == "min" || e.text == "max") return MinMax(e, rep);
    if (e.text == "abs") {
      const uint32_t dst = NewSlot();
      Emit(rep == Rep::kD ? OpCode::kAbsD : OpCode::kAbsI, dst, Expr(*e.args[0], rep));
      return dst;
    }
    if (e.text == "given") {
      const ExprInfo& input = Info(*e.args[0]);
      return policy_->inputs_[static_cast<size_t>(input.symbol.index)].given_slot;
    }
    // percent(ratio): the same number, read as a fraction.
    if (e.text == "percent") return Expr(*e.args[0], Rep::kD);
    // round(x, places[, mode]); an int has nothing to round.
    const uint32_t x = Expr(*e.args[0], rep);
    if (rep == Rep::kI) return x;
    return Round(e, x);
  }

  uint32_t MinMax(const ast::Expr& e, Rep rep) {
    const bool min = e.text == "min";
    uint32_t acc = Expr(*e.args[0], rep);
    for (size_t i = 1; i < e.args.size(); ++i) {
      const uint32_t dst = NewSlot();
      const OpCode op = rep == Rep::kD ? (min ? OpCode::kMinD : OpCode::kMaxD)
                                       : (min ? OpCode::kMinI : OpCode::kMaxI);
      Emit(op, dst, acc, Expr(*e.args[i], rep));
      acc = dst;
    }
    return acc;
  }

  uint32_t Round(const ast::Expr& e, uint32_t x) {
    int32_t places = static_cast<int32_t>(Info(*e.args[1]).constant->i);
    // From edition 2 a percent rounds in percent points: two places more of
    // the fraction it is held as.
    if (p_.edition >= 2 && Info(*e.args[0]).type.kind == TypeKind::kPercent) places += 2;
    RoundingMode mode = RoundingMode::kHalfEven;
    if (e.args.size() == 3) {
      const std::string& m = e.args[2]->text;
      if (m == "half_up") mode = RoundingMode::kHalfUp;
      if (m == "half_down") mode = RoundingMode::kHalfDown;
      if (m == "up") mode = RoundingMode::kUp;
      if (m == "down") mode = RoundingMode::kDown;
      if (m == "ceiling") mode = RoundingMode::kCeiling;
      if (m == "floor") mode = RoundingMode::kFloor;
    }
    const uint32_t dst = NewSlot();
    Emit(OpCode::kRoundD, dst, x, 0, static_cast<uint8_t>(mode), places);
    return dst;
  }

  // The named values `e` reads (inputs, lets, bands, table columns,
  // scorecard values), each once, for traces. Everything they name is
  // compiled already, so looking up their slots emits no code.
  void InputsRead(const ast::Expr& e, std::vector<ReadSlot>* out) {
    absl::flat_hash_set<std::string> seen;
    for (const ReadSlot& r : *out) seen.insert(r.name);
    CollectReads(e, out, &seen);
  }

  void CollectReads(const ast::Expr& e, std::vector<ReadSlot>* out,
                    absl::flat_hash_set<std::string>* seen) {
    if (NamedRead(e, out, seen)) return;
    for (const ast::ExprPtr& arg : e.args) CollectReads(*arg, out, seen);
    if (e.interval != nullptr) {
      CollectReads(*e.interval->low, out, seen);
      CollectReads(*e.interval->high, out, seen);
    }
  }

  // When `e` names a value, records it (once) and says so.
  bool NamedRead(const ast::Expr& e, std::vector<ReadSlot>* out,
                 absl::flat_hash_set<std::string>* seen) {
    const ExprInfo* info = p_.Info(&e);
    if (info == nullptr || info->constant) return false;
    std::string name;
    const Symbol::Kind kind = info->symbol.kind;
    if (e.kind == ast::ExprKind::kName &&
        (kind == Symbol::Kind::kInput || kind == Symbol::Kind::kLet ||
         kind == Symbol::Kind::kBand || kind == Symbol::Kind::kToday)) {
      name = e.text;
    } else if (e.kind == ast::ExprKind::kMember &&
               (kind == Symbol::Kind::kTable || kind == Symbol::Kind::kScorecard)) {
      name = absl::StrCat(e.args[0]->text, ".", e.text);
    }
    if (name.empty()) return false;
    if (seen->insert(name).second) {
      const uint32_t slot = e.kind == ast::ExprKind::kName ? Name(e, *info) : Member(e, *info);
      ReadSlot read{name, slot, info->type, -1};
      if (kind == Symbol::Kind::kInput) {
        const InputSlot& input = policy_->inputs_[static_cast<size_t>(info->symbol.index)];
        if (input.optional) read.given_slot = input.given_slot;
      }
      out->push_back(std::move(read));
    }
    return true;
  }

  // ----- lets, bands, tables, scorecards ------------------------------------

  uint32_t Let(int index) {
    uint32_t& slot = let_slot_[static_cast<size_t>(index)];
    if (slot != kNone) return slot;
    const LetInfo& let = p_.lets[static_cast<size_t>(index)];
    const uint32_t saved = context_;
    Context(absl::StrCat("let `", let.name, "`"), let.decl->span);
    const uint32_t value = Expr(*let.decl->value, RepOf(let.type));
    slot = NewSlot();
    Emit(OpCode::kMove, slot, value);
    context_ = saved;
    NamedSlot named;
    named.kind = TraceStep::Kind::kLet;
    named.name = let.name;
    named.type = let.type;
    named.slot = slot;
    named.location = Location(let.decl->span);
    InputsRead(*let.decl->value, &named.reads);
    policy_->named_.push_back(std::move(named));
    return slot;
  }

  // The row masks of every table's lookups together: the checker refuses
  // more (E0319), this holds to it whatever the checker was told.
  static constexpr size_t kMaxMaskWords = static_cast<size_t>(kMaxTableLookupWords);

  // Builds a lookup from the rows' domains over a subject of `type`: the
  // subject's values cut into segments at every bound a row names and, per
  // segment, the first row matching it and (`masks`, for tables, named
  // `what`) the set of rows that do. Each row's ranges cover runs of
  // segments; a sweep over the segments, rows entering and leaving, builds
  // them in time linear in the rows' ranges and the segments (plus the
  // masks' size).
  int BuildLookup(const std::vector<Domain>& rows, const Type& type, bool masks,
                  const std::string& what = "") {
    program::Lookup lookup;
    const int words = static_cast<int>((rows.size() + 63) / 64);
    lookup.words = std::max(1, words);
    lookup.decimal = type.is_decimal();
    std::vector<Decimal> bounds;
    size_t segments = 0;
    // first: the segment a range starts in; last: the one it ends in.
    std::function<size_t(const Domain::Bound&)> first, last;
    if (type.kind == TypeKind::kEnum || type.kind == TypeKind::kBool) {
      // A segment per symbol (ordinal); ranges are closed and integral.
      lookup.direct = true;
      segments = type.kind == TypeKind::kBool ? 2 : type.enum_type->symbols.size();
      // The checker's domains of an enum or a bool hold its ordinals only.
      auto ordinal = [this, &segments](const Domain::Bound& b) -> size_t {
        const int64_t k = WholeNumber(b.value, "an ordinal");
        if (k < 0 || static_cast<uint64_t>(k) >= segments) {
          Fail(absl::StrCat("ordinal ", k, " is outside its type's ", segments, " values"));
          return 0;
        }
        return static_cast<size_t>(k);
      };
      first = [ordinal](const Domain::Bound& b) -> size_t { return b.infinite ? 0 : ordinal(b); };
      last = [ordinal, &segments](const Domain::Bound& b) -> size_t {
        return b.infinite ? segments - 1 : ordinal(b);
      };
    } else {
      for (const Domain& d : rows) {
        for (const Domain::Range& r : d.ranges()) {
          if (!r.low.infinite) bounds.push_back(r.low.value);
          if (!r.high.infinite) bounds.push_back(r.high.value);
        }
      }
      std::sort(bounds.begin(), bounds.end());
      bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
      // Segments: (-inf, b0), [b0], (b0, b1), [b1], ..., [bk-1], (bk-1, +inf):
      // 2k is the open stretch below bounds[k], 2k + 1 the point bounds[k].
      segments = 2 * bounds.size() + 1;
      auto at = [&](const Decimal& v) {
        return static_cast<size_t>(std::lower_bound(bounds.begin(), bounds.end(), v) -
                                   bounds.begin());
      };
      first = [&, at](const Domain::Bound& b) -> size_t {
        if (b.infinite) return 0;
        return 2 * at(b.value) + (b.closed ? 1 : 2);
      };
      last = [&, at](const Domain::Bound& b) -> size_t {
        if (b.infinite) return segments - 1;
        return 2 * at(b.value) + (b.closed ? 1 : 0);
      };
    }
    if (masks) {
      const size_t needed = segments * static_cast<size_t>(lookup.words);
      if (mask_words_ + needed > kMaxMaskWords) {
        TooLarge(absl::StrCat(what, " is too large to compile: its lookups would take ",
                              (mask_words_ + needed) * 8 >> 20, " MiB, at most ",
                              kMaxMaskWords * 8 >> 20, " MiB are allowed; split it"));
        masks = false;
      } else {
        mask_words_ += needed;
      }
    }
    std::vector<std::vector<int32_t>> enter(segments);
    std::vector<std::vector<int32_t>> leave(segments);
    for (size_t r = 0; r < rows.size(); ++r) {
      for (const Domain::Range& range : rows[r].ranges()) {
        const size_t from = first(range.low);
        const size_t to = std::min(last(range.high), segments - 1);
        if (from > to) continue;
        enter[from].push_back(static_cast<int32_t>(r));
        leave[to].push_back(static_cast<int32_t>(r));
      }
    }
    // A row's ranges never share a segment, so a row is in or out.
    std::vector<uint64_t> mask(static_cast<size_t>(lookup.words), 0);
    std::set<int32_t> active;
    if (masks) lookup.masks.reserve(segments * static_cast<size_t>(lookup.words));
    lookup.first_row.reserve(segments);
    for (size_t k = 0; k < segments; ++k) {
      for (int32_t r : enter[k]) {
        mask[static_cast<size_t>(r) / 64] |= uint64_t{1} << (r % 64);
        active.insert(r);
      }
      if (masks) lookup.masks.insert(lookup.masks.end(), mask.begin(), mask.end());
      lookup.first_row.push_back(active.empty() ? -1 : *active.begin());
      for (int32_t r : leave[k]) {
        mask[static_cast<size_t>(r) / 64] &= ~(uint64_t{1} << (r % 64));
        active.erase(r);
      }
    }
    if (!lookup.direct) {
      if (lookup.decimal) {
        const int canonical = CanonicalScale(type.kind);
        for (Decimal& b : bounds) {
          // A fast path only, as in PaddedConstant: a bound too long to pad
          // stays as it is, and compares exactly.
          if (canonical > b.scale()) {
            if (absl::StatusOr<Decimal> padded = b.Round(canonical); padded.ok()) b = *padded;
          }
        }
        lookup.bounds_d = bounds;
      } else {
        for (const Decimal& b : bounds) {
          lookup.bounds_i.push_back(WholeNumber(b, "a bound of an int"));
        }
      }
    }
    prog_.lookups.push_back(std::move(lookup));
    return static_cast<int>(prog_.lookups.size() - 1);
  }

  std::vector<Domain> RowDomains(const std::vector<const ast::Test*>& tests, const Type& type) {
    std::vector<Domain> rows;
    for (const ast::Test* t : tests) {
      std::optional<Domain> d = TestDomainOf(p_, *t, type);
      if (!d) {
        Fail("a row test is not constant");
        d = Domain::Empty(type);
      }
      rows.push_back(*d);
    }
    return rows;
  }

  // Emits: stop with `message` unless `flag` is set.
  void FailUnless(uint32_t flag, const std::string& message) {
    const size_t ok = Emit(OpCode::kJumpIfTrue, 0, flag);
    Emit(OpCode::kFail, 0, 0, 0, 0, static_cast<int32_t>(Error(message)));
    Land(ok);
  }

  // Emits: row = lookup(subject); fails with `message` when no row matches.
  uint32_t RowOf(uint32_t subject, int lookup, const std::string& message) {
    const uint32_t row = NewSlot();
    Emit(OpCode::kLookup, row, subject, 0, 0, lookup);
    const uint32_t ok = NewSlot();
    Emit(OpCode::kCmpI, ok, row, ConstI(0), static_cast<uint8_t>(Cmp::kGe));
    FailUnless(ok, message);
    return row;
  }

  // Emits a jump table on `row`: block r stores values[r] into `dst`.
  void SelectByRow(uint32_t row, const std::vector<const ast::Expr*>& values, uint32_t dst,
                   Rep rep) {
    const size_t table = prog_.jump_tables.size();
    prog_.jump_tables.emplace_back();
    Emit(OpCode::kJumpTable, 0, row, 0, 0, static_cast<int32_t>(table));
    std::vector<size_t> ends;
    for (const ast::Expr* v : values) {
      prog_.jump_tables[table].push_back(static_cast<int32_t>(Here()));
      Emit(OpCode::kMove, dst, Expr(*v, rep));
      ends.push_back(Emit(OpCode::kJump));
    }
    for (size_t at : ends) Land(at);
  }

  uint32_t Band(int index) {
    uint32_t& slot = band_slot_[static_cast<size_t>(index)];
    if (slot != kNone) return slot;
    const BandInfo& band = p_.bands[static_cast<size_t>(index)];
    const uint32_t saved = context_;
    Context(absl::StrCat("band `", band.name, "`"), band.decl->span);
    const uint32_t subject = Expr(*band.decl->subject, RepOf(band.subject_type));
    std::vector<const ast::Test*> tests;
    std::vector<const ast::Expr*> values;
    for (const ast::Row& r : band.decl->rows) {
      tests.push_back(&r.test);
      values.push_back(r.value.get());
    }
    const int lookup =
        BuildLookup(RowDomains(tests, band.subject_type), band.subject_type, /*masks=*/false);
    const uint32_t row =
        RowOf(subject, lookup, absl::StrCat("no row of band `", band.name, "` matches"));
    slot = NewSlot();
    SelectByRow(row, values, slot, RepOf(band.type));
    context_ = saved;
    NamedSlot named;
    named.kind = TraceStep::Kind::kBand;
    named.name = band.name;
    named.type = band.type;
    named.slot = slot;
    named.row_slot = static_cast<int32_t>(row);
    named.location = Location(band.decl->span);
    named.file = Relative(sources().file(band.decl->span.file).path());
    for (const ast::Row& r : band.decl->rows) named.row_lines.push_back(r.span.line);
    InputsRead(*band.decl->subject, &named.reads);
    policy_->named_.push_back(std::move(named));
    return slot;
  }

  void Table(int index) {
    if (table_done_[static_cast<size_t>(index)]) return;
    table_done_[static_cast<size_t>(index)] = true;
    const TableInfo& table = p_.tables[static_cast<size_t>(index)];
    const ast::TableDecl& decl = *table.decl;
    const uint32_t saved = context_;
    Context(absl::StrCat("table `", table.name, "`"), decl.span);

    program::TableProgram tp;
    tp.rows = static_cast<int>(decl.rows.size());
    tp.words = std::max(1, (tp.rows + 63) / 64);
    tp.mask_offset = prog_.mask_words;
    prog_.mask_words += static_cast<uint32_t>(tp.words);
    for (size_t c = 0; c < decl.inputs.size(); ++c) {
      const Type& t = table.input_types[c];
      tp.columns.push_back(Expr(*decl.inputs[c], RepOf(t)));
      std::vector<const ast::Test*> tests;
      for (const ast::TableRow& r : decl.rows) tests.push_back(&r.tests[c]);
      tp.lookups.push_back(BuildLookup(RowDomains(tests, t), t, /*masks=*/true,
                                       absl::StrCat("table `", table.name, "`")));
    }
    const int t = static_cast<int>(prog_.tables.size());
    prog_.tables.push_back(std::move(tp));
    const uint32_t count = NewSlot();
    Emit(OpCode::kTableMatch, count, 0, 0, 0, t);

    std::vector<uint32_t>& out = table_slots_[static_cast<size_t>(index)];
    for (size_t c = 0; c < decl.outputs.size(); ++c) out.push_back(NewSlot());
    int32_t row_slot = -1;
    const std::string name = table.name;
    auto column_values = [&](size_t c) {
      std::vector<const ast::Expr*> values;
      for (const ast::TableRow& r : decl.rows) values.push_back(r.values[c].get());
      return values;
    };
    switch (table.hit) {
      case HitPolicy::kFirst:
      case HitPolicy::kUnique: {
        if (table.hit == HitPolicy::kUnique) {
          const uint32_t one = NewSlot();
          Emit(OpCode::kCmpI, one, count, ConstI(1), static_cast<uint8_t>(Cmp::kLe));
          FailUnless(one, absl::StrCat("more than one row of table `", name,
                                       "` matches under `hit unique`"));
        }
        const uint32_t row = NewSlot();
        Emit(OpCode::kMaskFirst, row, 0, 0, 0, t);
        const uint32_t ok = NewSlot();
        Emit(OpCode::kCmpI, ok, row, ConstI(0), static_cast<uint8_t>(Cmp::kGe));
        FailUnless(ok, absl::StrCat("no row of table `", name, "` matches"));
        for (size_t c = 0; c < decl.outputs.size(); ++c) {
          SelectByRow(row, column_values(c), out[c], RepOf(table.output_types[c]));
        }
        row_slot = static_cast<int32_t>(row);
        break;
      }
      case HitPolicy::kPriority: {
        // The matching row whose first result is highest.
        const Rep rep = RepOf(table.output_types[0]);
        const uint32_t have = NewSlot();
        const uint32_t best = NewSlot();
        const uint32_t best_row = NewSlot();
        Emit(OpCode::kMove, have, ConstI(0));
        for (int r = 0; r < static_cast<int>(decl.rows.size()); ++r) {
          const uint32_t has = NewSlot();
          Emit(OpCode::kMaskHas, has, 0, 0, 0, t, static_cast<uint32_t>(r));
          const size_t skip = Emit(OpCode::kJumpIfFalse, 0, has);
          const uint32_t v = Expr(*decl.rows[static_cast<size_t>(r)].values[0], rep);
          const size_t take_first = Emit(OpCode::kJumpIfFalse, 0, have);
          const uint32_t better = NewSlot();
          Emit(rep == Rep::kD ? OpCode::kCmpD : OpCode::kCmpI, better, v, best,
               static_cast<uint8_t>(Cmp::kGt));
          const size_t skip2 = Emit(OpCode::kJumpIfFalse, 0, better);
          Land(take_first);
          Emit(OpCode::kMove, best, v);
          Emit(OpCode::kMove, best_row, ConstI(r));
          Emit(OpCode::kMove, have, ConstI(1));
          Land(skip);
          Land(skip2);
        }
        FailUnless(have, absl::StrCat("no row of table `", name, "` matches"));
        for (size_t c = 0; c < decl.outputs.size(); ++c) {
          SelectByRow(best_row, column_values(c), out[c], RepOf(table.output_types[c]));
        }
        row_slot = static_cast<int32_t>(best_row);
        break;
      }
      case HitPolicy::kCollect: {
        for (size_t c = 0; c < decl.outputs.size(); ++c) {
          const Type& type = table.output_types[c];
          const Rep rep = RepOf(type);
          const uint32_t have = NewSlot();
          Emit(OpCode::kMove, have, ConstI(0));
          Emit(OpCode::kMove, out[c], rep == Rep::kD ? ConstD(Decimal()) : ConstI(0));
          for (int r = 0; r < static_cast<int>(decl.rows.size()); ++r) {
            const uint32_t has = NewSlot();
            Emit(OpCode::kMaskHas, has, 0, 0, 0, t, static_cast<uint32_t>(r));
            const size_t skip = Emit(OpCode::kJumpIfFalse, 0, has);
            const ast::Expr& value = *decl.rows[static_cast<size_t>(r)].values[c];
            if (table.aggregate == Aggregate::kNone) {
              const uint32_t bit = NewSlot();
              Emit(OpCode::kBit, bit, Expr(value, Rep::kI));
              Emit(OpCode::kOrBits, out[c], out[c], bit);
            } else if (table.aggregate == Aggregate::kSum) {
              Emit(rep == Rep::kD ? OpCode::kAddD : OpCode::kAddI, out[c], out[c],
                   Expr(value, rep));
            } else {
              const uint32_t v = Expr(value, rep);
              const size_t first = Emit(OpCode::kJumpIfFalse, 0, have);
              const bool min = table.aggregate == Aggregate::kMin;
              Emit(rep == Rep::kD ? (min ? OpCode::kMinD : OpCode::kMaxD)
                                  : (min ? OpCode::kMinI : OpCode::kMaxI),
                   out[c], out[c], v);
              const size_t done = Emit(OpCode::kJump);
              Land(first);
              Emit(OpCode::kMove, out[c], v);
              Land(done);
            }
            Emit(OpCode::kMove, have, ConstI(1));
            Land(skip);
          }
          if (table.aggregate == Aggregate::kMin || table.aggregate == Aggregate::kMax) {
            FailUnless(have, absl::StrCat("no row of table `", name, "` matches"));
          }
        }
        break;
      }
    }
    context_ = saved;
    std::vector<ReadSlot> reads;
    for (const ast::ExprPtr& e : decl.inputs) InputsRead(*e, &reads);
    for (size_t c = 0; c < decl.outputs.size(); ++c) {
      NamedSlot named;
      named.kind = TraceStep::Kind::kTable;
      named.name = absl::StrCat(table.name, ".", decl.outputs[c].name.name);
      named.type = table.output_types[c];
      named.slot = out[c];
      named.row_slot = row_slot;
      named.table = t;
      named.location = Location(decl.span);
      named.file = Relative(sources().file(decl.span.file).path());
      for (const ast::TableRow& r : decl.rows) named.row_lines.push_back(r.span.line);
      named.reads = reads;
      policy_->named_.push_back(std::move(named));
    }
  }

  // The slot of a factor's subject: the input, let or band the checker
  // resolved its name to.
  uint32_t FactorSubject(const FactorInfo& factor) {
    const Symbol& subject = factor.subject_symbol;
    const size_t i = static_cast<size_t>(subject.index);
    switch (subject.kind) {
      case Symbol::Kind::kInput:
        return policy_->inputs_[i].slot;
      case Symbol::Kind::kLet:
        return Convert(Let(subject.index), RepOf(p_.lets[i].type), RepOf(factor.subject_type));
      case Symbol::Kind::kBand:
        return Band(subject.index);
      default:
        break;
    }
    Fail(absl::StrCat("unresolved factor subject `", factor.subject, "`"));
    return ConstI(0);
  }

  int Scorecard(int index) {
    int& done = scorecard_done_[static_cast<size_t>(index)];
    if (done >= 0) return done;
    const ScorecardInfo& card = p_.scorecards[static_cast<size_t>(index)];
    const uint32_t saved = context_;
    Context(absl::StrCat("scorecard `", card.name, "`"), card.decl->span);
    ScorecardSlot slots;
    slots.name = card.name;
    const uint32_t total = NewSlot();
    Emit(OpCode::kMove, total, ConstD(Decimal()));
    for (const GroupInfo& group : card.groups) {
      const uint32_t sum = NewSlot();
      Emit(OpCode::kMove, sum, ConstD(Decimal()));
      for (const FactorInfo& factor : group.factors) {
        const uint32_t subject = FactorSubject(factor);
        std::vector<const ast::Test*> tests;
        std::vector<const ast::Expr*> values;
        FactorSlot fs;
        for (const ast::Row& r : factor.decl->rows) {
          tests.push_back(&r.test);
          values.push_back(r.value.get());
          fs.bins.push_back(dsl::FormatTest(r.test));
          fs.bin_lines.push_back(r.span.line);
        }
        fs.file = Relative(sources().file(factor.decl->span.file).path());
        const int lookup = BuildLookup(RowDomains(tests, factor.subject_type), factor.subject_type,
                                       /*masks=*/false);
        fs.row =
            RowOf(subject, lookup, absl::StrCat("no bin of factor `", factor.subject, "` matches"));
        fs.points = NewSlot();
        SelectByRow(fs.row, values, fs.points, Rep::kD);
        Emit(OpCode::kAddD, sum, sum, fs.points);
        fs.group = group.name;
        fs.subject = factor.subject;
        fs.max_points = factor.max_points;
        fs.reason_below = factor.reason_below;
        fs.reason_inclusive = factor.reason_inclusive;
        fs.weight = group.weight;
        if (factor.reason >= 0) fs.reason = p_.reasons[static_cast<size_t>(factor.reason)].code;
        slots.factors.push_back(std::move(fs));
      }
      const uint32_t weighted = NewSlot();
      Emit(OpCode::kMulD, weighted, sum, ConstD(group.weight));
      Emit(OpCode::kAddD, total, total, weighted);
      slots.groups.emplace_back(group.name, sum);
      slots.weights.push_back(group.weight);
    }
    slots.total = total;
    context_ = saved;
    policy_->scorecards_.push_back(std::move(slots));
    done = static_cast<int>(policy_->scorecards_.size() - 1);
    return done;
  }

  // ----- rules, outputs, outcome --------------------------------------------

  void Rules() {
    for (const RuleInfo& rule : p_.rules) {
      Context(absl::StrCat("rule `", rule.id, "`"), rule.decl->span);
      RuleSlot slot;
      slot.id = rule.id;
      slot.fired = NewSlot();
      Emit(OpCode::kMove, slot.fired, ConstI(0));
      std::vector<size_t> unless;
      JumpIfFalse(*rule.decl->condition, &unless);
      Emit(OpCode::kMove, slot.fired, ConstI(1));
      for (size_t at : unless) Land(at);
      if (rule.effects.size() != rule.decl->effects.size()) {
        Fail(absl::StrCat("the effects of rule `", rule.id, "` were not resolved"));
        return;
      }
      for (size_t k = 0; k < rule.effects.size(); ++k) {
        const ast::Effect& effect = rule.decl->effects[k];
        const EffectInfo& resolved = rule.effects[k];
        if (effect.kind == ast::EffectKind::kOutcome && p_.outcome != nullptr) {
          slot.severity = std::max(slot.severity, resolved.outcome);
        }
        if (effect.code) {
          slot.reasons.emplace_back(
              effect.code->name,
              resolved.reason >= 0 ? p_.reasons[static_cast<size_t>(resolved.reason)].message : "");
          slot.reason_indexes.push_back(resolved.reason);
        }
      }
      slot.file = Relative(sources().file(rule.decl->span.file).path());
      slot.line = rule.decl->span.line;
      InputsRead(*rule.decl->condition, &slot.reads);
      policy_->rules_.push_back(std::move(slot));
    }
    // Reasons are listed by severity (most severe first), then source order.
    std::vector<int>& order = policy_->reason_order_;
    for (size_t i = 0; i < policy_->rules_.size(); ++i) order.push_back(static_cast<int>(i));
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      return policy_->rules_[static_cast<size_t>(a)].severity >
             policy_->rules_[static_cast<size_t>(b)].severity;
    });
  }

  struct Targeting {
    const RuleInfo* rule;
    const RuleSlot* slot;
    const ast::Effect* effect;
  };

  void Outputs() {
    policy_->outputs_.resize(p_.outputs.size());
    for (int o : p_.output_order) {
      const OutputInfo& out = p_.outputs[static_cast<size_t>(o)];
      Context(absl::StrCat("output `", out.name, "`"), out.decl->span);
      const Rep rep = RepOf(out.type);
      OutputSlot& slot = policy_->outputs_[static_cast<size_t>(o)];
      slot.name = out.name;
      slot.type = out.type;
      slot.places = out.type.kind == TypeKind::kMoney ? out.places : -1;
      slot.slot = NewSlot();
      slot.has_value_slot = NewSlot();
      if (out.decl->value != nullptr) {
        Emit(OpCode::kMove, slot.slot, Expr(*out.decl->value, rep));
        Emit(OpCode::kMove, slot.has_value_slot, ConstI(1));
        InputsRead(*out.decl->value, &slot.reads);
      } else {
        // Enums start at their lowest symbol, sets empty; others are unset.
        const bool natural =
            out.type.kind == TypeKind::kEnum || out.type.kind == TypeKind::kEnumSet;
        Emit(OpCode::kMove, slot.slot, rep == Rep::kD ? ConstD(Decimal()) : ConstI(0));
        Emit(OpCode::kMove, slot.has_value_slot, ConstI(natural ? 1 : 0));
      }
      std::vector<Targeting> sets, caps, raises, adds;
      for (size_t r = 0; r < p_.rules.size(); ++r) {
        for (size_t k = 0; k < p_.rules[r].effects.size(); ++k) {
          if (p_.rules[r].effects[k].output != o) continue;
          const ast::Effect& effect = p_.rules[r].decl->effects[k];
          if (effect.value != nullptr) InputsRead(*effect.value, &slot.reads);
          Targeting t{&p_.rules[r], &policy_->rules_[r], &effect};
          switch (effect.kind) {
            case ast::EffectKind::kSet:
              sets.push_back(t);
              break;
            case ast::EffectKind::kCap:
              caps.push_back(t);
              break;
            case ast::EffectKind::kRaise:
              raises.push_back(t);
              break;
            case ast::EffectKind::kAdd:
              adds.push_back(t);
              break;
            default:
              break;
          }
        }
      }
      Sets(out, slot, sets);
      for (const Targeting& t : caps) Bound(slot, rep, t, /*cap=*/true);
      for (const Targeting& t : raises) Bound(slot, rep, t, /*cap=*/false);
      for (const Targeting& t : adds) {
        const size_t skip = Emit(OpCode::kJumpIfFalse, 0, t.slot->fired);
        const uint32_t bit = NewSlot();
        Emit(OpCode::kBit, bit, Expr(*t.effect->value, Rep::kI));
        Emit(OpCode::kOrBits, slot.slot, slot.slot, bit);
        Emit(OpCode::kMove, slot.has_value_slot, ConstI(1));
        Land(skip);
      }
      output_slot_[o] = slot.slot;
    }
  }

  void Sets(const OutputInfo& out, const OutputSlot& slot, std::vector<Targeting> sets) {
    if (sets.empty()) return;
    const Rep rep = RepOf(out.type);
    if (out.resolution == SetResolution::kRulePriority) {
      // The fired rule with the highest priority wins.
      std::stable_sort(sets.begin(), sets.end(), [](const Targeting& a, const Targeting& b) {
        return a.rule->priority.value_or(0) > b.rule->priority.value_or(0);
      });
      std::vector<size_t> ends;
      for (const Targeting& t : sets) {
        const size_t skip = Emit(OpCode::kJumpIfFalse, 0, t.slot->fired);
        Emit(OpCode::kMove, slot.slot, Expr(*t.effect->value, rep));
        Emit(OpCode::kMove, slot.has_value_slot, ConstI(1));
        ends.push_back(Emit(OpCode::kJump));
        Land(skip);
      }
      for (size_t at : ends) Land(at);
      return;
    }
    // priority lowest / highest: the smallest / largest value set wins.
    const bool lowest = out.resolution == SetResolution::kLowest;
    const uint32_t have = NewSlot();
    const uint32_t best = NewSlot();
    Emit(OpCode::kMove, have, ConstI(0));
    for (const Targeting& t : sets) {
      const size_t skip = Emit(OpCode::kJumpIfFalse, 0, t.slot->fired);
      const uint32_t v = Expr(*t.effect->value, rep);
      const size_t take = Emit(OpCode::kJumpIfFalse, 0, have);
      const uint32_t better = NewSlot();
      Emit(rep == Rep::kD ? OpCode::kCmpD : OpCode::kCmpI, better, v, best,
           static_cast<uint8_t>(lowest ? Cmp::kLt : Cmp::kGt));
      const size_t skip2 = Emit(OpCode::kJumpIfFalse, 0, better);
      Land(take);
      Emit(OpCode::kMove, best, v);
      Emit(OpCode::kMove, have, ConstI(1));
      Land(skip);
      Land(skip2);
    }
    const size_t none = Emit(OpCode::kJumpIfFalse, 0, have);
    Emit(OpCode::kMove, slot.slot, best);
    Emit(OpCode::kMove, slot.has_value_slot, ConstI(1));
    Land(none);
  }

  // cap: at most the value; raise: at least. An unset output takes the value.
  void Bound(const OutputSlot& slot, Rep rep, const Targeting& t, bool cap) {
    const size_t skip = Emit(OpCode::kJumpIfFalse, 0, t.slot->fired);
    const uint32_t v = Expr(*t.effect->value, rep);
    const size_t unset = Emit(OpCode::kJumpIfFalse, 0, slot.has_value_slot);
    const OpCode op = rep == Rep::kD ? (cap ? OpCode::kMinD : OpCode::kMaxD)
                                     : (cap ? OpCode::kMinI : OpCode::kMaxI);
    Emit(op, slot.slot, slot.slot, v);
    const size_t done = Emit(OpCode::kJump);
    Land(unset);
    Emit(OpCode::kMove, slot.slot, v);
    Emit(OpCode::kMove, slot.has_value_slot, ConstI(1));
    Land(done);
    Land(skip);
  }

  // The messages that quote values: each value is a name or member, whose
  // slot the code before has filled; nothing to emit.
  void Messages() {
    policy_->messages_.resize(p_.reasons.size());
    for (size_t r = 0; r < p_.reasons.size(); ++r) {
      const ReasonInfo& reason = p_.reasons[r];
      if (reason.parts.empty()) continue;
      Context(absl::StrCat("reason `", reason.code, "`"), reason.span);
      MessageTemplate& message = policy_->messages_[r];
      for (const MessagePart& part : reason.parts) {
        MessageTemplate::Piece piece;
        if (part.value == nullptr) {
          piece.text = part.text;
        } else {
          const ExprInfo& info = Info(*part.value);
          piece.type = info.type;
          piece.is_value = true;
          piece.slot = Expr(*part.value, RepOf(info.type));
        }
        message.pieces.push_back(std::move(piece));
      }
    }
  }

  void Outcome() {
    policy_->outcome_ = p_.outcome;
    if (p_.outcome == nullptr) return;
    Context("the outcome", p_.outcome_span);
    policy_->outcome_slot_ = NewSlot();
    Emit(OpCode::kMove, policy_->outcome_slot_, ConstI(p_.outcome_initial));
    for (size_t r = 0; r < p_.rules.size(); ++r) {
      const RuleSlot& slot = policy_->rules_[r];
      if (slot.severity < 0) continue;
      const size_t skip = Emit(OpCode::kJumpIfFalse, 0, slot.fired);
      Emit(OpCode::kMaxI, policy_->outcome_slot_, policy_->outcome_slot_, ConstI(slot.severity));
      Land(skip);
    }
  }

  std::shared_ptr<CompiledPolicy> policy_;
  const CheckedPolicy& p_;
  const CompileOptions& options_;
  program::Program prog_;
  absl::Status error_;
  size_t mask_words_ = 0;  // of every table's lookups so far
  uint32_t context_ = 0;
  std::string base_;  // the policy's folder, with a trailing slash

  std::vector<uint32_t> let_slot_;
  std::vector<uint32_t> band_slot_;
  std::vector<std::vector<uint32_t>> table_slots_;
  std::vector<bool> table_done_;
  std::vector<int> scorecard_done_;
  absl::flat_hash_map<int, uint32_t> output_slot_;
  absl::flat_hash_map<std::tuple<int64_t, int64_t, uint64_t, int>, uint32_t> constant_index_;
};

int CompiledPolicy::FindInput(absl::string_view input_name) const {
  auto it = input_index_.find(input_name);
  return it == input_index_.end() ? -1 : it->second;
}

absl::StatusOr<std::shared_ptr<const CompiledPolicy>> Compile(
    std::unique_ptr<CheckedPolicy> checked, const CompileOptions& options) {
  if (checked == nullptr || checked->program == nullptr || checked->program->files.empty()) {
    return absl::InvalidArgumentError("nothing to compile");
  }
  Compiler compiler(std::move(checked), options);
  return compiler.Run();
}

}  // namespace creditd::engine
