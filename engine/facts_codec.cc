#include "engine/facts_codec.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <string>

#include "absl/container/inlined_vector.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "dsl/utf8.h"

namespace creditd::engine {

namespace {

// By FactValue::Kind.
constexpr absl::string_view kKindNames[] = {"bool", "int", "decimal", "symbol", "date"};
// What comes between a fact's name and its text, by FactValue::Kind: the
// name's closing quote, the kind, the text's opening quote.
constexpr absl::string_view kBetween[] = {"\":{\"bool\":\"", "\":{\"int\":\"", "\":{\"decimal\":\"",
                                          "\":{\"symbol\":\"", "\":{\"date\":\""};
constexpr char kHex[] = "0123456789abcdef";

// The bytes written as they are without a second look: printable ASCII but
// `"` and `\`.
struct PlainBytes {
  bool plain[256] = {};
  constexpr PlainBytes() {
    for (int c = 0x20; c < 0x7f; ++c) plain[c] = c != '"' && c != '\\';
  }
};
constexpr PlainBytes kPlain;

bool Plain(char c) { return kPlain.plain[static_cast<unsigned char>(c)]; }

bool AllPlain(absl::string_view text) {
  for (char c : text) {
    if (!Plain(c)) return false;
  }
  return true;
}

void AppendEscapedByte(const char* prefix, unsigned char byte, std::string* out) {
  out->append(prefix);
  out->push_back(kHex[byte >> 4]);
  out->push_back(kHex[byte & 0xf]);
}

// `text` escaped by the rules of ToCanonicalJson, without its quotes.
void AppendEscaped(absl::string_view text, std::string* out) {
  size_t i = 0;
  while (i < text.size()) {
    size_t plain = i;
    while (plain < text.size() && Plain(text[plain])) ++plain;
    out->append(text.data() + i, plain - i);
    i = plain;
    if (i == text.size()) break;
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte == '"' || byte == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(byte));
      ++i;
    } else if (byte < 0x20 || byte == 0x7f) {
      AppendEscapedByte("\\u00", byte, out);
      ++i;
    } else if (const size_t n = dsl::Utf8SequenceLength(text, i); n > 0) {
      out->append(text.data() + i, n);
      i += n;
    } else {
      AppendEscapedByte("\\udc", byte, out);
      ++i;
    }
  }
}

// Room for an int's digits.
struct Digits {
  char text[24];
};

// The value's text: what its kind holds, as ToCanonicalJson writes it; an
// int's digits go to `digits`.
absl::string_view ValueText(const FactValue& value, Digits* digits) {
  switch (value.kind) {
    case FactValue::Kind::kBool:
      return value.b ? "true" : "false";
    case FactValue::Kind::kInt: {
      const std::to_chars_result end =
          std::to_chars(digits->text, digits->text + sizeof digits->text, value.i);
      return absl::string_view(digits->text, static_cast<size_t>(end.ptr - digits->text));
    }
    default:
      return value.text;
  }
}

// The canonical order: by name, then kind, then text.
inline bool Before(const Fact* a, const Fact* b) {
  if (const int c = a->name.compare(b->name); c != 0) return c < 0;
  if (a->value.kind != b->value.kind) return a->value.kind < b->value.kind;
  Digits a_digits, b_digits;
  return ValueText(a->value, &a_digits) < ValueText(b->value, &b_digits);
}

// Reads the canonical text into facts whose texts go to `out`, a buffer at
// least as large as the text: unescaping never lengthens.
class Reader {
 public:
  Reader(absl::string_view json, char* out) : in_(json), out_(out) {}

