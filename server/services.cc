#include "server/services.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <mutex>
#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "api/describe.h"
#include "engine/decision_json.h"
#include "engine/evaluator.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "grpcpp/support/proto_buffer_writer.h"
#include "server/decide.h"
#include "spdlog/spdlog.h"

namespace creditd::server {

namespace v1 = credit::v1;

namespace {

constexpr char kEvaluate[] = "/credit.v1.DecisionService/Evaluate";
constexpr char kEvaluateStream[] = "/credit.v1.DecisionService/EvaluateStream";
constexpr char kListPolicies[] = "/credit.v1.PolicyService/ListPolicies";
constexpr char kGetPolicySource[] = "/credit.v1.PolicyService/GetPolicySource";
constexpr char kDescribeDecision[] = "/credit.v1.PolicyService/DescribeDecision";
constexpr char kValidatePolicy[] = "/credit.v1.PolicyService/ValidatePolicy";
constexpr char kReload[] = "/credit.v1.PolicyService/Reload";

// Messages of one Evaluate call live on one protobuf arena that starts in a
// block of this size inside the call: parsing the facts and building the
// answer allocate by bumping a pointer, and everything is freed at once.
constexpr size_t kArenaBlock = 8192;

// Requests to the policy service other than ValidatePolicy carry a name and
// a version at most.
constexpr size_t kSmallRequestBytes = 4096;

const char kUnavailable[] = "the decision log cannot be written; no decision was made";
const char kDraining[] = "creditd is shutting down; no decision was made, retry elsewhere";

// Parses `bytes` into `message`; false when they are not a valid message
// (bad wire format, or a string field that is not UTF-8).
bool ParseMessage(const grpc::ByteBuffer& bytes, google::protobuf::Message* message) {
  grpc::ProtoBufferReader reader(const_cast<grpc::ByteBuffer*>(&bytes));
  return message->ParseFromZeroCopyStream(&reader);
}

grpc::Status Unparseable(const char* type) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                      absl::StrCat("the request is not a valid ", type,
                                   " (protobuf wire format; strings must be UTF-8)"));
}

grpc::Status TooLarge(size_t size, size_t limit) {
  return grpc::Status(
      grpc::StatusCode::RESOURCE_EXHAUSTED,
      absl::StrCat("the request is ", size, " bytes; this server accepts at most ", limit));
}

// Serializes `message` into `out`; false only when protobuf cannot (a
// message over 2 GiB).
bool SerializeMessage(const google::protobuf::Message& message, grpc::ByteBuffer* out) {
  bool own = false;
  return grpc::SerializationTraits<google::protobuf::Message>::Serialize(message, out, &own).ok();
}

google::protobuf::ArenaOptions ArenaIn(char* block, size_t size) {
  google::protobuf::ArenaOptions options;
  options.initial_block = block;
  options.initial_block_size = size;
  options.max_block_size = 8 * kArenaBlock;
  return options;
}

// One unary call: admission (draining, identity and role, calls per caller,
// size), then the request parsed onto the call's arena and the response
// built there, serialized into gRPC's buffer when the call is finished. The
// arena starts in a block of kInline bytes inside the call. The call deletes
// itself when finished; it may be finished on any thread.
template <typename Request, typename Response, size_t kInline = 1024>
class UnaryCall {
 public:
  UnaryCall(ServingState& state, Rpc rpc, grpc::CallbackServerContext* context,
            grpc::ByteBuffer* out)
      : state_(state),
        rpc_(rpc),
        context_(context),
        reactor_(context->DefaultReactor()),
        out_(out),
        arena_(ArenaIn(block_, sizeof block_)),
        request_(google::protobuf::Arena::CreateMessage<Request>(&arena_)),
        response_(google::protobuf::Arena::CreateMessage<Response>(&arena_)) {
    ++state_.in_flight;
    if (state_.metrics != nullptr) {
      started_ = ServerMetrics::Clock::now();
      state_.metrics->Started(rpc_);
    }
  }

