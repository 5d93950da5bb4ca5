#pragma once

// Where a decision log lives: a SQLite file or a PostgreSQL database. Every
// reader of a log (VerifyLog, ForEachMatchingRecord, ...) and the server's
// --audit_store take one of:
//   sqlite:PATH                    a SQLite file (a plain PATH means the same)
//   postgresql://USER@HOST/DB?...  a libpq connection URI (postgres:// too)
//   host=... dbname=... ...        a libpq key=value connection string
// A connection string never holds a password: libpq reads it from its
// password file (passfile=FILE, PGPASSFILE, or ~/.pgpass).

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace creditd::audit {

// Whether `location` names a PostgreSQL log.
bool IsPostgresLocation(absl::string_view location);

// The file a SQLite location names (PATH of sqlite:PATH, or the location).
std::string SqlitePathOf(absl::string_view location);

// InvalidArgument, saying why, for a PostgreSQL location libpq does not
// parse or that holds a password.
absl::Status CheckPostgresLocation(const std::string& location);

// The location as it may be shown (in messages, output, logs): a SQLite
// path as given; a connection as postgresql://USER@HOST:PORT/DB with no
// password and no other parameters.
std::string LocationForDisplay(absl::string_view location);

}  // namespace creditd::audit
