#include "server/services.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/decide.h"
#include "spdlog/spdlog.h"

namespace creditd::server {

namespace v1 = credit::v1;

namespace {

// Messages of one call live on one protobuf arena that starts in a block of
// this size inside the holder: parsing the facts and building the answer
// allocate by bumping a pointer, and everything is freed at once.
constexpr size_t kArenaBlock = 8192;

google::protobuf::ArenaOptions ArenaOptionsFor(char* block, size_t size) {
  google::protobuf::ArenaOptions options;
  options.initial_block = block;
  options.initial_block_size = size;
  return options;
}

// Every audit failure is logged once when it starts and once when it ends.
void NoteAudit(const absl::Status& status) {
  static std::atomic<bool> failing{false};
  if (!status.ok() && !failing.exchange(true)) {
    spdlog::error("audit log cannot be written, refusing decisions: {}", status.ToString());
  } else if (status.ok() && failing.exchange(false)) {
    spdlog::info("audit log writable again, serving decisions");
  }
}

const char kUnavailable[] = "the decision log cannot be written; no decision was made";
const char kDraining[] = "creditd is shutting down; no decision was made, retry elsewhere";

// Makes a stream item's answer the error `status` instead of a decision.
v1::Error* AnswerWithError(const grpc::Status& status, v1::StreamResponse* response) {
  response->clear_decision();
  v1::Error* error = response->mutable_error();
  error->set_code(status.error_code());
  error->set_message(status.error_message());
  return error;
}

}  // namespace

// Evaluate's request and response on one arena per call.
class DecisionServiceImpl::ArenaAllocator final
    : public grpc::MessageAllocator<v1::EvaluateRequest, v1::EvaluateResponse> {
 public:
  grpc::MessageHolder<v1::EvaluateRequest, v1::EvaluateResponse>* AllocateMessages() override {
    return new Holder;
  }

 private:
  class Holder final : public grpc::MessageHolder<v1::EvaluateRequest, v1::EvaluateResponse> {
   public:
    Holder() : arena_(ArenaOptionsFor(block_, sizeof block_)) {
      set_request(google::protobuf::Arena::CreateMessage<v1::EvaluateRequest>(&arena_));
      set_response(google::protobuf::Arena::CreateMessage<v1::EvaluateResponse>(&arena_));
    }
    void Release() override { delete this; }

   private:
    alignas(16) char block_[kArenaBlock];
    google::protobuf::Arena arena_;
  };
};

DecisionServiceImpl::DecisionServiceImpl(ServingState& state)
    : state_(state),
      allocator_(std::make_unique<ArenaAllocator>()),
      deadlines_(state.default_deadline) {
  SetMessageAllocatorFor_Evaluate(allocator_.get());
}

DecisionServiceImpl::~DecisionServiceImpl() = default;

engine::BundleLoad ReloadBundle(ServingState& state) {
  static std::mutex reload_mutex;
  std::lock_guard<std::mutex> lock(reload_mutex);
  absl::StatusOr<engine::BundleLoad> load = engine::LoadBundle(state.policy_dir, state.reader);
  if (!load.ok()) {
    engine::BundleLoad failed;
    failed.errors = 1;
    failed.report = std::string(load.status().message()) + "\n";
    spdlog::error("policy load rejected: {}", load.status().ToString());
    return failed;
  }
  if (load->bundle == nullptr) {
    spdlog::error("policy load rejected, {} errors; still serving the previous bundle:\n{}",
                  load->errors, load->report);
    return *load;
  }
  // Sources first: the log holds a policy's text before any decision made
  // with it. While the log cannot be written they stay queued in it and go in
  // with the first record that is.
  for (const auto& [name, policy] : load->bundle->policies) {
    if (state.audit == nullptr) break;
    if (absl::Status status = state.audit->StorePolicy(*policy); !status.ok()) {
      spdlog::error("the source of {} {} is not in the audit log yet: {}", name,
                    policy->id().version, status.ToString());
    }
  }
  if (absl::Status status = state.registry.Install(load->bundle); !status.ok()) {
    spdlog::error("policy load rejected: {}", status.ToString());
    load->report += std::string(status.message()) + "\n";
    load->errors = 1;
    load->bundle = nullptr;
    return *load;
  }
  for (const auto& [name, policy] : load->bundle->policies) {
    spdlog::info("serving {} {} (sha256 {})", name, policy->id().version, policy->id().sha256);
  }
  return *load;
}

grpc::ServerUnaryReactor* DecisionServiceImpl::Evaluate(grpc::CallbackServerContext* context,
                                                        const v1::EvaluateRequest* request,
                                                        v1::EvaluateResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (state_.draining) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, kDraining));
    return reactor;
  }
  Decided decided = Decide(state_.registry, *request, response->mutable_decision());
  if (!decided.status.ok()) {
    if (decided.problems.problems_size() > 0) {
      context->AddTrailingMetadata("credit-fact-problems-bin",
                                   decided.problems.SerializeAsString());
    }
    reactor->Finish(decided.status);
    return reactor;
  }
  // Answered once: by the log's commit, or by the default deadline when the
  // caller set none and the log stalls (the decision may still be logged
  // then; it is never given out unlogged).
  auto answer = std::make_shared<PendingAnswer>();
  ++state_.in_flight;
  // Run by whoever claimed the answer; an error answer carries no decision.
  auto give = [this, reactor, response](const grpc::Status& status) {
    if (!status.ok()) response->Clear();
    reactor->Finish(status);
    --state_.in_flight;
  };
  if (context->deadline() == std::chrono::system_clock::time_point::max()) {
    deadlines_.Track(answer, [give] {
      give(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                        "no answer within the server's default deadline; set a deadline on "
                        "the call to choose another"));
    });
  }
  state_.audit->AppendAsync(std::move(decided.record), [answer, give](absl::Status status) {
    NoteAudit(status);
    if (!answer->Claim()) return;
    give(status.ok() ? grpc::Status::OK
                     : grpc::Status(grpc::StatusCode::UNAVAILABLE, kUnavailable));
  });
  return reactor;
}