  // Admits and parses the call; on refusal it is finished (and deleted) and
  // false is returned. Draining: UNAVAILABLE; no identity or role:
  // UNAUTHENTICATED or PERMISSION_DENIED; too many calls for this caller or
  // too large: RESOURCE_EXHAUSTED; not parseable: INVALID_ARGUMENT.
  bool Begin(const char* method, const grpc::ByteBuffer& bytes, size_t max_bytes) {
    if (state_.draining) return Refuse(grpc::Status(grpc::StatusCode::UNAVAILABLE, kDraining));
    if (grpc::Status status = state_.authorizer.Check(*context_, method, &identity_, &via_);
        !status.ok()) {
      return Refuse(status);
    }
    if (!state_.calls.Enter(identity_)) {
      return Refuse(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                 absl::StrCat("`", engine::EchoText(identity_, 128),
                                              "` already has ", state_.calls.limit(),
                                              " calls in flight; this server allows at most that "
                                              "many per caller")));
    }
    counted_ = true;
    if (bytes.Length() > max_bytes) return Refuse(TooLarge(bytes.Length(), max_bytes));
    if (!ParseMessage(bytes, request_)) {
      return Refuse(Unparseable(Request::descriptor()->full_name().c_str()));
    }
    return true;
  }

  // Answers with `status` (and, when OK, the bytes SetAnswer gave or else
  // the response), then deletes the call.
  void Finish(const grpc::Status& status) {
    grpc::Status answer = status;
    if (answer.ok() && has_answer_) {
      out_->Swap(&answer_);
    } else if (answer.ok() && !SerializeMessage(*response_, out_)) {
      answer = grpc::Status(grpc::StatusCode::INTERNAL, "the answer could not be serialized");
    }
    if (state_.metrics != nullptr) state_.metrics->Handled(rpc_, answer.error_code(), started_);
    // The call no longer counts for its caller once it is answered: a
    // caller that waits for each answer never meets its own limit.
    if (counted_) state_.calls.Leave(identity_);
    counted_ = false;
    reactor_->Finish(answer);
    delete this;
  }

  // The response already serialized: an OK answer sends these bytes.
  void SetAnswer(grpc::ByteBuffer bytes) {
    answer_.Swap(&bytes);
    has_answer_ = true;
  }

  grpc::ServerUnaryReactor* reactor() const { return reactor_; }
  grpc::CallbackServerContext* context() const { return context_; }
  Request& request() { return *request_; }
  Response* response() { return response_; }
  const std::string& identity() const { return identity_; }
  const std::string& via() const { return via_; }

 private:
  ~UnaryCall() {
    if (counted_) state_.calls.Leave(identity_);
    --state_.in_flight;
  }
  bool Refuse(const grpc::Status& status) {
    Finish(status);
    return false;
  }

  ServingState& state_;
  const Rpc rpc_;
  ServerMetrics::Clock::time_point started_;  // with metrics only
  grpc::CallbackServerContext* const context_;
  grpc::ServerUnaryReactor* const reactor_;
  grpc::ByteBuffer* const out_;
  std::string identity_;
  std::string via_;  // the balancer the call came through, if any
  bool counted_ = false;
  grpc::ByteBuffer answer_;
  bool has_answer_ = false;
  alignas(16) char block_[kInline];  // before the arena that uses it
  google::protobuf::Arena arena_;
  Request* const request_;
  Response* const response_;
};

using EvaluateCall = UnaryCall<v1::EvaluateRequest, v1::EvaluateResponse, kArenaBlock>;

// The answer for a refused stream item or call, as a stream item's error.
v1::Error* AnswerWithError(const grpc::Status& status, v1::StreamResponse* response) {
  response->clear_decision();
  v1::Error* error = response->mutable_error();
  error->set_code(status.error_code());
  error->set_message(status.error_message());
  return error;
}

void FillId(const engine::PolicyId& id, v1::PolicyId* out) {
  out->set_name(id.name);
  out->set_version(id.version);
  out->set_sha256(id.sha256);
}

}  // namespace

DecisionServiceImpl::DecisionServiceImpl(ServingState& state)
    : state_(state), deadlines_(state.default_deadline) {}

DecisionServiceImpl::~DecisionServiceImpl() = default;

absl::Status RestoreVersions(ServingState& state) {
  if (state.audit == nullptr) return absl::OkStatus();
  absl::StatusOr<std::vector<audit::StoredPolicy>> stored = state.audit->StoredVersions();
  if (!stored.ok()) return stored.status();
  std::vector<engine::StoredVersion> versions;
  versions.reserve(stored->size());
  for (audit::StoredPolicy& p : *stored) {
    versions.push_back({std::move(p.name), std::move(p.version), std::move(p.sha256),
                        std::move(p.source), p.canonical_form, std::move(p.first_served)});
  }
  return state.registry.Restore(versions);
}

