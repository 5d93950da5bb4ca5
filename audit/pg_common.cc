#include "audit/pg_common.h"

#include <endian.h>

#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "audit/log_location.h"
#include "audit/pg_store.h"
#include "crypto/sha256.h"

namespace creditd::audit::pg {

absl::StatusOr<Conn> Connect(const std::string& location, const char* application) {
  if (absl::Status status = CheckPostgresLocation(location); !status.ok()) return status;
  // Defaults first: what the location sets overrides them (expand_dbname).
  const char* keywords[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {"10", application, location.c_str(), nullptr};
  Conn conn(PQconnectdbParams(keywords, values, /*expand_dbname=*/1));
  if (conn == nullptr) return absl::ResourceExhaustedError("libpq: out of memory");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return absl::UnavailableError(absl::StrCat("cannot connect to the audit log ",
                                               LocationForDisplay(location), ": ",
                                               ErrorOf(conn.get())));
  }
  return conn;
}

std::string ErrorOf(const PGconn* conn) {
  std::string message = conn != nullptr ? PQerrorMessage(conn) : "out of memory";
  absl::StripAsciiWhitespace(&message);
  absl::StrReplaceAll({{"\n", "; "}}, &message);
  return message;
}

Params& Params::Text(std::string value) {
  values_.push_back(std::move(value));
  formats_.push_back(0);
  Seal();
  return *this;
}

Params& Params::Bytes(std::string value) {
  values_.push_back(std::move(value));
  formats_.push_back(1);
  Seal();
  return *this;
}

void Params::Seal() {
  pointers_.clear();
  lengths_.clear();
  for (const std::string& v : values_) {
    pointers_.push_back(v.data());
    lengths_.push_back(static_cast<int>(v.size()));
  }
}

absl::Status StatusOf(PGconn* conn, const PGresult* result, absl::string_view what) {
  if (PQstatus(conn) != CONNECTION_OK) {
    return absl::UnavailableError(absl::StrCat("audit log: ", what, ": ", ErrorOf(conn)));
  }
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  // The primary message alone: the full one quotes the statement.
  const char* primary =
      result != nullptr ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string message = primary != nullptr ? primary : ErrorOf(conn);
  absl::StripAsciiWhitespace(&message);
  absl::StrReplaceAll({{"\n", "; "}}, &message);
  if (state != nullptr && (std::strcmp(state, "3F000") == 0 || std::strcmp(state, "42P01") == 0)) {
    return absl::FailedPreconditionError(
        absl::StrCat("audit log: ", what, ": the database holds no creditd log (", message,
                     "); create it with `creditctl audit migrate`, run as the owner role"));
  }
  if (state != nullptr && std::strcmp(state, "42501") == 0) {
    return absl::PermissionDeniedError(absl::StrCat("audit log: ", what, ": ", message));
  }
  // Class 08 (connection) and 57 (operator intervention: shutdown, cancel)
  // are the database going away; the log tries again.
  if (state != nullptr && (std::strncmp(state, "08", 2) == 0 || std::strncmp(state, "57", 2) == 0 ||
                           std::strncmp(state, "53", 2) == 0)) {
    return absl::UnavailableError(absl::StrCat("audit log: ", what, ": ", message));
  }
  return absl::DataLossError(absl::StrCat("audit log: ", what, ": ", message));
}

absl::StatusOr<Result> Exec(PGconn* conn, const std::string& sql, Params params,
                            absl::string_view what) {
  params.Seal();
  Result r(PQexecParams(conn, sql.c_str(), params.size(), nullptr, params.values(),
                        params.lengths(), params.formats(), /*resultFormat=*/1));
  const ExecStatusType status = r != nullptr ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return StatusOf(conn, r.get(), what);
  }
  return r;
}

std::string Bytes(const PGresult* r, int row, int column) {
  return std::string(PQgetvalue(r, row, column), PQgetlength(r, row, column));
}

int64_t Int(const PGresult* r, int row, int column) {
  const char* v = PQgetvalue(r, row, column);
  switch (PQgetlength(r, row, column)) {
    case 1:
      return static_cast<unsigned char>(v[0]);  // a boolean
    case 2: {
      uint16_t x;
      std::memcpy(&x, v, 2);
      return static_cast<int16_t>(be16toh(x));
    }
    case 4: {
      uint32_t x;
      std::memcpy(&x, v, 4);
      return static_cast<int32_t>(be32toh(x));
    }
    case 8: {
      uint64_t x;
      std::memcpy(&x, v, 8);
      return static_cast<int64_t>(be64toh(x));
    }
    default:
      return 0;
  }
}