namespace {

// Answers a stream's requests in order while working ahead: it keeps
// reading (up to kWindow answers waiting, a few MiB at most), decides each
// request at once, and lets the audit log commit many records per group;
// answers are written in request order as their records are committed.
class StreamReactor final
    : public grpc::ServerBidiReactor<v1::EvaluateRequest, v1::StreamResponse> {
 public:
  explicit StreamReactor(ServingState& state) : state_(state) {
    ++state_.in_flight;
    std::lock_guard<std::mutex> lock(mutex_);
    if (state_.draining) {
      finished_ = true;
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, kDraining));
      return;
    }
    ReadNext();
  }

  void OnReadDone(bool ok) override {
    std::unique_lock<std::mutex> lock(mutex_);
    reading_ = false;
    if (!ok) {
      reads_done_ = true;
      MaybeFinish();
      return;
    }
    if (broken_ || finished_) return;  // nobody will read the answer
    // The request takes its place in the answer order, and the next read
    // starts while this one is decided.
    std::shared_ptr<Item> item = std::move(next_);
    pending_.push_back(item);
    ReadNext();
    lock.unlock();
    v1::StreamResponse& response = *item->response;
    response.set_request_id(item->request->request_id());
    Decided decided = Decide(state_.registry, *item->request, response.mutable_decision());
    if (!decided.status.ok()) {
      AnswerWithError(decided.status, &response)
          ->mutable_problems()
          ->CopyFrom(decided.problems.problems());
      lock.lock();
      item->ready = true;
      WriteNext();
      return;
    }
    state_.audit->AppendAsync(std::move(decided.record), [this, item](absl::Status status) {
      NoteAudit(status);
      std::lock_guard<std::mutex> guard(mutex_);
      if (!status.ok()) {
        AnswerWithError(grpc::Status(grpc::StatusCode::UNAVAILABLE, kUnavailable), item->response);
      }
      item->ready = true;
      WriteNext();
    });
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mutex_);
    writing_ = false;
    pending_.pop_front();
    if (!ok) {
      broken_ = true;
      MaybeFinish();
      return;
    }
    WriteNext();
    ReadNext();
    MaybeFinish();
  }

  void OnCancel() override {
    std::lock_guard<std::mutex> lock(mutex_);
    broken_ = true;
    MaybeFinish();
  }

  void OnDone() override {
    // Records still being committed refer to this reactor: wait for them.
    std::unique_lock<std::mutex> lock(mutex_);
    settled_.wait(lock, [&] {
      for (const auto& item : pending_) {
        if (!item->ready) return false;
      }
      return true;
    });
    lock.unlock();
    ServingState& state = state_;
    delete this;
    --state.in_flight;
  }

 private:
  static constexpr size_t kWindow = 1024;

  // One request and its answer, on one arena, freed at once when the answer
  // has been written. The item is made on one thread and filled on another,
  // and an arena's inline first block serves only the thread that made it:
  // its first block is allocated where it is first used instead.
  static google::protobuf::ArenaOptions ItemArena() {
    google::protobuf::ArenaOptions options;
    options.start_block_size = kArenaBlock / 2;
    options.max_block_size = 8 * kArenaBlock;
    return options;
  }
  struct Item {
    Item()
        : arena(ItemArena()),
          request(google::protobuf::Arena::CreateMessage<v1::EvaluateRequest>(&arena)),
          response(google::protobuf::Arena::CreateMessage<v1::StreamResponse>(&arena)) {}
    google::protobuf::Arena arena;
    v1::EvaluateRequest* request;
    v1::StreamResponse* response;
    bool ready = false;
  };

  // With mutex_ held.
  void WriteNext() {
    settled_.notify_all();
    if (writing_ || broken_ || pending_.empty() || !pending_.front()->ready) return;
    writing_ = true;
    // When the next answer is ready too, let gRPC hold this one and send
    // them together; the last of a run goes out at once.
    grpc::WriteOptions options;
    if (pending_.size() > 1 && pending_[1]->ready) options.set_buffer_hint();
    StartWrite(pending_.front()->response, options);
  }
  void ReadNext() {
    if (reading_ || reads_done_ || broken_ || finished_ || pending_.size() >= kWindow) return;
    reading_ = true;
    next_ = std::make_shared<Item>();
    StartRead(next_->request);
  }
  // A broken or cancelled stream finishes at once: a read still outstanding
  // may never complete until it does. (Its buffer, and the answers being
  // written, live until OnDone.) A healthy one finishes when every request
  // has been answered.
  void MaybeFinish() {
    if (finished_) return;
    if (broken_) {
      finished_ = true;
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the stream was cancelled or broke"));
      return;
    }
    if (writing_ || reading_ || !reads_done_ || !pending_.empty()) return;
    finished_ = true;
    Finish(grpc::Status::OK);
  }

  ServingState& state_;
  std::shared_ptr<Item> next_;  // the item being read into
  std::mutex mutex_;
  std::condition_variable settled_;
  std::deque<std::shared_ptr<Item>> pending_;
  bool reading_ = false;
  bool writing_ = false;
  bool reads_done_ = false;
  bool broken_ = false;
  bool finished_ = false;
};

}  // namespace