namespace {

std::string Rfc3339(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", time, absl::UTCTimeZone());
}

// Stores the sources of the versions `load` adds (binding them in the log)
// before they serve: the log holds a policy's text before any decision made
// with it. While the log cannot be written they stay queued in it and go in
// with the first record that is. A version the log has bound to other text
// refuses the load. Returns whether anything new was bound.
bool StoreSources(ServingState& state, engine::BundleLoad& load) {
  bool stored = false;
  if (state.audit == nullptr) return stored;
  for (const std::shared_ptr<const engine::CompiledPolicy>& policy :
       state.registry.Unbound(*load.bundle)) {
    absl::Status status = state.audit->StorePolicy(SourceToStore(*policy));
    if (status.ok()) {
      stored = true;
    } else if (absl::IsFailedPrecondition(status)) {
      // The registry holds every binding of the log: only a log changed
      // behind the server's back gets here.
      absl::StrAppend(&load.report, "error: ", status.message(), "\n");
      ++load.errors;
      load.bundle = nullptr;
      return stored;
    } else {
      spdlog::error("the source of {} {} is not in the audit log yet: {}", policy->name(),
                    policy->id().version, status.ToString());
    }
  }
  return stored;
}

// The versions `bundle` serves, as a reload record lists them: each
// PolicyId, with the approvals it was served by when approval is required.
std::string PoliciesJson(const ServingState& state, const engine::Bundle* bundle) {
  std::string policies;
  if (bundle != nullptr) {
    for (const auto& [name, decision] : bundle->decisions) {
      for (const engine::BundleVersion& v : decision.versions) {
        absl::StrAppend(&policies, policies.empty() ? "" : ", ", "{\"name\": ");
        engine::AppendJsonQuoted(name, &policies);
        absl::StrAppend(&policies, ", \"version\": ");
        engine::AppendJsonQuoted(v.policy->id().version, &policies);
        absl::StrAppend(&policies, ", \"sha256\": ");
        engine::AppendJsonQuoted(v.policy->id().sha256, &policies);
        if (state.required_approvals > 0) {
          // Who approved it, with the signature: the log alone lets a
          // reviewer verify each approval against the approvers' keys.
          policies += ", \"approvals\": [";
          for (size_t i = 0; i < v.approvals.size(); ++i) {
            const engine::SignedApproval& a = v.approvals[i];
            absl::StrAppend(&policies, i == 0 ? "" : ", ", "{\"approver\": ");
            engine::AppendJsonQuoted(a.approval.approver, &policies);
            policies += ", \"time\": ";
            engine::AppendJsonQuoted(a.approval.time, &policies);
            policies += ", \"comment\": ";
            engine::AppendJsonQuoted(a.approval.comment, &policies);
            policies += ", \"key_id\": ";
            engine::AppendJsonQuoted(a.key_id, &policies);
            // The sha256 it signed: the loaded text's, which differs from
            // the version's recorded one when that was stored in an
            // earlier canonical form.
            policies += ", \"sha256\": ";
            engine::AppendJsonQuoted(a.approval.id.sha256, &policies);
            policies += ", \"signature\": ";
            engine::AppendJsonQuoted(absl::Base64Escape(a.signature), &policies);
            policies += "}";
          }
          policies += "]";
        }
        policies += "}";
      }
    }
  }
  return policies;
}

// Loads the challenger's directory under the same rules as the champion's
// (approvals included), holds its versions to the log's bindings, stores
// their texts (a version that decided, even alongside, names its text
// forever), and makes it the challenger. On any error the challenger
// serving goes on, and the errors are added to `report`.
engine::BundleLoad ReloadChallenger(ServingState& state, const engine::BundleOptions& options,
                                    std::string& report) {
  engine::BundleLoad result;
  absl::StatusOr<engine::BundleLoad> load = engine::LoadBundle(state.challenger->reader(), options);
  if (!load.ok()) {
    result.errors = 1;
    result.report = std::string(load.status().message()) + "\n";
  } else {
    result = *std::move(load);
    state.registry.Bind(result);
    const bool stored = result.bundle != nullptr && StoreSources(state, result);
    if (stored) {
      if (absl::Status status = RestoreVersions(state); !status.ok()) {
        spdlog::error("the versions the audit log binds do not read back: {}", status.ToString());
      }
    }
  }
  if (result.bundle == nullptr) {
    spdlog::error(
        "challenger load rejected, {} errors{}:\n{}", result.errors,
        state.challenger->Current() != nullptr ? "; the challenger goes on as it was" : "",
        result.report);
    absl::StrAppend(&report, "challenger: rejected, ", result.errors, " errors",
                    state.challenger->Current() != nullptr ? " (it goes on as it was)" : "", ":\n",
                    result.report);
    return result;
  }
  state.challenger->Install(result.bundle);
  for (const auto& [name, decision] : result.bundle->decisions) {
    const engine::BundleVersion* in_force = decision.InForce(state.registry.Now());
    if (in_force != nullptr) {
      spdlog::info("challenger {} {} (sha256 {}) for {:.2f}% of customers", name,
                   in_force->policy->id().version, in_force->policy->id().sha256,
                   state.challenger->share() / 100.0);
    }
  }
  return result;
}

}  // namespace

