#include "audit/log_sink.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace creditd::audit {

absl::StatusOr<std::unique_ptr<LogSink>> LogSink::Open(std::unique_ptr<LogStore> store,
                                                       const QueueOptions& options) {
  auto sink = std::unique_ptr<LogSink>(new LogSink(std::move(store)));
  if (absl::Status status = sink->Start(options); !status.ok()) return status;
  return sink;
}

absl::Status LogSink::Start(const QueueOptions& options) {
  absl::StatusOr<std::vector<StoredPolicy>> bound = store_->ReadBindings();
  if (!bound.ok()) return bound.status();
  for (StoredPolicy& p : *bound) {
    auto key = std::make_pair(p.name, p.version);
    bound_.emplace(std::move(key), std::move(p));
  }
  QueueOptions queue_options = options;
  queue_options.on_policies_committed = [this](const std::vector<PolicySource>& policies) {
    NoteBound(policies);
  };
  queue_options.between_commits = [store = store_.get()] { return store->StepBetweenCommits(); };
  queue_ = std::make_unique<CommitQueue>(*store_, std::move(queue_options));
  return queue_->Start();
}

LogSink::~LogSink() {
  queue_.reset();
  store_->Abandon();
}

absl::Status LogSink::StorePolicy(PolicySource policy) {
  const auto key = std::make_pair(policy.name, policy.version);
  {
    // A version names one text forever: checked against what is bound and
    // what waits to be.
    std::lock_guard<std::mutex> lock(bindings_mutex_);
    std::string bound_to;
    if (auto it = bound_.find(key); it != bound_.end()) {
      if (it->second.sha256 == policy.sha256) return absl::OkStatus();
      bound_to = it->second.sha256;
    } else if (auto waiting = waiting_.find(key);
               waiting != waiting_.end() && waiting->second != policy.sha256) {
      bound_to = waiting->second;
    }
    if (!bound_to.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "audit log: version ", policy.version, " of `", policy.name, "` is bound to sha256 ",
          bound_to, "; a version names one text forever, not also ", policy.sha256));
    }
    waiting_[key] = policy.sha256;
  }
  policy.first_served = LogTimeNow();
  const std::string sha256 = policy.sha256;
  absl::Status status = queue_->StorePolicy(std::move(policy));
  if (absl::IsFailedPrecondition(status)) {
    // Refused for good (another writer of a shared log bound the version
    // first): it waits no more, so the text that is bound can be stored.
    std::lock_guard<std::mutex> lock(bindings_mutex_);
    if (auto it = waiting_.find(key); it != waiting_.end() && it->second == sha256) {
      waiting_.erase(it);
    }
  }
  return status;
}

absl::StatusOr<std::vector<StoredPolicy>> LogSink::StoredVersions() {
  std::lock_guard<std::mutex> lock(bindings_mutex_);
  std::vector<StoredPolicy> stored;
  stored.reserve(bound_.size());
  for (const auto& [key, policy] : bound_) stored.push_back(policy);
  return stored;
}

void LogSink::NoteBound(const std::vector<PolicySource>& policies) {
  std::lock_guard<std::mutex> lock(bindings_mutex_);
  for (const PolicySource& p : policies) {
    auto key = std::make_pair(p.name, p.version);
    waiting_.erase(key);
    bound_.emplace(std::move(key), StoredPolicy{p.name, p.version, p.sha256, p.source,
                                                p.canonical_form, p.first_served});
  }
}

absl::Status LogSink::Append(AuditRecord record) { return queue_->Append(std::move(record)); }

void LogSink::AppendAsync(AuditRecord record, std::function<void(absl::Status)> done) {
  queue_->AppendAsync(std::move(record), std::move(done));
}

absl::Status LogSink::Flush() { return queue_->Flush(); }

absl::Status LogSink::Close(absl::Duration timeout) { return queue_->Close(timeout); }

void LogSink::SetFaultForTesting(std::function<absl::Status()> fault) {
  store_->SetFaultForTesting(std::move(fault));
}

}  // namespace creditd::audit