grpc::ServerBidiReactor<v1::EvaluateRequest, v1::StreamResponse>*
DecisionServiceImpl::EvaluateStream(grpc::CallbackServerContext* /*context*/) {
  return new StreamReactor(state_);
}

grpc::ServerUnaryReactor* PolicyServiceImpl::ListPolicies(grpc::CallbackServerContext* context,
                                                          const v1::ListPoliciesRequest*,
                                                          v1::ListPoliciesResponse* response) {
  std::shared_ptr<const engine::Bundle> bundle = state_.registry.Current();
  for (const std::shared_ptr<const engine::CompiledPolicy>& policy : state_.registry.History()) {
    v1::PolicyInfo* info = response->add_policies();
    info->mutable_id()->set_name(policy->id().name);
    info->mutable_id()->set_version(policy->id().version);
    info->mutable_id()->set_sha256(policy->id().sha256);
    bool current = false;
    if (bundle != nullptr) {
      auto it = bundle->policies.find(policy->name());
      current = it != bundle->policies.end() && it->second == policy;
    }
    info->set_current(current);
    info->set_effective(policy->checked().effective);
    info->set_owner(policy->checked().owner);
    info->set_description(policy->checked().description);
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* PolicyServiceImpl::GetPolicySource(
    grpc::CallbackServerContext* context, const v1::GetPolicySourceRequest* request,
    v1::GetPolicySourceResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::shared_ptr<const engine::CompiledPolicy> policy;
  if (request->version().empty()) {
    std::shared_ptr<const engine::Bundle> bundle = state_.registry.Current();
    if (bundle != nullptr) {
      auto it = bundle->policies.find(request->name());
      if (it != bundle->policies.end()) policy = it->second;
    }
  } else {
    policy = state_.registry.Find(request->name(), request->version());
  }
  if (policy == nullptr) {
    reactor->Finish(grpc::Status(
        grpc::StatusCode::NOT_FOUND,
        absl::StrCat("no decision `", request->name(), "`",
                     request->version().empty() ? "" : " version ", request->version())));
    return reactor;
  }
  response->mutable_id()->set_name(policy->id().name);
  response->mutable_id()->set_version(policy->id().version);
  response->mutable_id()->set_sha256(policy->id().sha256);
  response->set_source(policy->canonical_source());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* PolicyServiceImpl::ValidatePolicy(
    grpc::CallbackServerContext* context, const v1::ValidatePolicyRequest* request,
    v1::ValidatePolicyResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const std::string name = request->path().empty() ? "candidate.credit" : request->path();
  if (name.find("..") != std::string::npos || (!name.empty() && name[0] == '/')) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                 "path must be relative to the policy directory"));
    return reactor;
  }
  const std::string path = absl::StrCat(state_.policy_dir, "/", name);
  absl::StatusOr<engine::BundleLoad> load =
      engine::LoadCandidate(path, request->source(), state_.reader);
  if (!load.ok()) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(load.status().message())));
    return reactor;
  }
  response->set_valid(load->errors == 0);
  response->set_report(load->report);
  for (const dsl::Diagnostic& d : load->diagnostics) {
    v1::Diagnostic* out = response->add_diagnostics();
    out->set_severity(d.severity == dsl::Severity::kError ? "error" : "warning");
    out->set_code(d.code);
    out->set_line(d.span.line);
    out->set_column(d.span.column);
    out->set_message(d.message);
    out->set_help(d.help);
  }
  if (load->bundle != nullptr) {
    const auto& policy = load->bundle->policies.begin()->second;
    response->mutable_id()->set_name(policy->id().name);
    response->mutable_id()->set_version(policy->id().version);
    response->mutable_id()->set_sha256(policy->id().sha256);
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* PolicyServiceImpl::Reload(grpc::CallbackServerContext* context,
                                                    const v1::ReloadRequest*,
                                                    v1::ReloadResponse* response) {
  engine::BundleLoad load = ReloadBundle(state_);
  response->set_accepted(load.bundle != nullptr);
  response->set_report(load.report);
  std::shared_ptr<const engine::Bundle> bundle = state_.registry.Current();
  if (bundle != nullptr) {
    for (const auto& [name, policy] : bundle->policies) {
      v1::PolicyId* id = response->add_policies();
      id->set_name(name);
      id->set_version(policy->id().version);
      id->set_sha256(policy->id().sha256);
    }
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace creditd::server