engine::BundleLoad ReloadBundle(ServingState& state, const std::string& caller,
                                const std::string& via) {
  static std::mutex reload_mutex;
  std::lock_guard<std::mutex> lock(reload_mutex);
  engine::BundleLoad result;
  engine::BundleOptions options;
  options.zone = state.registry.zone();
  options.required_approvals = state.required_approvals;
  options.approvers_file = state.approvers_file;
  absl::StatusOr<engine::BundleLoad> load = engine::LoadBundle(state.reader, options);
  if (!load.ok()) {
    result.errors = 1;
    result.report = std::string(load.status().message()) + "\n";
    spdlog::error("policy load rejected: {}", load.status().ToString());
  } else {
    result = *std::move(load);
    // A version served before names its text forever.
    state.registry.Bind(result);
    const bool stored = result.bundle != nullptr && StoreSources(state, result);
    if (result.bundle != nullptr) {
      if (absl::Status status = state.registry.Install(result.bundle); !status.ok()) {
        result.report += std::string(status.message()) + "\n";
        result.errors = 1;
        result.bundle = nullptr;
      }
    }
    if (result.bundle == nullptr) {
      spdlog::error(
          "policy load rejected, {} errors{}:\n{}", result.errors,
          state.registry.Current() != nullptr ? "; still serving the previous policies" : "",
          result.report);
    } else {
      const absl::Time now = state.registry.Now();
      for (const auto& [name, decision] : result.bundle->decisions) {
        const engine::BundleVersion* in_force = decision.InForce(now);
        for (const engine::BundleVersion& v : decision.versions) {
          const char* state_name = &v == in_force ? "in force" : "superseded";
          spdlog::info("serving {} {} (sha256 {}, {}{})", name, v.policy->id().version,
                       v.policy->id().sha256, v.effective > now ? "scheduled from " : state_name,
                       v.effective > now ? Rfc3339(v.effective) : "");
        }
      }
    }
    if (stored) {
      // When each new version was first served, as the log has it.
      if (absl::Status status = RestoreVersions(state); !status.ok()) {
        spdlog::error("the versions the audit log binds do not read back: {}", status.ToString());
      }
    }
  }
  // The challenger loads under the same rules; its errors never stop the
  // champion's load, and are reported with it.
  engine::BundleLoad challenger;
  if (state.challenger != nullptr) challenger = ReloadChallenger(state, options, result.report);
  // Who reloaded, and what came of it, goes in the log's chain.
  if (state.audit != nullptr) {
    audit::AuditRecord record;
    record.kind = audit::kReloadRecord;
    record.caller = caller;
    record.via = via;
    const int64_t now = absl::ToUnixMillis(absl::Now());
    record.decision_id = NewDecisionId(now);
    record.time = FormatTime(now);
    record.facts_json = "{}";
    record.result_json =
        absl::StrCat("{\"accepted\": ", result.bundle != nullptr ? "true" : "false",
                     ", \"errors\": ", result.errors, ", \"policies\": [",
                     PoliciesJson(state, result.bundle.get()), "]");
    if (state.challenger != nullptr) {
      absl::StrAppend(&record.result_json, ", \"challenger\": {\"accepted\": ",
                      challenger.bundle != nullptr ? "true" : "false",
                      ", \"errors\": ", challenger.errors, ", \"policies\": [",
                      PoliciesJson(state, challenger.bundle.get()), "]}");
    }
    record.result_json += "}";
    // Durably, before the reload is answered (this never runs on a gRPC
    // thread).
    if (absl::Status status = state.audit->Append(std::move(record)); !status.ok()) {
      spdlog::error("the reload by `{}` could not be recorded in the audit log: {}", caller,
                    status.ToString());
    }
  }
  if (state.metrics != nullptr) state.metrics->Reloaded(result.bundle != nullptr);
  return result;
}

grpc::ServerUnaryReactor* DecisionServiceImpl::Evaluate(grpc::CallbackServerContext* context,
                                                        const grpc::ByteBuffer* bytes,
                                                        grpc::ByteBuffer* out) {
  auto* call = new EvaluateCall(state_, Rpc::kEvaluate, context, out);
  grpc::ServerUnaryReactor* reactor = call->reactor();
  if (!call->Begin(kEvaluate, *bytes, state_.limits.max_request_bytes)) return reactor;
  DecideOptions options;
  options.limits = state_.limits;
  options.caller = call->identity();
  options.via = call->via();
  options.challenger = state_.challenger.get();
  Decided decided =
      Decide(state_.registry, call->request(), call->response()->mutable_decision(), options);
  if (!decided.status.ok()) {
    if (decided.problems.problems_size() > 0) {
      context->AddTrailingMetadata("credit-fact-problems-bin",
                                   decided.problems.SerializeAsString());
    }
    call->Finish(decided.status);
    return reactor;
  }
  // EvaluateResponse{decision = 1}: the decision's bytes as logged.
  call->SetAnswer(AnswerWithDecision("", 1, decided.record.result_json));
  // Counted once logged (the policy's name, never the caller's text).
  DecisionCounter* const counted =
      state_.metrics == nullptr
          ? nullptr
          : state_.metrics->Decisions(decided.record.policy_name, decided.record.outcome);
  // Answered once: by the log's commit, or by the default deadline when the
  // caller set none and the log stalls (the decision may still be logged
  // then; it is never given out unlogged).
  auto answer = std::make_shared<PendingAnswer>();
  // Run by whoever claimed the answer; an error answer carries no decision.
  auto give = [call](const grpc::Status& status) {
    if (!status.ok()) call->response()->Clear();
    call->Finish(status);
  };
  if (context->deadline() == std::chrono::system_clock::time_point::max()) {
    deadlines_.Track(answer, [give] {
      give(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                        "no answer within the server's default deadline; set a deadline on "
                        "the call to choose another"));
    });
  }
  state_.audit->AppendAsync(
      std::move(decided.record), [answer, give, counted](absl::Status status) {
        if (counted != nullptr && status.ok()) counted->fetch_add(1, std::memory_order_relaxed);
        if (!answer->Claim()) return;
        give(status.ok() ? grpc::Status::OK
                         : grpc::Status(grpc::StatusCode::UNAVAILABLE, kUnavailable));
      });
  return reactor;
}

