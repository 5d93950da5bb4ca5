#include "audit/pg_read.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "audit/log_location.h"
#include "audit/pg_common.h"
#include "crypto/sha256.h"

namespace creditd::audit::pg {
namespace {

absl::StatusOr<Conn> Open(const std::string& location) {
  absl::StatusOr<Conn> conn = Connect(location, "creditctl");
  if (!conn.ok()) return conn.status();
  absl::StatusOr<std::string> log_id = CheckSchema(conn->get(), LocationForDisplay(location));
  if (!log_id.ok()) return log_id.status();
  // One consistent view for the whole read, whatever replicas write meanwhile.
  absl::StatusOr<Result> begin =
      Exec(conn->get(), "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", Params(),
           "cannot begin a read");
  if (!begin.ok()) return begin.status();
  return conn;
}

// A filter as SQL over the records table: the condition (of constant SQL)
// and its values, all bound.
struct FilterSql {
  std::vector<std::string> conditions;
  Params params;
};

// Every PostgreSQL log is of format 5 or later: the outcome is a field.
absl::StatusOr<FilterSql> ToSql(const RecordFilter& filter) {
  absl::StatusOr<std::vector<FilterTerm>> terms = FilterTerms(filter);
  if (!terms.ok()) return terms.status();
  FilterSql sql;
  for (FilterTerm& term : *terms) {
    sql.params.Bytes(std::move(term.value));
    sql.conditions.push_back(absl::StrCat(term.column, " ", term.op, " $", sql.params.size()));
  }
  return sql;
}

std::string Where(const std::vector<std::string>& conditions) {
  return conditions.empty() ? "" : absl::StrCat(" WHERE ", absl::StrJoin(conditions, " AND "));
}

// The record formats of every chain.
class Formats {
 public:
  absl::Status Load(PGconn* conn) {
    absl::StatusOr<Result> r =
        Exec(conn, "SELECT chain_id, first_sequence, format FROM creditd.log_format", Params(),
             "cannot read the log's formats");
    if (!r.ok()) return r.status();
    for (int i = 0; i < PQntuples(r->get()); ++i) {
      by_chain_[Bytes(r->get(), i, 0)].emplace_back(Int(r->get(), i, 1),
                                                    static_cast<int>(Int(r->get(), i, 2)));
    }
    for (auto& [chain, formats] : by_chain_) std::sort(formats.begin(), formats.end());
    return absl::OkStatus();
  }
  int Of(const AuditRecord& r) const {
    auto it = by_chain_.find(r.chain);
    return it == by_chain_.end() ? kFirstLogFormat : FormatOf(it->second, r.sequence);
  }