  absl::Status Read(Facts* facts) {
    if (!Take('{')) return Error("a JSON object of facts");
    if (Take('}')) return End();
    do {
      absl::string_view name, kind_name, text;
      if (!String(&name)) return Error("a fact's name as a JSON string");
      if (!Take(':') || !Take('{')) return Error("`:{` after the fact's name");
      const size_t kind_at = pos_;
      if (!String(&kind_name)) return Error("the value's kind as a JSON string");
      const auto* kind = std::find(std::begin(kKindNames), std::end(kKindNames), kind_name);
      if (kind == std::end(kKindNames)) {
        pos_ = kind_at;
        return Error("bool, int, decimal, symbol or date");
      }
      if (!Take(':')) return Error("`:` after the kind");
      const size_t text_at = pos_;
      if (!String(&text)) return Error("the value's text as a JSON string");
      switch (static_cast<FactValue::Kind>(kind - std::begin(kKindNames))) {
        case FactValue::Kind::kBool:
          if (text != "true" && text != "false") {
            pos_ = text_at;
            return Error("\"true\" or \"false\"");
          }
          facts->Add(name, FactValue::Bool(text == "true"));
          break;
        case FactValue::Kind::kInt: {
          int64_t value = 0;
          if (!absl::SimpleAtoi(text, &value)) {
            pos_ = text_at;
            return Error("a whole number in the 64-bit range");
          }
          // SimpleAtoi also takes "+1", "01", " 1": not the int's own text.
          Digits digits;
          if (plain_ && ValueText(FactValue::Int(value), &digits) != text) plain_ = false;
          facts->Add(name, FactValue::Int(value));
          break;
        }
        case FactValue::Kind::kDecimal:
          facts->Add(name, FactValue::Decimal(text));
          break;
        case FactValue::Kind::kSymbol:
          facts->Add(name, FactValue::Symbol(text));
          break;
        case FactValue::Kind::kDate:
          facts->Add(name, FactValue::Date(text));
          break;
      }
      if (!Take('}')) return Error("`}` after the value");
    } while (Take(','));
    if (!Take('}')) return Error("`,` or `}`");
    return End();
  }

  // Whether every name and text read was printable ASCII without an escape
  // and every int its own digits: then the text is what ToCanonicalJson
  // writes if the facts are in canonical order.
  bool plain() const { return plain_; }