namespace {

// Answers a stream's requests in order while working ahead: it keeps
// reading (within the window of Limits::stream_window answers and
// stream_window_bytes), decides each request at once, and lets the audit log
// commit many records per group; answers are written in request order as
// their records are committed. An item that does not parse, is too large or
// has bad facts gets its own error answer and the stream goes on.
//
// The reactor is owned by shared pointers: its own (dropped in OnDone) and
// one per record waiting for the log, so OnDone never waits for the log and
// a late commit never touches a deleted reactor.
class StreamReactor final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                            public std::enable_shared_from_this<StreamReactor> {
 public:
  static StreamReactor* Start(ServingState& state, grpc::CallbackServerContext* context) {
    std::shared_ptr<StreamReactor> reactor(new StreamReactor(state));
    reactor->self_ = reactor;
    reactor->Begin(*context);
    return reactor.get();
  }

  ~StreamReactor() override {
    if (counted_) state_.calls.Leave(identity_);
    if (stream_counted_) --state_.streams;
    --state_.in_flight;
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
    auto item = std::make_shared<Item>();
    grpc::ByteBuffer bytes;
    bytes.Swap(&in_);
    item->bytes = bytes.Length();
    buffered_ += item->bytes;
    pending_.push_back(item);
    ReadNext();
    lock.unlock();
    Decide(item, bytes);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mutex_);
    writing_ = false;
    buffered_ -= pending_.front()->bytes;
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
    std::shared_ptr<StreamReactor> self;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
      self = std::move(self_);
    }
    // The reactor goes with the last record still waiting for the log, or
    // now.
  }

 private:
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
    grpc::ByteBuffer out;     // the serialized answer, once ready
    grpc::ByteBuffer answer;  // a decision's answer, serialized before it is logged
    bool has_answer = false;  // and still the answer to send
    size_t bytes = 0;         // counted against the window: request, then answer too
    bool ready = false;
  };

  explicit StreamReactor(ServingState& state) : state_(state) {
    ++state_.in_flight;
    if (state_.metrics != nullptr) {
      started_ = ServerMetrics::Clock::now();
      state_.metrics->Started(Rpc::kEvaluateStream);
    }
  }

  // Finishes the stream (once), counted.
  void End(const grpc::Status& status) {
    if (state_.metrics != nullptr) {
      state_.metrics->Handled(Rpc::kEvaluateStream, status.error_code(), started_);
    }
    Finish(status);
  }

  void Begin(const grpc::CallbackServerContext& context) {
    std::lock_guard<std::mutex> lock(mutex_);
    grpc::Status refused;
    if (state_.draining) {
      refused = grpc::Status(grpc::StatusCode::UNAVAILABLE, kDraining);
    } else if (grpc::Status status =
                   state_.authorizer.Check(context, kEvaluateStream, &identity_, &via_);
               !status.ok()) {
      refused = status;
    } else if (!state_.calls.Enter(identity_)) {
      refused = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                             absl::StrCat("`", engine::EchoText(identity_, 128), "` already has ",
                                          state_.calls.limit(),
                                          " calls in flight; this server allows at most that "
                                          "many per caller"));
    } else {
      counted_ = true;
      if (++state_.streams > state_.limits.max_streams) {
        --state_.streams;
        refused = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                               absl::StrCat(state_.limits.max_streams,
                                            " streams are open; this server allows at most that "
                                            "many at once"));
      } else {
        stream_counted_ = true;
      }
    }
    if (!refused.ok()) {
      finished_ = true;
      End(refused);
      return;
    }
    ReadNext();
  }

  // Decides one item (without the lock) and, unless refused, sends its
  // record to the log; the item becomes ready when its answer is known.
  void Decide(const std::shared_ptr<Item>& item, const grpc::ByteBuffer& bytes) {
    v1::StreamResponse& response = *item->response;
    grpc::Status refused;
    if (item->bytes > state_.limits.max_request_bytes) {
      refused = TooLarge(item->bytes, state_.limits.max_request_bytes);
    } else if (!ParseMessage(bytes, item->request)) {
      refused = Unparseable("credit.v1.EvaluateRequest");
    }
    if (!refused.ok()) {
      AnswerWithError(refused, &response);
      Ready(item);
      return;
    }
    // The request id is echoed only when it is within bounds (Decide
    // refuses it otherwise).
    const std::string& request_id = item->request->request_id();
    if (request_id.size() <= state_.limits.max_id_bytes) response.set_request_id(request_id);
    DecideOptions options;
    options.limits = state_.limits;
    options.caller = identity_;
    options.via = via_;
    options.challenger = state_.challenger.get();
    Decided decided =
        server::Decide(state_.registry, *item->request, response.mutable_decision(), options);
    if (!decided.status.ok()) {
      AnswerWithError(decided.status, &response)
          ->mutable_problems()
          ->CopyFrom(decided.problems.problems());
      Ready(item);
      return;
    }
    // StreamResponse{request_id = 1, decision = 2}: the request id as set,
    // then the decision's bytes as logged.
    v1::StreamResponse head;
    head.set_request_id(response.request_id());
    item->answer = AnswerWithDecision(head.SerializeAsString(), 2, decided.record.result_json);
    item->has_answer = true;
    DecisionCounter* const counted =
        state_.metrics == nullptr
            ? nullptr
            : state_.metrics->Decisions(decided.record.policy_name, decided.record.outcome);
    state_.audit->AppendAsync(std::move(decided.record), [self = shared_from_this(), item,
                                                          counted](absl::Status status) {
      if (counted != nullptr && status.ok()) counted->fetch_add(1, std::memory_order_relaxed);
      if (!status.ok()) {
        item->has_answer = false;
        AnswerWithError(grpc::Status(grpc::StatusCode::UNAVAILABLE, kUnavailable), item->response);
      }
      self->Ready(item);
    });
  }

  // Serializes the item's answer and writes what is next in order.
  void Ready(const std::shared_ptr<Item>& item) {
    if (item->has_answer) {
      item->out.Swap(&item->answer);
    } else if (!SerializeMessage(*item->response, &item->out)) {
      v1::StreamResponse error;
      error.set_request_id(item->request->request_id());
      AnswerWithError(
          grpc::Status(grpc::StatusCode::INTERNAL, "the answer could not be serialized"), &error);
      SerializeMessage(error, &item->out);
    }
    std::lock_guard<std::mutex> lock(mutex_);
    item->ready = true;
    item->bytes += item->out.Length();
    buffered_ += item->out.Length();
    if (done_) return;
    WriteNext();
  }

  // With mutex_ held.
  void WriteNext() {
    if (writing_ || broken_ || finished_ || pending_.empty() || !pending_.front()->ready) return;
    writing_ = true;
    // Each answer goes out as it is written. (A buffer hint let gRPC hold a
    // write whose completion the next write waited for: the stream stalled.)
    StartWrite(&pending_.front()->out);
  }
  void ReadNext() {
    if (reading_ || reads_done_ || broken_ || finished_ ||
        pending_.size() >= state_.limits.stream_window ||
        buffered_ >= state_.limits.stream_window_bytes) {
      return;
    }
    reading_ = true;
    StartRead(&in_);
  }
  // A broken or cancelled stream finishes at once: a read still outstanding
  // may never complete until it does. (Its buffer, and the answers being
  // written, live until the reactor goes.) A healthy one finishes when every
  // request has been answered.
  void MaybeFinish() {
    if (finished_) return;
    if (broken_) {
      finished_ = true;
      End(grpc::Status(grpc::StatusCode::CANCELLED, "the stream was cancelled or broke"));
      return;
    }
    if (writing_ || reading_ || !reads_done_ || !pending_.empty()) return;
    finished_ = true;
    // Every request answered (and so logged): the stream no longer counts
    // for its caller, who may open the next as soon as this one ends.
    if (counted_) state_.calls.Leave(identity_);
    counted_ = false;
    End(grpc::Status::OK);
  }

  ServingState& state_;
  ServerMetrics::Clock::time_point started_;  // with metrics only
  std::shared_ptr<StreamReactor> self_;       // until OnDone
  std::string identity_;
  std::string via_;  // the balancer the stream came through, if any
  bool counted_ = false;
  bool stream_counted_ = false;
  std::mutex mutex_;
  grpc::ByteBuffer in_;  // the request being read
  std::deque<std::shared_ptr<Item>> pending_;
  size_t buffered_ = 0;  // bytes of the items in pending_
  bool reading_ = false;
  bool writing_ = false;
  bool reads_done_ = false;
  bool broken_ = false;
  bool finished_ = false;
  bool done_ = false;
};

}  // namespace

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* DecisionServiceImpl::EvaluateStream(
    grpc::CallbackServerContext* context) {
  return StreamReactor::Start(state_, context);
}