 private:
  std::map<std::string, std::vector<std::pair<int64_t, int>>> by_chain_;
};

// Streams the rows of `sql` one at a time (libpq's single-row mode):
// `row` gets each. DataLoss when the read ends in an error, naming the
// last row read by `described`.
absl::Status Stream(PGconn* conn, const std::string& sql, Params params,
                    const std::function<bool(const PGresult*)>& row,
                    const std::function<std::string()>& described) {
  params.Seal();
  if (PQsendQueryParams(conn, sql.c_str(), params.size(), nullptr, params.values(),
                        params.lengths(), params.formats(), 1) != 1 ||
      PQsetSingleRowMode(conn) != 1) {
    return StatusOf(conn, nullptr, "cannot read the records");
  }
  absl::Status status;
  while (true) {
    Result r(PQgetResult(conn));
    if (r == nullptr) break;
    const ExecStatusType s = PQresultStatus(r.get());
    if (s == PGRES_SINGLE_TUPLE) {
      if (!row(r.get())) {
        // The rest is not wanted: the caller closes the connection, or
        // cancels and drains it (DrainAfterStop).
        return absl::OkStatus();
      }
    } else if (s != PGRES_TUPLES_OK && status.ok()) {
      const absl::Status error = StatusOf(conn, r.get(), "cannot read the records");
      status = absl::DataLossError(absl::StrCat(described(), ": ", error.message()));
    }
  }
  if (status.ok() && PQstatus(conn) != CONNECTION_OK) {
    status = absl::DataLossError(absl::StrCat(described(), ": ", ErrorOf(conn)));
  }
  return status;
}

std::string Select(absl::string_view where, absl::string_view order) {
  return absl::StrCat("SELECT ", RecordColumns(), " FROM creditd.records", where, " ORDER BY ",
                      order);
}

absl::Status CheckRegistry(
    PGconn* conn, const std::map<std::pair<std::string, std::string>, std::set<std::string>>& named,
    std::vector<std::string>* problems) {
  absl::StatusOr<Result> texts =
      Exec(conn, "SELECT sha256, name, version, source FROM creditd.policies ORDER BY sha256",
           Params(), "cannot read the stored policies");
  if (!texts.ok()) return texts.status();
  for (int i = 0; i < PQntuples(texts->get()); ++i) {
    const std::string sha256 = Bytes(texts->get(), i, 0);
    if (crypto::Sha256Hex(Bytes(texts->get(), i, 3)) != sha256) {
      problems->push_back(absl::StrCat("the stored text of ", Bytes(texts->get(), i, 1), " ",
                                       Bytes(texts->get(), i, 2), " does not hash to its sha256 ",
                                       sha256, " (changed after it was stored)"));
    }
  }
  absl::StatusOr<Result> versions =
      Exec(conn,
           "SELECT v.name, v.version, v.sha256, p.sha256 IS NOT NULL FROM creditd.versions v "
           "LEFT JOIN creditd.policies p ON p.sha256 = v.sha256 ORDER BY v.name, v.version",
           Params(), "cannot read the policy versions");
  if (!versions.ok()) return versions.status();
  for (int i = 0; i < PQntuples(versions->get()); ++i) {
    const std::string name = Bytes(versions->get(), i, 0);
    const std::string version = Bytes(versions->get(), i, 1);
    const std::string sha256 = Bytes(versions->get(), i, 2);
    if (Int(versions->get(), i, 3) == 0) {
      problems->push_back(absl::StrCat(name, " ", version, " is bound to sha256 ", sha256,
                                       ", whose text the log does not hold"));
    }
    const auto it = named.find({name, version});
    if (it != named.end() && it->second.count(sha256) == 0) {
      problems->push_back(absl::StrCat(name, " ", version, " is bound to sha256 ", sha256,
                                       ", but the chain's decisions were made with ",
                                       *it->second.begin(), " (the binding was changed)"));
    }
  }
  return absl::OkStatus();
}

// The records of a filter, a range of positions at a time.
class PgRanges : public RecordRanges {
 public:
  static absl::StatusOr<std::unique_ptr<RecordRanges>> Open(const std::string& location,
                                                            const RecordFilter& filter) {
    absl::StatusOr<Conn> conn = pg::Open(location);
    if (!conn.ok()) return conn.status();
    std::unique_ptr<PgRanges> ranges(new PgRanges());
    ranges->shown_ = LocationForDisplay(location);
    absl::StatusOr<FilterSql> sql = ToSql(filter);
    if (!sql.ok()) return sql.status();
    if (absl::Status status = ranges->formats_.Load(conn->get()); !status.ok()) return status;
    absl::StatusOr<Result> bounds =
        Exec(conn->get(), "SELECT min(position), max(position) FROM creditd.records", Params(),
             "cannot read the records' bounds");
    if (!bounds.ok()) return bounds.status();
    if (!PQgetisnull(bounds->get(), 0, 0)) {
      ranges->first_ = Int(bounds->get(), 0, 0);
      ranges->last_ = Int(bounds->get(), 0, 1);
    }
    ranges->params_ = std::move(sql->params);
    const int n = ranges->params_.size();
    sql->conditions.push_back(absl::StrCat("position >= $", n + 1));
    sql->conditions.push_back(absl::StrCat("position <= $", n + 2));
    ranges->select_ = Select(Where(sql->conditions), "position");
    ranges->conn_ = *std::move(conn);
    return std::unique_ptr<RecordRanges>(std::move(ranges));
  }