 private:
  bool Take(char c) {
    if (pos_ < in_.size() && in_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  absl::Status End() {
    return pos_ == in_.size() ? absl::OkStatus() : Error("nothing after the object");
  }

  absl::Status Error(absl::string_view expected) const {
    return absl::InvalidArgumentError(absl::StrCat("the facts are not in canonical form: expected ",
                                                   expected, " at byte ", pos_));
  }

  // Two lowercase hex digits at pos_, into `byte`.
  bool Hex(unsigned char* byte) {
    if (pos_ + 2 > in_.size()) return false;
    unsigned value = 0;
    for (int k = 0; k < 2; ++k) {
      const char* digit = std::strchr(kHex, in_[pos_ + k]);
      if (digit == nullptr || *digit == '\0') return false;
      value = value * 16 + static_cast<unsigned>(digit - kHex);
    }
    pos_ += 2;
    *byte = static_cast<unsigned char>(value);
    return true;
  }

  // A JSON string of the canonical escapes, unescaped into the buffer.
  bool String(absl::string_view* text) {
    if (!Take('"')) return false;
    char* const start = out_;
    while (pos_ < in_.size()) {
      // Plain bytes, most of any text, are copied in one run (through
      // locals: stores through a char pointer could change any member).
      const char* from = in_.data() + pos_;
      const char* const end = in_.data() + in_.size();
      const char* plain = from;
      char* out = out_;
      while (plain < end && Plain(*plain)) *out++ = *plain++;
      out_ = out;
      pos_ = static_cast<size_t>(plain - in_.data());
      if (pos_ == in_.size()) break;
      const char c = in_[pos_++];
      if (c == '"') {
        *text = absl::string_view(start, static_cast<size_t>(out_ - start));
        return true;
      }
      plain_ = false;
      if (c != '\\') {
        *out_++ = c;
        continue;
      }
      unsigned char byte = 0;
      if (Take('"') || Take('\\')) {
        *out_++ = in_[pos_ - 1];
      } else if (in_.substr(pos_, 3) == "u00" && (pos_ += 3, Hex(&byte))) {
        *out_++ = static_cast<char>(byte);
      } else if (in_.substr(pos_, 3) == "udc" && (pos_ += 3, Hex(&byte)) && byte >= 0x80) {
        *out_++ = static_cast<char>(byte);
      } else {
        return false;
      }
    }
    return false;
  }

  absl::string_view in_;
  size_t pos_ = 0;
  char* out_;
  bool plain_ = true;
};

// Whether no fact comes before the one ahead of it in the canonical order.
bool InCanonicalOrder(const Facts& facts) {
  const std::vector<Fact>& all = facts.all();
  for (size_t i = 1; i < all.size(); ++i) {
    if (Before(&all[i], &all[i - 1])) return false;
  }
  return true;
}

}  // namespace

std::string ToCanonicalJson(const Facts& facts) {
  // This runs for every decision logged: sorted without calls through a
  // pointer, and, when no text needs an escape (names of inputs, valid
  // values), written into a string of the exact size.
  absl::InlinedVector<const Fact*, 32> sorted;
  for (const Fact& fact : facts.all()) sorted.push_back(&fact);
  std::sort(sorted.begin(), sorted.end(),
            [](const Fact* a, const Fact* b) { return Before(a, b); });
  size_t size = 2;
  bool plain = true;
  for (const Fact* fact : sorted) {
    Digits digits;
    const absl::string_view text = ValueText(fact->value, &digits);
    size += fact->name.size() + kBetween[static_cast<int>(fact->value.kind)].size() + text.size() +
            4;  // `,"` before the name, `"}` after the text
    plain = plain && AllPlain(fact->name) && AllPlain(text);
  }
  std::string out;
  if (plain) {
    if (!sorted.empty()) --size;  // no comma before the first
    out.resize(size);
    char* p = out.data();
    auto put = [&p](absl::string_view piece) {
      std::memcpy(p, piece.data(), piece.size());
      p += piece.size();
    };
    *p++ = '{';
    for (const Fact* fact : sorted) {
      if (p - out.data() > 1) *p++ = ',';
      *p++ = '"';
      put(fact->name);
      put(kBetween[static_cast<int>(fact->value.kind)]);
      Digits digits;
      put(ValueText(fact->value, &digits));
      *p++ = '"';
      *p++ = '}';
    }
    *p++ = '}';
    return out;
  }
  out.reserve(size + size / 2);
  out.push_back('{');
  for (const Fact* fact : sorted) {
    out.append(out.size() > 1 ? ",\"" : "\"");
    AppendEscaped(fact->name, &out);
    const absl::string_view between = kBetween[static_cast<int>(fact->value.kind)];
    out.append(between.data(), between.size());
    Digits digits;
    AppendEscaped(ValueText(fact->value, &digits), &out);
    out.append("\"}");
  }
  out.push_back('}');
  return out;
}

absl::StatusOr<CanonicalFacts> FactsFromCanonicalJson(absl::string_view json) {
  CanonicalFacts result;
  result.text_ = std::make_unique<char[]>(json.size() + 1);
  // Room for the facts at once: each takes at least 15 bytes, most about 45.
  result.facts_.Reserve(json.size() / 32 + 1);
  Reader reader(json, result.text_.get());
  if (absl::Status status = reader.Read(&result.facts_); !status.ok()) return status;
  // What reads as facts must also be their one text: sorted, escaped only
  // where the rules say. Plain text in canonical order is that text as it
  // stands (the parts between the names and texts were read exactly), which
  // spares writing it again; anything else is written and compared.
  if (reader.plain() && InCanonicalOrder(result.facts_)) return result;
  const std::string canonical = ToCanonicalJson(result.facts_);
  if (canonical != json) {
    size_t at = 0;
    while (at < canonical.size() && at < json.size() && canonical[at] == json[at]) ++at;
    return absl::InvalidArgumentError(
        absl::StrCat("the facts are not in canonical form: they differ from their canonical "
                     "text at byte ",
                     at, " (sorted by name, no whitespace, escaped only where needed)"));
  }
  return result;
}

}  // namespace creditd::engine