grpc::ServerUnaryReactor* PolicyServiceImpl::ListPolicies(grpc::CallbackServerContext* context,
                                                          const grpc::ByteBuffer* bytes,
                                                          grpc::ByteBuffer* out) {
  auto* call = new UnaryCall<v1::ListPoliciesRequest, v1::ListPoliciesResponse>(
      state_, Rpc::kListPolicies, context, out);
  grpc::ServerUnaryReactor* reactor = call->reactor();
  if (!call->Begin(kListPolicies, *bytes, kSmallRequestBytes)) return reactor;
  for (const engine::VersionInfo& version : state_.registry.Versions()) {
    const engine::CompiledPolicy& policy = *version.policy;
    v1::PolicyInfo* info = call->response()->add_policies();
    FillId(policy.id(), info->mutable_id());
    info->set_current(version.state == engine::VersionState::kCurrent);
    switch (version.state) {
      case engine::VersionState::kScheduled:
        info->set_state(v1::POLICY_STATE_SCHEDULED);
        break;
      case engine::VersionState::kCurrent:
        info->set_state(v1::POLICY_STATE_CURRENT);
        break;
      case engine::VersionState::kSuperseded:
        info->set_state(v1::POLICY_STATE_SUPERSEDED);
        break;
    }
    info->set_effective(policy.checked().effective);
    info->set_effective_from(Rfc3339(version.effective));
    info->set_first_served(version.first_served);
    info->set_owner(policy.checked().owner);
    info->set_description(policy.checked().description);
    for (const engine::SignedApproval& a : version.approvals) {
      v1::PolicyApproval* approval = info->add_approvals();
      approval->set_approver(a.approval.approver);
      approval->set_time(a.approval.time);
      approval->set_comment(a.approval.comment);
      approval->set_key_id(a.key_id);
    }
  }
  call->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* PolicyServiceImpl::GetPolicySource(grpc::CallbackServerContext* context,
                                                             const grpc::ByteBuffer* bytes,
                                                             grpc::ByteBuffer* out) {
  auto* call = new UnaryCall<v1::GetPolicySourceRequest, v1::GetPolicySourceResponse>(
      state_, Rpc::kGetPolicySource, context, out);
  grpc::ServerUnaryReactor* reactor = call->reactor();
  if (!call->Begin(kGetPolicySource, *bytes, kSmallRequestBytes)) return reactor;
  const v1::GetPolicySourceRequest& request = call->request();
  std::shared_ptr<const engine::CompiledPolicy> policy;
  if (request.version().empty()) {
    std::shared_ptr<const engine::Bundle> bundle = state_.registry.Current();
    const engine::BundleVersion* in_force =
        bundle != nullptr ? bundle->InForce(request.name(), state_.registry.Now()) : nullptr;
    if (in_force != nullptr) policy = in_force->policy;
  } else {
    policy = state_.registry.Find(request.name(), request.version());
  }
  if (policy == nullptr) {
    call->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND,
                              absl::StrCat("no decision `", engine::EchoText(request.name()), "`",
                                           request.version().empty() ? "" : " version ",
                                           engine::EchoText(request.version()))));
    return reactor;
  }
  FillId(policy->id(), call->response()->mutable_id());
  call->response()->set_source(policy->canonical_source());
  call->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* PolicyServiceImpl::DescribeDecision(grpc::CallbackServerContext* context,
                                                              const grpc::ByteBuffer* bytes,
                                                              grpc::ByteBuffer* out) {
  auto* call = new UnaryCall<v1::DescribeDecisionRequest, v1::DescribeDecisionResponse>(
      state_, Rpc::kDescribeDecision, context, out);
  grpc::ServerUnaryReactor* reactor = call->reactor();
  if (!call->Begin(kDescribeDecision, *bytes, kSmallRequestBytes)) return reactor;
  const v1::DescribeDecisionRequest& request = call->request();
  // The version an unpinned Evaluate would get now, or the one pinned.
  std::shared_ptr<const engine::CompiledPolicy> policy;
  if (request.policy_version().empty()) {
    std::shared_ptr<const engine::Bundle> bundle = state_.registry.Current();
    const engine::BundleVersion* in_force =
        bundle != nullptr ? bundle->InForce(request.decision(), state_.registry.Now()) : nullptr;
    if (in_force != nullptr) policy = in_force->policy;
  } else {
    policy = state_.registry.Find(request.decision(), request.policy_version());
  }
  if (policy == nullptr) {
    call->Finish(
        grpc::Status(grpc::StatusCode::NOT_FOUND,
                     absl::StrCat("no decision `", engine::EchoText(request.decision()), "`",
                                  request.policy_version().empty() ? " in force" : " version ",
                                  engine::EchoText(request.policy_version()))));
    return reactor;
  }
  api::DescribeDecision(*policy, call->response());
  call->Finish(grpc::Status::OK);
  return reactor;
}