  absl::Status ForEach(int64_t first, int64_t last,
                       const std::function<bool(AuditRecord&)>& visit) override {
    Params params = params_;
    params.Int(first).Int(last);
    int64_t read = 0;
    bool more = true;
    absl::Status status = Stream(
        conn_.get(), select_, std::move(params),
        [&](const PGresult* r) {
          RecordAt(r, 0, 0, &record_);
          record_.format = formats_.Of(record_);
          ++read;
          more = visit(record_);
          return more;
        },
        [&] {
          return absl::StrCat("the audit log ", shown_, " cannot be read past ", read,
                              " records of positions ", first, " to ", last);
        });
    if (!more && status.ok()) {
      // The rest is not wanted, and the connection is kept for the next
      // range: cancel the query and drain what the server still sends.
      if (PGcancel* cancel = PQgetCancel(conn_.get()); cancel != nullptr) {
        char error[256];
        (void)PQcancel(cancel, error, sizeof(error));
        PQfreeCancel(cancel);
      }
      while (Result r{PQgetResult(conn_.get())}) {
      }
      // A cancelled query ends the read's transaction: begin another view.
      absl::StatusOr<Result> end = Exec(conn_.get(), "ROLLBACK", Params(), "cannot end a read");
      if (!end.ok()) return end.status();
      absl::StatusOr<Result> begin =
          Exec(conn_.get(), "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", Params(),
               "cannot begin a read");
      if (!begin.ok()) return begin.status();
    }
    return status;
  }