std::string RecordColumns(absl::string_view prefix) {
  std::vector<std::string> columns = {absl::StrCat(prefix, "sequence")};
  for (const RecordField& field : kRecordFields)
    columns.push_back(absl::StrCat(prefix, field.column));
  columns.push_back(absl::StrCat(prefix, "previous_hash"));
  columns.push_back(absl::StrCat(prefix, "hash"));
  columns.push_back(absl::StrCat(prefix, "chain_id"));
  return absl::StrJoin(columns, ", ");
}

int RecordColumnCount() { return static_cast<int>(std::size(kRecordFields)) + 4; }

void RecordAt(const PGresult* r, int row, int first, AuditRecord* record) {
  int i = first;
  record->sequence = Int(r, row, i++);
  for (const RecordField& field : kRecordFields) {
    (record->*field.member).assign(PQgetvalue(r, row, i), PQgetlength(r, row, i));
    ++i;
  }
  record->previous_hash.assign(PQgetvalue(r, row, i), PQgetlength(r, row, i));
  ++i;
  record->hash.assign(PQgetvalue(r, row, i), PQgetlength(r, row, i));
  ++i;
  record->chain.assign(PQgetvalue(r, row, i), PQgetlength(r, row, i));
}

absl::StatusOr<std::vector<std::pair<int64_t, int>>> ChainFormats(PGconn* conn,
                                                                  const std::string& chain) {
  absl::StatusOr<Result> r = Exec(conn,
                                  "SELECT first_sequence, format FROM creditd.log_format WHERE "
                                  "chain_id = $1 ORDER BY first_sequence",
                                  Params().Text(chain), "cannot read the log's formats");
  if (!r.ok()) return r.status();
  std::vector<std::pair<int64_t, int>> formats;
  for (int i = 0; i < PQntuples(r->get()); ++i) {
    formats.emplace_back(Int(r->get(), i, 0), static_cast<int>(Int(r->get(), i, 1)));
  }
  return formats;
}

absl::StatusOr<std::string> CheckSchema(PGconn* conn, const std::string& shown) {
  absl::StatusOr<Result> r = Exec(
      conn, "SELECT key, value FROM creditd.log_info WHERE key IN ('schema_version', 'log_id')",
      Params(), "cannot read the log's schema");
  if (!r.ok()) return r.status();
  std::string version, log_id;
  for (int i = 0; i < PQntuples(r->get()); ++i) {
    (Bytes(r->get(), i, 0) == "log_id" ? log_id : version) = Bytes(r->get(), i, 1);
  }
  if (version != std::to_string(kPostgresSchemaVersion) || log_id.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the audit log ", shown, " has schema version ", version.empty() ? "(none)" : version,
        "; this creditd reads version ", kPostgresSchemaVersion,
        ": run `creditctl audit migrate` of this version, as the owner role"));
  }
  return log_id;
}

absl::StatusOr<std::vector<StoredPolicy>> ReadBindings(PGconn* conn) {
  absl::StatusOr<Result> r = Exec(conn,
                                  "SELECT v.name, v.version, v.sha256, v.canonical_form, "
                                  "v.first_served, p.source, p.sha256 IS NULL FROM "
                                  "creditd.versions v LEFT JOIN creditd.policies p ON p.sha256 = "
                                  "v.sha256 ORDER BY v.name, v.version",
                                  Params(), "cannot read the policy versions");
  if (!r.ok()) return r.status();
  std::vector<StoredPolicy> bound;
  for (int i = 0; i < PQntuples(r->get()); ++i) {
    StoredPolicy p;
    p.name = Bytes(r->get(), i, 0);
    p.version = Bytes(r->get(), i, 1);
    p.sha256 = Bytes(r->get(), i, 2);
    p.canonical_form = static_cast<int>(Int(r->get(), i, 3));
    p.first_served = Bytes(r->get(), i, 4);
    if (Int(r->get(), i, 6) != 0) {
      return absl::DataLossError(absl::StrCat("audit log: version ", p.version, " of `", p.name,
                                              "` is bound to sha256 ", p.sha256,
                                              ", whose text the log does not hold"));
    }
    p.source = Bytes(r->get(), i, 5);
    if (crypto::Sha256Hex(p.source) != p.sha256) {
      return absl::DataLossError(absl::StrCat("audit log: the stored text of version ", p.version,
                                              " of `", p.name, "` does not hash to its sha256 ",
                                              p.sha256, " (changed after it was stored)"));
    }
    bound.push_back(std::move(p));
  }
  return bound;
}

}  // namespace creditd::audit::pg