namespace {

// Is `path` a plain relative path inside the policy directory: no `..`,
// not absolute, no empty or `.` parts, printable, ending in .credit?
bool IsCandidatePath(const std::string& path) {
  if (path.empty() || path.size() > 256 || path[0] == '/') return false;
  if (path.size() < 8 || path.compare(path.size() - 7, 7, ".credit") != 0) return false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    const std::string part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  for (char c : path) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f || c == '\\') return false;
  }
  return true;
}

}  // namespace

grpc::ServerUnaryReactor* PolicyServiceImpl::ValidatePolicy(grpc::CallbackServerContext* context,
                                                            const grpc::ByteBuffer* bytes,
                                                            grpc::ByteBuffer* out) {
  using Call = UnaryCall<v1::ValidatePolicyRequest, v1::ValidatePolicyResponse>;
  auto* call = new Call(state_, Rpc::kValidatePolicy, context, out);
  grpc::ServerUnaryReactor* reactor = call->reactor();
  if (!call->Begin(kValidatePolicy, *bytes, state_.limits.max_policy_bytes + kSmallRequestBytes)) {
    return reactor;
  }
  const v1::ValidatePolicyRequest& request = call->request();
  const std::string name = request.path().empty() ? "candidate.credit" : request.path();
  if (!IsCandidatePath(name)) {
    call->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                              absl::StrCat("path `", engine::EchoText(name),
                                           "` must be a relative path inside the policy "
                                           "directory ending in .credit, without `..`")));
    return reactor;
  }
  if (request.source().size() > state_.limits.max_policy_bytes) {
    call->Finish(grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        absl::StrCat("the candidate is ", request.source().size(),
                     " bytes; a policy file may be at most ", state_.limits.max_policy_bytes)));
    return reactor;
  }
  // Parsing, checking and analysing take a while: off gRPC's threads.
  const bool queued = state_.worker.TrySubmit([this, call, name] {
    const v1::ValidatePolicyRequest& candidate = call->request();
    v1::ValidatePolicyResponse* response = call->response();
    // Relative to the policy directory: the report names nothing else.
    absl::StatusOr<engine::BundleLoad> load =
        engine::LoadCandidate(name, candidate.source(), state_.reader);
    if (!load.ok()) {
      call->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                engine::EchoText(load.status().message(), 1024)));
      return;
    }
    // Held against every version served, as a reload would be: other text
    // under a version served before is refused (E0602).
    state_.registry.Bind(*load);
    response->set_valid(load->errors == 0);
    response->set_report(load->report);
    for (const dsl::Diagnostic& d : load->diagnostics) {
      v1::Diagnostic* diagnostic = response->add_diagnostics();
      diagnostic->set_severity(d.severity == dsl::Severity::kError ? "error" : "warning");
      diagnostic->set_code(d.code);
      diagnostic->set_line(d.span.line);
      diagnostic->set_column(d.span.column);
      diagnostic->set_message(d.message);
      diagnostic->set_help(d.help);
    }
    if (load->bundle != nullptr) {
      FillId(load->bundle->decisions.begin()->second.versions.front().policy->id(),
             response->mutable_id());
    }
    call->Finish(grpc::Status::OK);
  });
  if (!queued) {
    call->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                              "too many policy validations and reloads are waiting; retry later"));
  }
  return reactor;
}