 private:
  PgRanges() = default;
  Conn conn_;
  std::string shown_;
  std::string select_;
  Params params_;
  Formats formats_;
  AuditRecord record_;
};

}  // namespace

absl::StatusOr<std::vector<std::string>> ListChains(const std::string& location) {
  absl::StatusOr<Conn> conn = Open(location);
  if (!conn.ok()) return conn.status();
  absl::StatusOr<Result> r =
      Exec(conn->get(), "SELECT chain_id FROM creditd.chains ORDER BY chain_id", Params(),
           "cannot read the chains");
  if (!r.ok()) return r.status();
  std::vector<std::string> chains;
  for (int i = 0; i < PQntuples(r->get()); ++i) chains.push_back(Bytes(r->get(), i, 0));
  return chains;
}

absl::StatusOr<VerifyResult> VerifyChain(const std::string& location, const std::string& chain,
                                         const std::set<int64_t>& keep_hashes_of) {
  absl::StatusOr<Conn> conn = Open(location);
  if (!conn.ok()) return conn.status();
  absl::StatusOr<std::vector<std::pair<int64_t, int>>> formats = ChainFormats(conn->get(), chain);
  if (!formats.ok()) return formats.status();
  // The oldest records may have been archived (their partitions dropped):
  // the chain is checked from the first held on.
  ChainCheck check(&keep_hashes_of, /*may_start_later=*/true);
  AuditRecord record;
  absl::Status status = Stream(
      conn->get(), Select(" WHERE chain_id = $1", "sequence"), Params().Text(chain),
      [&](const PGresult* r) {
        RecordAt(r, 0, 0, &record);
        record.format = FormatOf(*formats, record.sequence);
        return check.Next(record);
      },
      [&] {
        return absl::StrCat("chain ", chain, " of the audit log ", LocationForDisplay(location),
                            " cannot be read past record ", check.result().head.sequence);
      });
  if (!status.ok()) return status;
  VerifyResult& result = check.result();
  if (!result.ok) return result;
  if (absl::Status registry = CheckRegistry(conn->get(), check.named(), &result.registry_problems);
      !registry.ok()) {
    return registry;
  }
  return result;
}

absl::StatusOr<std::optional<AuditRecord>> ReadRecord(const std::string& location,
                                                      const std::string& decision_id) {
  absl::StatusOr<Conn> conn = Open(location);
  if (!conn.ok()) return conn.status();
  Formats formats;
  if (absl::Status status = formats.Load(conn->get()); !status.ok()) return status;
  absl::StatusOr<Result> r = Exec(conn->get(), Select(" WHERE decision_id = $1", "position"),
                                  Params().Bytes(decision_id), "cannot read a record");
  if (!r.ok()) return r.status();
  if (PQntuples(r->get()) == 0) return std::optional<AuditRecord>();
  AuditRecord record;
  RecordAt(r->get(), 0, 0, &record);
  record.format = formats.Of(record);
  return std::optional<AuditRecord>(std::move(record));
}

absl::StatusOr<std::string> ReadPolicySource(const std::string& location,
                                             const std::string& sha256) {
  absl::StatusOr<Conn> conn = Open(location);
  if (!conn.ok()) return conn.status();
  absl::StatusOr<Result> r =
      Exec(conn->get(), "SELECT source FROM creditd.policies WHERE sha256 = $1",
           Params().Text(sha256), "cannot read a policy");
  if (!r.ok()) return r.status();
  if (PQntuples(r->get()) == 0) {
    return absl::NotFoundError(absl::StrCat("no policy source for sha256 ", sha256));
  }
  return Bytes(r->get(), 0, 0);
}

absl::StatusOr<std::vector<StoredPolicy>> ReadStoredVersions(const std::string& location) {
  absl::StatusOr<Conn> conn = Open(location);
  if (!conn.ok()) return conn.status();
  return ReadBindings(conn->get());
}

absl::StatusOr<LogIdentity> ReadLogIdentity(const std::string& location, const std::string& chain) {
  absl::StatusOr<Conn> conn = Connect(location, "creditctl");
  if (!conn.ok()) return conn.status();
  absl::StatusOr<std::string> log_id = CheckSchema(conn->get(), LocationForDisplay(location));
  if (!log_id.ok()) return log_id.status();
  return LogIdentity{*log_id, chain};
}

absl::Status ForEachMatchingRecord(const std::string& location, const RecordFilter& filter,
                                   const std::function<bool(AuditRecord&)>& visit) {
  absl::StatusOr<FilterSql> sql = ToSql(filter);
  if (!sql.ok()) return sql.status();
  absl::StatusOr<Conn> conn = Open(location);
  if (!conn.ok()) return conn.status();
  Formats formats;
  if (absl::Status status = formats.Load(conn->get()); !status.ok()) return status;
  AuditRecord record;
  int64_t read = 0;
  return Stream(
      conn->get(), Select(Where(sql->conditions), "position"), std::move(sql->params),
      [&](const PGresult* r) {
        RecordAt(r, 0, 0, &record);
        record.format = formats.Of(record);
        ++read;
        return visit(record);
      },
      [&] {
        return absl::StrCat("the audit log ", LocationForDisplay(location),
                            " cannot be read past its first ", read, " records");
      });
}

absl::StatusOr<int64_t> CountMatchingRecords(const std::string& location,
                                             const RecordFilter& filter) {
  absl::StatusOr<FilterSql> sql = ToSql(filter);
  if (!sql.ok()) return sql.status();
  absl::StatusOr<Conn> conn = Open(location);
  if (!conn.ok()) return conn.status();
  absl::StatusOr<Result> r = Exec(
      conn->get(), absl::StrCat("SELECT count(*) FROM creditd.records", Where(sql->conditions)),
      std::move(sql->params), "cannot count the records");
  if (!r.ok()) return r.status();
  return Int(r->get(), 0, 0);
}

absl::StatusOr<std::unique_ptr<RecordRanges>> OpenRanges(
    const std::string& location, const RecordFilter& filter,
    std::vector<std::string AuditRecord::*> /*fields: every one is read*/) {
  return PgRanges::Open(location, filter);
}

}  // namespace creditd::audit::pg
