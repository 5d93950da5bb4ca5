// creditctl audit verify|show|replay DB: checks the decision log's hash
// chain, prints a logged decision, re-runs logged decisions against their
// own stored policy source.
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "audit/checkpoint.h"
#include "audit/log_location.h"
#include "audit/pg_store.h"
#include "audit/sqlite_audit.h"
#include "cli/audit_render.h"
#include "cli/audit_review.h"
#include "cli/creditctl.h"
#include "cli/ordered_batches.h"
#include "cli/replay.h"
#include "engine/bundle.h"

namespace creditd::cli {

namespace {

// Checks one chain of the log; `name` names it in the output.
void VerifyOneChain(const std::string& db, const std::string& chain, const std::string& name,
                    const std::optional<audit::CheckpointKey>& key, const audit::CheckpointDir& dir,
                    const std::string& checkpoints, Context& context) {
  std::set<int64_t> counts;
  for (const audit::CheckpointFile& c : dir.checkpoints) counts.insert(c.checkpoint.records);
  absl::StatusOr<audit::VerifyResult> result = audit::VerifyChain(db, chain, counts);
  if (!result.ok()) {
    context.err << "creditctl: " << result.status().message() << "\n";
    context.exit_code = kExitUsage;
    return;
  }
  if (!result->ok) {
    context.out << name << ": record " << result->first_broken << " is broken: " << result->problem
                << "\n";
    context.exit_code = kExitFailure;
    if (key) context.out << name << ": not compared with its checkpoints: the chain is broken\n";
    return;
  }
  const int64_t length = result->archived + result->records;
  if (result->archived > 0) {
    context.out << name << ": records " << result->archived + 1 << " to " << length
                << ", hash chain intact; records 1 to " << result->archived
                << " are not in the log (archived; the chain resumes at " << result->resumes_at_time
                << ")\n";
  } else {
    context.out << name << ": " << result->records << " records, hash chain intact\n";
  }
  for (const std::string& note : result->registry_notes) {
    context.out << name << ": note: " << note << "\n";
  }
  for (const std::string& problem : result->registry_problems) {
    context.out << name << ": " << problem << "\n";
    context.exit_code = kExitFailure;
  }
  if (!key) {
    if (result->archived > 0) {
      context.out << name << ": nothing shows what records 1 to " << result->archived
                  << " were without the checkpoints (--checkpoints, --key)\n";
      context.exit_code = kExitFailure;
    }
    return;
  }
  absl::StatusOr<audit::LogIdentity> identity = audit::ReadChainIdentity(db, chain);
  if (!identity.ok()) {
    context.out << name << ": cannot be compared with checkpoints: " << identity.status().message()
                << "\n";
    context.exit_code = kExitFailure;
    return;
  }
  const audit::CheckpointReport report =
      audit::CheckLogAgainst(dir.checkpoints, *identity, length, result->hashes, result->archived);
  for (const audit::CheckpointProblem& problem : report.problems) {
    context.out << name << ": " << problem.message
                << " (first record concerned: " << problem.first_record << ")\n";
    context.exit_code = kExitFailure;
  }
  if (!report.problems.empty()) return;
  if (report.checked == 0) {
    context.out << name << ": no checkpoint in " << checkpoints
                << " covers this log: nothing shows whether records were cut off\n";
    context.exit_code = kExitFailure;
    return;
  }
  context.out << name << ": agrees with " << report.checked << " checkpoints signed by key "
              << key->id() << "; the newest covers " << report.covered << " of its " << length
              << " records\n";
  if (report.covered < length) {
    context.out << name << ": records " << report.covered + 1 << " to " << length
                << " are not covered by a checkpoint yet: they could be cut without a trace\n";
  }
}

void Verify(const std::string& db, const std::string& checkpoints, const std::string& key_path,
            Context& context) {
  if (checkpoints.empty() != key_path.empty()) {
    context.err << "creditctl: --checkpoints and --key go together: the directory of signed "
                   "checkpoints and the public key that signed them\n";
    context.exit_code = kExitUsage;
    return;
  }
  std::optional<audit::CheckpointKey> key;
  audit::CheckpointDir dir;
  if (!checkpoints.empty()) {
    absl::StatusOr<audit::CheckpointKey> loaded = audit::CheckpointKey::FromPublicKeyFile(key_path);
    if (!loaded.ok()) {
      context.err << "creditctl: " << loaded.status().message() << "\n";
      context.exit_code = kExitUsage;
      return;
    }
    key = *std::move(loaded);
    absl::StatusOr<audit::CheckpointDir> read = audit::ReadCheckpointDir(checkpoints, *key);
    if (!read.ok()) {
      context.err << "creditctl: " << read.status().message() << "\n";
      context.exit_code = kExitUsage;
      return;
    }
    dir = *std::move(read);
  }
  const std::string shown = audit::LocationForDisplay(db);
  for (const std::string& refused : dir.refused) {
    context.out << shown << ": checkpoint " << refused << "\n";
    context.exit_code = kExitFailure;
  }
  // A PostgreSQL log holds a chain per replica: each is checked, and named.
  absl::StatusOr<std::vector<std::string>> chains = audit::ListChains(db);
  if (!chains.ok()) {
    context.err << "creditctl: " << chains.status().message() << "\n";
    context.exit_code = kExitUsage;
    return;
  }
  if (chains->empty()) context.out << shown << ": 0 records, no chains\n";
  const bool shared = audit::IsPostgresLocation(db);
  for (const std::string& chain : *chains) {
    VerifyOneChain(db, chain, shared ? absl::StrCat(shown, " chain ", chain) : shown, key, dir,
                   checkpoints, context);
  }
}

void Show(const std::string& db, const std::string& id, Context& context) {
  absl::StatusOr<std::optional<audit::AuditRecord>> record = audit::ReadRecord(db, id);
  if (!record.ok()) {
    context.err << "creditctl: " << record.status().message() << "\n";
    context.exit_code = kExitUsage;
    return;
  }
  if (!record->has_value()) {
    context.err << "creditctl: no decision " << id << " in " << audit::LocationForDisplay(db)
                << "\n";
    context.exit_code = kExitFailure;
    return;
  }
  const audit::AuditRecord& r = **record;
  absl::StatusOr<std::string> result = RenderResult(r);
  if (!result.ok()) {
    context.err << "creditctl: decision " << id << ": " << result.status().message() << "\n";
    context.exit_code = kExitFailure;
    return;
  }
  context.out << "decision_id:  " << r.decision_id << "\nsequence:     " << r.sequence
              << (r.chain.empty() ? "" : absl::StrCat(" (chain ", r.chain, ")"))
              << "\nkind:         " << r.kind << "\ncaller:       " << r.caller
              << (r.via.empty() ? "" : "\nvia:          ") << r.via << "\ntime:         " << r.time
              << "\ncustomer_id:  " << r.customer_id << "\nrequest_id:   " << r.request_id
              << "\ndecision:     " << r.decision << "\npolicy:       " << r.policy_name << " "
              << r.policy_version << " (sha256 " << r.policy_sha256
              << ")\nfacts:        " << RenderFacts(r) << "\nresult:       " << *result << "\n";
  if (!r.challenger.empty()) {
    absl::StatusOr<std::string> challenger = RenderChallenger(r);
    context.out << "challenger:   "
                << (challenger.ok() ? *challenger
                                    : absl::StrCat("(", challenger.status().message(), ")"))
                << "\n";
  }
  context.out << "hash:         " << r.hash << "\n";
}

void Replay(const std::string& db, Context& context) {
  std::map<std::string, std::shared_ptr<const engine::CompiledPolicy>> policies;
  int64_t replayed = 0, differ = 0, failed = 0;
  // Decisions are re-run a batch at a time on every core (a compiled policy
  // evaluates on many threads at once), and reported in log order.
  struct Item {
    audit::AuditRecord record;
    std::shared_ptr<const engine::CompiledPolicy> policy;
    // The challenger's version, for a record that holds a challenger's result.
    std::shared_ptr<const engine::CompiledPolicy> challenger;
    absl::StatusOr<Replayed> outcome = Replayed{};
  };
  OrderedBatches<Item> replaying(
      [](Item& item) {
        item.outcome = ReplayRecord(item.record, *item.policy);
        if (item.outcome.ok() && item.outcome->same && item.challenger != nullptr) {
          item.outcome = ReplayChallenger(item.record, *item.challenger);
        }
      },
      [&](const Item& item) {
        const audit::AuditRecord& r = item.record;
        if (!item.outcome.ok()) {
          context.out << "decision " << r.decision_id
                      << " does not replay: " << item.outcome.status().message() << "\n";
          ++failed;
          return;
        }
        if (item.outcome->same) return;
        context.out << "decision " << r.decision_id << " differs on replay\n";
        // What differs, a screenful at most.
        constexpr size_t kLinesShown = 20;
        const std::vector<absl::string_view> lines =
            absl::StrSplit(item.outcome->difference, '\n', absl::SkipEmpty());
        for (size_t k = 0; k < lines.size() && k < kLinesShown; ++k) {
          context.out << "  " << lines[k] << "\n";
        }
        if (lines.size() > kLinesShown) {
          context.out << "  and " << lines.size() - kLinesShown << " more differences\n";
        }
        ++differ;
      });
  constexpr size_t kBatch = 256;
  std::vector<Item> batch;
  auto report = [&] {
    replaying.Submit(std::move(batch));
    batch.clear();
    batch.reserve(kBatch);
  };
  absl::Status status = audit::ForEachRecord(db, [&](audit::AuditRecord& r) {
    if (r.kind != audit::kDecisionRecord) return true;  // a reload: nothing to re-run
    ++replayed;
    // A version is rebuilt once, under the sha256 the decision was made
    // with, checked against the stored text's own hash, never recomputed by
    // today's formatter: a later canonical form replays every earlier
    // decision. (The form only matters when a text is compared with a
    // policy file.)
    auto rebuilt =
        [&](const std::string& sha256, const std::string& name,
            const std::string& version) -> std::shared_ptr<const engine::CompiledPolicy> {
      auto& policy = policies[sha256];
      if (policy != nullptr) return policy;
      absl::StatusOr<std::string> source = audit::ReadPolicySource(db, sha256);
      absl::StatusOr<std::shared_ptr<const engine::CompiledPolicy>> compiled =
          source.ok()
              ? engine::CompileStoredSource(*source, sha256, engine::kCanonicalForm)
              : absl::StatusOr<std::shared_ptr<const engine::CompiledPolicy>>(source.status());
      if (!compiled.ok()) {
        // In log order: what was read before is reported first.
        report();
        replaying.Drain();
        context.out << "cannot rebuild " << name << " " << version << " for decision "
                    << r.decision_id << ": " << compiled.status().message() << "\n";
        ++failed;
        policies.erase(sha256);
        return nullptr;
      }
      policy = *compiled;
      return policy;
    };
    std::shared_ptr<const engine::CompiledPolicy> policy =
        rebuilt(r.policy_sha256, r.policy_name, r.policy_version);
    if (policy == nullptr) return true;
    std::shared_ptr<const engine::CompiledPolicy> challenger;
    if (!r.challenger.empty()) {
      absl::StatusOr<engine::PolicyId> id = ChallengerPolicyOf(r);
      if (!id.ok()) {
        report();
        replaying.Drain();
        context.out << "decision " << r.decision_id << " does not replay: " << id.status().message()
                    << "\n";
        ++failed;
        return true;
      }
      challenger = rebuilt(id->sha256, id->name, id->version);
      if (challenger == nullptr) return true;
    }
    batch.push_back({std::move(r), policy, challenger});
    if (batch.size() == kBatch) report();
    return true;
  });
  report();
  replaying.Finish();
  if (!status.ok()) {
    context.err << "creditctl: " << status.message() << "\n";
    context.exit_code = kExitUsage;
    return;
  }
  context.out << replayed << " decisions replayed: " << replayed - differ - failed << " identical, "
              << differ << " differ, " << failed << " could not be re-run\n";
  context.exit_code = differ + failed > 0 ? kExitFailure : kExitOk;
}

void Migrate(const std::string& db, const std::string& grant, int months_ahead, Context& context) {
  if (!audit::IsPostgresLocation(db)) {
    context.err << "creditctl: audit migrate makes the schema of a PostgreSQL log (a libpq "
                   "connection string or postgresql:// URI); a SQLite log is made and migrated "
                   "by the creditd that opens it\n";
    context.exit_code = kExitUsage;
    return;
  }
  audit::MigrateOptions options;
  options.grant_role = grant;
  options.months_ahead = months_ahead;
  absl::StatusOr<audit::MigrateResult> result = audit::MigratePostgres(db, options);
  if (!result.ok()) {
    context.err << "creditctl: " << result.status().message() << "\n";
    context.exit_code = absl::IsInvalidArgument(result.status()) ? kExitUsage : kExitFailure;
    return;
  }
  const std::string shown = audit::LocationForDisplay(db);
  if (result->from_version == 0) {
    context.out << shown << ": created the log's schema, version " << result->to_version << " (log "
                << result->log_id << ")\n";
  } else {
    context.out << shown << ": schema version " << result->to_version << " (log " << result->log_id
                << "), nothing to migrate\n";
  }
  for (const std::string& partition : result->partitions_added) {
    context.out << shown << ": added partition " << partition << "\n";
  }
  for (const std::string& skipped : result->partitions_skipped) {
    context.out << shown << ": warning: partition " << skipped
                << " (run migrate before each month begins)\n";
  }
  if (!grant.empty()) {
    context.out << shown << ": granted " << grant
                << " USAGE on schema creditd and SELECT, INSERT on its tables\n";
  }
}

}  // namespace

void AddAuditCommand(CLI::App& app, Context& context) {
  struct Flags {
    std::string db;
    std::string id;
    std::string checkpoints;
    std::string key;
    std::string grant;
    int months_ahead = 3;
  };
  auto flags = std::make_shared<Flags>();
  auto* audit =
      app.add_subcommand("audit", "Verify, show, replay, list and export the decision log");
  audit->require_subcommand(1);
  audit->footer(
      "Examples:\n"
      "  creditctl audit verify creditd-audit.db\n"
      "  creditctl audit verify creditd-audit.db --checkpoints checkpoints/ --key checkpoint.pub\n"
      "  creditctl audit show creditd-audit.db 3f2a...-...\n"
      "  creditctl audit replay creditd-audit.db");
  auto* verify =
      audit->add_subcommand("verify", "Check the hash chain; report the first broken record");
  verify
      ->add_option("db", flags->db,
                   "the audit log: a SQLite file, or a PostgreSQL connection string (every "
                   "replica's chain is checked)")
      ->required();
  verify->add_option("--checkpoints", flags->checkpoints,
                     "a directory of signed checkpoints (creditd --checkpoint_dir): report "
                     "records cut off, rewritten or forked since they were signed");
  verify->add_option("--key", flags->key,
                     "the public key (PEM, Ed25519) that signed the checkpoints");
  verify->callback(
      [&context, flags] { Verify(flags->db, flags->checkpoints, flags->key, context); });
  auto* migrate = audit->add_subcommand(
      "migrate", "Create or migrate a PostgreSQL log's schema (run as the owner role)");
  migrate->add_option("db", flags->db, "the PostgreSQL log: a libpq connection string or URI")
      ->required();
  migrate->add_option("--grant", flags->grant,
                      "the serving role creditd connects as: gets USAGE on the schema and "
                      "SELECT, INSERT on its tables, nothing more");
  migrate
      ->add_option("--months-ahead", flags->months_ahead,
                   "month partitions to add after the current one (run monthly)")
      ->check(CLI::Range(0, 120));
  migrate->footer(
      "Example:\n"
      "  creditctl audit migrate 'host=db.example dbname=creditd user=creditd_owner' "
      "--grant creditd\nThe password comes from libpq's password file (~/.pgpass, PGPASSFILE "
      "or passfile=), never the command line. See docs/scaling.md.");
  migrate->callback(
      [&context, flags] { Migrate(flags->db, flags->grant, flags->months_ahead, context); });
  auto* show = audit->add_subcommand("show", "Print one logged decision");
  show->add_option("db", flags->db, "the audit log")->required();
  show->add_option("id", flags->id, "the decision id")->required();
  show->callback([&context, flags] { Show(flags->db, flags->id, context); });
  auto* replay = audit->add_subcommand(
      "replay", "Re-evaluate every logged decision against its own stored policy source");
  replay->add_option("db", flags->db, "the audit log")->required();
  replay->callback([&context, flags] { Replay(flags->db, context); });
  AddAuditReviewCommands(*audit, context);
  AddAuditApprovalsCommand(*audit, context);
}

}  // namespace creditd::cli
