#include "audit/log_location.h"

#include <libpq-fe.h>

#include <map>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace creditd::audit {
namespace {

constexpr absl::string_view kSqlitePrefix = "sqlite:";

struct OptionsDeleter {
  void operator()(PQconninfoOption* options) const { PQconninfoFree(options); }
};

// The parameters a connection string sets; InvalidArgument when libpq
// does not parse it.
absl::Status Parse(const std::string& location, std::map<std::string, std::string>* out) {
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, OptionsDeleter> options(
      PQconninfoParse(location.c_str(), &error));
  if (options == nullptr) {
    std::string why = error != nullptr ? error : "out of memory";
    PQfreemem(error);
    absl::StripTrailingAsciiWhitespace(&why);
    return absl::InvalidArgumentError(
        absl::StrCat("not a PostgreSQL connection string libpq accepts: ", why));
  }
  for (const PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o) {
    if (o->val != nullptr) (*out)[o->keyword] = o->val;
  }
  return absl::OkStatus();
}

}  // namespace

bool IsPostgresLocation(absl::string_view location) {
  if (absl::StartsWith(location, kSqlitePrefix)) return false;
  if (absl::StartsWith(location, "postgresql://") || absl::StartsWith(location, "postgres://")) {
    return true;
  }
  // key=value: a keyword of letters and underscores, then '=' (a file name
  // of that shape is written sqlite:PATH).
  const absl::string_view text = absl::StripLeadingAsciiWhitespace(location);
  size_t i = 0;
  while (i < text.size() && (absl::ascii_isalpha(text[i]) || text[i] == '_')) ++i;
  if (i == 0) return false;
  while (i < text.size() && absl::ascii_isspace(text[i])) ++i;
  return i < text.size() && text[i] == '=';
}

std::string SqlitePathOf(absl::string_view location) {
  if (absl::StartsWith(location, kSqlitePrefix)) location.remove_prefix(kSqlitePrefix.size());
  return std::string(location);
}

absl::Status CheckPostgresLocation(const std::string& location) {
  std::map<std::string, std::string> options;
  if (absl::Status status = Parse(location, &options); !status.ok()) return status;
  if (auto it = options.find("password"); it != options.end() && !it->second.empty()) {
    return absl::InvalidArgumentError(
        "the connection string holds a password; a password is read from a file, never given on "
        "the command line: libpq's password file (passfile=FILE in the connection string, "
        "PGPASSFILE, or ~/.pgpass)");
  }
  return absl::OkStatus();
}

std::string LocationForDisplay(absl::string_view location) {
  if (!IsPostgresLocation(location)) return SqlitePathOf(location);
  std::map<std::string, std::string> options;
  if (!Parse(std::string(location), &options).ok()) return "postgresql://(unparsable)";
  auto get = [&options](const char* key) {
    auto it = options.find(key);
    return it == options.end() ? std::string() : it->second;
  };
  std::string shown = "postgresql://";
  if (const std::string user = get("user"); !user.empty()) absl::StrAppend(&shown, user, "@");
  std::string host = get("host");
  if (host.empty()) host = get("hostaddr");
  // A socket directory is a path: shown as a parameter, as libpq writes it.
  const bool socket = !host.empty() && host[0] == '/';
  if (!socket) absl::StrAppend(&shown, host);
  if (const std::string port = get("port"); !port.empty()) absl::StrAppend(&shown, ":", port);
  absl::StrAppend(&shown, "/", get("dbname"));
  if (socket) absl::StrAppend(&shown, "?host=", host);
  return shown;
}

}  // namespace creditd::audit
