#include "cli/facts_json.h"

#include <cstring>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/evaluator.h"
#include "rapidjson/error/en.h"
#include "rapidjson/memorystream.h"
#include "rapidjson/reader.h"

namespace creditd::cli {

namespace {

constexpr unsigned kFlags = rapidjson::kParseNumbersAsStringsFlag | rapidjson::kParseIterativeFlag |
                            rapidjson::kParseValidateEncodingFlag;

// Passes SAX events to the document, turning each number (handed over as
// its text) into an exact value; refuses the ones it cannot keep exact.
class NumberHandler {
 public:
  NumberHandler(rapidjson::Document& document, absl::flat_hash_set<const char*>& decimals)
      : document_(document), decimals_(decimals) {}

  bool Null() { return document_.Null(); }
  bool Bool(bool b) { return document_.Bool(b); }
  bool String(const char* s, rapidjson::SizeType n, bool copy) {
    return document_.String(s, n, copy);
  }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) { return document_.Key(s, n, copy); }
  bool StartObject() { return document_.StartObject(); }
  bool EndObject(rapidjson::SizeType n) { return document_.EndObject(n); }
  bool StartArray() { return document_.StartArray(); }
  bool EndArray(rapidjson::SizeType n) { return document_.EndArray(n); }
  // Never called with kParseNumbersAsStringsFlag; numbers come as RawNumber.
  bool Int(int) { return Unexpected(); }
  bool Uint(unsigned) { return Unexpected(); }
  bool Int64(int64_t) { return Unexpected(); }
  bool Uint64(uint64_t) { return Unexpected(); }
  bool Double(double) { return Unexpected(); }

  bool RawNumber(const char* s, rapidjson::SizeType n, bool /*copy*/) {
    const absl::string_view text(s, n);
    if (text.find_first_of("eE") != absl::string_view::npos) {
      error_ = absl::StrCat("the number ", engine::EchoText(text),
                            " has an exponent; write its digits out, or send it as a string");
      return false;
    }
    if (text.find('.') == absl::string_view::npos) {
      int64_t value = 0;
      if (!absl::SimpleAtoi(text, &value)) {
        error_ = absl::StrCat("the whole number ", engine::EchoText(text),
                              " is outside the 64-bit range; send a larger amount as a string");
        return false;
      }
      return document_.Int64(value);
    }
    // Kept apart from the strings the document copies, so its address says
    // it was a number.
    char* copy = static_cast<char*>(document_.GetAllocator().Malloc(n + 1));
    std::memcpy(copy, s, n);
    copy[n] = '\0';
    decimals_.insert(copy);
    return document_.String(copy, n, /*copy=*/false);
  }

  const std::string& error() const { return error_; }

 private:
  bool Unexpected() {
    error_ = "a number was read without its text";
    return false;
  }

  rapidjson::Document& document_;
  absl::flat_hash_set<const char*>& decimals_;
  std::string error_;
};

}  // namespace

absl::Status FactsJson::Parse(absl::string_view json) {
  decimal_numbers_.clear();
  // The reader takes a NUL byte for the end of the text, and would read
  // what precedes it as the whole document. JSON text holds none (a string
  // writes one as \u0000).
  if (const size_t nul = json.find('\0'); nul != absl::string_view::npos) {
    document_.SetNull();
    return absl::InvalidArgumentError(absl::StrCat("a NUL byte is not JSON (at byte ", nul,
                                                   "); write it as \\u0000 in a string"));
  }
  rapidjson::MemoryStream stream(json.data(), json.size());
  rapidjson::Reader reader;
  NumberHandler handler(document_, decimal_numbers_);
  rapidjson::ParseResult result;
  auto generate = [&](rapidjson::Document& document) {
    (void)document;  // the handler writes to it
    result = reader.Parse<kFlags>(stream, handler);
    return !result.IsError();
  };
  document_.Populate(generate);
  if (!result.IsError()) return absl::OkStatus();
  document_.SetNull();
  const std::string what = result.Code() == rapidjson::kParseErrorTermination
                               ? handler.error()
                               : rapidjson::GetParseError_En(result.Code());
  return absl::InvalidArgumentError(absl::StrCat(what, " (at byte ", result.Offset(), ")"));
}

bool FactsJson::IsDecimalNumber(const rapidjson::Value& value) const {
  return value.IsString() && decimal_numbers_.contains(value.GetString());
}

}  // namespace creditd::cli