grpc::ServerUnaryReactor* PolicyServiceImpl::Reload(grpc::CallbackServerContext* context,
                                                    const grpc::ByteBuffer* bytes,
                                                    grpc::ByteBuffer* out) {
  using Call = UnaryCall<v1::ReloadRequest, v1::ReloadResponse>;
  auto* call = new Call(state_, Rpc::kReload, context, out);
  grpc::ServerUnaryReactor* reactor = call->reactor();
  if (!call->Begin(kReload, *bytes, kSmallRequestBytes)) return reactor;
  spdlog::info("reload requested by `{}`{}{}", engine::EchoText(call->identity(), 128),
               call->via().empty() ? "" : " via ", engine::EchoText(call->via(), 128));
  const bool queued = state_.worker.TrySubmit([this, call] {
    engine::BundleLoad load = ReloadBundle(state_, call->identity(), call->via());
    v1::ReloadResponse* response = call->response();
    response->set_accepted(load.bundle != nullptr);
    response->set_report(load.report);
    std::shared_ptr<const engine::Bundle> bundle = state_.registry.Current();
    if (bundle != nullptr) {
      for (const auto& [name, decision] : bundle->decisions) {
        for (const engine::BundleVersion& v : decision.versions) {
          FillId(v.policy->id(), response->add_policies());
        }
      }
    }
    call->Finish(grpc::Status::OK);
  });
  if (!queued) {
    call->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                              "too many policy validations and reloads are waiting; retry later"));
  }
  return reactor;
}

}  // namespace creditd::server
