// A load generator for creditd: throughput and latency percentiles for
// Evaluate, EvaluateStream, and a no-op baseline RPC (the health check)
// through the same server and the same client code. bench/README.md
// documents every flag.
//
// It is an asynchronous client (gRPC's callback API): a few threads keep many
// calls in flight, so the client costs little of the machine it shares with
// the server. Requests come from a pool built before the load (request_pool.h):
// decisions in the proportions --mix asks for, facts drawn from --seed across
// each input's declared range in the policies (--policies), customer ids from
// a population; each is serialized once and answers are received as bytes,
// the way the no-op baseline is. One answer in --check_every is parsed and
// checked (a decision with an id, no per-item error), so a server answering
// with errors cannot pass for a fast one; with --acked_ids_file every OK
// answer's decision id is read and written to the file.
//
//   loadgen --target=127.0.0.1:50051 --mode=noop,evaluate,stream
//           [--mix=all] [--concurrency=256] [--seconds=10] [--rate=0]
//           [--ca_file=ca.pem [--cert_file=c.pem --key_file=c.key]]
//           [--token_file=token] [--acked_ids_file=ids.txt]
//
// --mode takes a comma-separated list; the modes run one after the other
// against the same server and each prints one line, then a line of failed
// calls by status code when there were any. Closed loop by default:
// `concurrency` calls in flight, each answered call replaced at once. With
// --rate=R (unary modes) calls start on a fixed schedule of R per second
// whether or not earlier ones have finished, and latency is measured from the
// scheduled start (no coordinated omission). Stream mode keeps up to
// `concurrency` requests unanswered on each of `streams` streams.
//
// Exit status: 0 when every call succeeded, 1 when any failed, 2 when the
// load could not start (bad flags, unreadable files, no connection).
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bench/request_pool.h"
#include "credit/v1/creditd.pb.h"
#include "engine/bundle.h"
#include "google/protobuf/io/coded_stream.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/proto_buffer_reader.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "creditd address");
ABSL_FLAG(std::string, mode, "noop,evaluate,stream",
          "comma-separated: noop (the health check), evaluate, stream");
ABSL_FLAG(int, concurrency, 256,
          "calls in flight (unary), or unanswered requests per stream (stream)");
ABSL_FLAG(int, streams, 4, "streams in stream mode");
ABSL_FLAG(int, seconds, 10, "how long each mode runs");
ABSL_FLAG(double, rate, 0, "unary modes: calls started per second (0: closed loop)");
ABSL_FLAG(int, channels, 2, "channels (connections) to spread the calls over");
ABSL_FLAG(int, warmup_seconds, 1, "load before measuring, per mode");
ABSL_FLAG(int, check_every, 64, "parse and check one answer in this many (1: all)");
ABSL_FLAG(int, deadline_ms, 0, "each call's deadline (streams: the whole stream's); 0: none");

ABSL_FLAG(std::string, policies, "policies",
          "the policy directory the server serves: requests are drawn from its declarations");
ABSL_FLAG(std::string, mix, "all",
          "decisions to ask for, with relative weights: `all`, or e.g. "
          "credit_application=3,order_release=2,credit_review,dunning");
ABSL_FLAG(uint64_t, seed, 1, "seed for the facts and customer ids (the same seed, the same pool)");
ABSL_FLAG(int, pool, 1024, "distinct requests drawn; calls cycle through them");
ABSL_FLAG(int, customers, 10000, "customer ids are drawn from C-000000 to C-(customers-1)");
ABSL_FLAG(std::string, acked_ids_file, "",
          "write the decision id of every OK answer here, one per line");

ABSL_FLAG(bool, tls, false, "connect over TLS (implied by --ca_file and --cert_file)");
ABSL_FLAG(std::string, ca_file, "",
          "PEM bundle of the CAs that verify the server (default: the system's roots)");
ABSL_FLAG(std::string, cert_file, "", "PEM client certificate chain, for mTLS (with --key_file)");
ABSL_FLAG(std::string, key_file, "", "PEM private key of --cert_file");
ABSL_FLAG(std::string, server_name, "",
          "the name to verify the server's certificate against, instead of --target's host");
ABSL_FLAG(std::string, token_file, "",
          "a file holding a bearer token, sent as `authorization: Bearer <token>`");

namespace {

using Clock = std::chrono::steady_clock;
namespace v1 = credit::v1;

constexpr char kEvaluate[] = "/credit.v1.DecisionService/Evaluate";
constexpr char kEvaluateStream[] = "/credit.v1.DecisionService/EvaluateStream";
constexpr char kHealthCheck[] = "/grpc.health.v1.Health/Check";

grpc::ByteBuffer Bytes(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

// Parses `bytes` into `message`; false when they are not one.
bool Parse(grpc::ByteBuffer& bytes, google::protobuf::MessageLite* message) {
  grpc::ProtoBufferReader reader(&bytes);
  return message->ParseFromZeroCopyStream(&reader);
}

// What an answer says, read without parsing all of it: the decision id
// (field 1 of the Decision) or the per-item Error's code and message.
struct Scan {
  bool ok = false;  // the bytes are a well-formed message
  std::string decision_id;
  bool has_error = false;
  int error_code = 0;
  std::string error_message;
};

// Skips one field of wire type `type`; false on a malformed message.
bool SkipField(google::protobuf::io::CodedInputStream& in, uint32_t type) {
  uint64_t varint = 0;
  uint32_t length = 0;
  switch (type) {
    case 0:
      return in.ReadVarint64(&varint);
    case 1:
      return in.Skip(8);
    case 2:
      return in.ReadVarint32(&length) && in.Skip(static_cast<int>(length));
    case 5:
      return in.Skip(4);
    default:
      return false;  // groups: never in these messages
  }
}

// Reads the fields of one embedded message (already past its tag), calling
// `field(number, type)` for each; the callback reads or skips the value.
template <typename F>
bool ReadEmbedded(google::protobuf::io::CodedInputStream& in, F field) {
  uint32_t length = 0;
  if (!in.ReadVarint32(&length)) return false;
  const auto limit = in.PushLimit(static_cast<int>(length));
  for (uint32_t tag = in.ReadTag(); tag != 0; tag = in.ReadTag()) {
    if (!field(tag >> 3, tag & 7)) return false;
  }
  const bool whole = in.BytesUntilLimit() == 0;
  in.PopLimit(limit);
  return whole;
}

bool ReadString(google::protobuf::io::CodedInputStream& in, std::string* out) {
  uint32_t length = 0;
  return in.ReadVarint32(&length) && in.ReadString(out, static_cast<int>(length));
}

// Scans an answer whose Decision is field `decision_field` (1 in an
// EvaluateResponse, 2 in a StreamResponse) and whose Error, if it can have
// one, is field `error_field` (3 in a StreamResponse; 0: none).
Scan ScanAnswer(grpc::ByteBuffer& bytes, uint32_t decision_field, uint32_t error_field) {
  Scan scan;
  grpc::ProtoBufferReader reader(&bytes);
  google::protobuf::io::CodedInputStream in(&reader);
  for (uint32_t tag = in.ReadTag(); tag != 0; tag = in.ReadTag()) {
    const uint32_t number = tag >> 3, type = tag & 7;
    bool read = false;
    if (number == decision_field && type == 2) {
      read = ReadEmbedded(in, [&](uint32_t n, uint32_t t) {
        return n == 1 && t == 2 ? ReadString(in, &scan.decision_id) : SkipField(in, t);
      });
    } else if (error_field != 0 && number == error_field && type == 2) {
      scan.has_error = true;
      read = ReadEmbedded(in, [&](uint32_t n, uint32_t t) {
        uint64_t code = 0;
        if (n == 1 && t == 0) {
          if (!in.ReadVarint64(&code)) return false;
          scan.error_code = static_cast<int>(code);
          return true;
        }
        return n == 2 && t == 2 ? ReadString(in, &scan.error_message) : SkipField(in, t);
      });
    } else {
      read = SkipField(in, type);
    }
    if (!read) return scan;
  }
  scan.ok = in.ConsumedEntireMessage();
  return scan;
}

// Whether a sampled answer is a real decision. The no-op's answer is only
// checked for being a HealthCheckResponse-shaped message (any bytes parse).
bool AnswerIsGood(const std::string& mode, grpc::ByteBuffer& bytes) {
  if (mode == "evaluate") {
    v1::EvaluateResponse response;
    return Parse(bytes, &response) && !response.decision().decision_id().empty() &&
           !response.decision().decision().empty();
  }
  if (mode == "stream") {
    v1::StreamResponse response;
    return Parse(bytes, &response) && !response.has_error() &&
           !response.decision().decision_id().empty();
  }
  return true;
}

// Appends acknowledged decision ids to a file, one per line, from any thread.
class AckedIds {
 public:
  absl::Status Open(const std::string& path) {
    path_ = path;
    file_ = std::fopen(path.c_str(), "w");
    if (file_ == nullptr) {
      return absl::UnavailableError(
          absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
    }
    return absl::OkStatus();
  }
  bool enabled() const { return file_ != nullptr; }
  void Add(const std::string& id) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (std::fwrite(id.data(), 1, id.size(), file_) != id.size() ||
        std::fputc('\n', file_) == EOF) {
      if (error_.empty()) error_ = std::strerror(errno);
    }
    // Flushed often, so a load generator that is itself stopped leaves
    // most of what it saw acknowledged.
    if (++count_ % 1024 == 0) std::fflush(file_);
  }
  // Closes the file; an error names the path and what failed.
  absl::Status Close() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (file_ == nullptr) return absl::OkStatus();
    if (std::fclose(file_) != 0 && error_.empty()) error_ = std::strerror(errno);
    file_ = nullptr;
    if (!error_.empty()) return absl::DataLossError(absl::StrCat("writing ", path_, ": ", error_));
    return absl::OkStatus();
  }
  int64_t count() {
    std::lock_guard<std::mutex> lock(mutex_);
    return count_;
  }

 private:
  std::mutex mutex_;
  std::string path_;
  std::FILE* file_ = nullptr;
  std::string error_;
  int64_t count_ = 0;
};

// What became of one call (or one stream item).
struct Outcome {
  grpc::StatusCode code = grpc::StatusCode::OK;
  bool bad_answer = false;  // OK, but the answer is not a decision
  std::string message;      // for the first failure's report
  bool ok() const { return code == grpc::StatusCode::OK && !bad_answer; }
};

std::string CodeName(int code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

// Latencies of calls answered OK inside the measured window, and every
// failure, by status code.
class Recorder {
 public:
  void Start(Clock::time_point from, Clock::time_point to) {
    std::lock_guard<std::mutex> lock(mutex_);
    from_ = from;
    to_ = to;
  }
  void Add(Clock::time_point started, const Outcome& outcome) {
    const Clock::time_point now = Clock::now();
    std::lock_guard<std::mutex> lock(mutex_);
    if (!outcome.ok()) {
      if (errors_ == 0) {
        std::fprintf(
            stderr, "first error: %s %s\n",
            outcome.bad_answer ? "OK" : CodeName(outcome.code).c_str(),
            outcome.bad_answer ? "but the answer is not a decision" : outcome.message.c_str());
      }
      ++errors_;
      if (outcome.bad_answer) {
        ++bad_answers_;
      } else {
        ++by_code_[static_cast<int>(outcome.code)];
      }
    }
    // Only answered calls count toward the rate and the latencies: a
    // server failing fast must not look fast.
    if (!outcome.ok() || now < from_ || now >= to_) return;
    latencies_us_.push_back(std::chrono::duration<double, std::micro>(now - started).count());
  }
  // Calls that never got an answer (a stream that ended first).
  void AddUnanswered(grpc::StatusCode code, int64_t n) {
    std::lock_guard<std::mutex> lock(mutex_);
    errors_ += n;
    by_code_[static_cast<int>(code)] += n;
  }
  void Print(const std::string& mode, double seconds) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<double>& l = latencies_us_;
    const size_t n = l.size();
    const double p50 = Percentile(0.50), p99 = Percentile(0.99), p999 = Percentile(0.999);
    std::printf(
        "%-8s %9zu calls in %.1f s = %8.0f/s  errors %lld  latency p50 %6.0f us  p99 %6.0f us  "
        "p99.9 %6.0f us\n",
        mode.c_str(), n, seconds, static_cast<double>(n) / seconds, static_cast<long long>(errors_),
        p50, p99, p999);
    if (errors_ > 0) {
      std::vector<std::string> parts;
      for (const auto& [code, count] : by_code_) {
        parts.push_back(absl::StrCat(CodeName(code), " ", count));
      }
      if (bad_answers_ > 0) parts.push_back(absl::StrCat("not a decision ", bad_answers_));
      std::printf("%-8s failed: %s\n", mode.c_str(), absl::StrJoin(parts, ", ").c_str());
    }
    std::fflush(stdout);
  }
  int64_t errors() {
    std::lock_guard<std::mutex> lock(mutex_);
    return errors_;
  }

 private:
  double Percentile(double p) {
    std::vector<double>& v = latencies_us_;
    if (v.empty()) return 0;
    const size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
    std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
    return v[k];
  }

  std::mutex mutex_;
  Clock::time_point from_ = Clock::time_point::max();
  Clock::time_point to_ = Clock::time_point::max();
  std::vector<double> latencies_us_;
  int64_t errors_ = 0;
  int64_t bad_answers_ = 0;
  std::map<int, int64_t> by_code_;
};

// Counts calls in flight.
class InFlight {
 public:
  void Add() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++n_;
  }
  void Done() {
    std::lock_guard<std::mutex> lock(mutex_);
    --n_;
    changed_.notify_all();
  }
  // Waits until fewer than `limit` are in flight.
  void WaitBelow(int limit) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return n_ < limit; });
  }
  void Wait() { WaitBelow(1); }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int n_ = 0;
};

struct Target {
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
  std::vector<grpc::ByteBuffer> requests;  // the pool, serialized once
  grpc::ByteBuffer empty;                  // an empty HealthCheckRequest
  int check_every = 64;
  std::string authorization;  // "Bearer <token>", or empty
  int deadline_ms = 0;
  AckedIds* acked = nullptr;

  // Sets the call's metadata and deadline.
  void Prepare(grpc::ClientContext* context) const {
    if (!authorization.empty()) context->AddMetadata("authorization", authorization);
    if (deadline_ms > 0) {
      context->set_deadline(std::chrono::system_clock::now() +
                            std::chrono::milliseconds(deadline_ms));
    }
  }
};

// The outcome of an answered unary call; records its decision id.
Outcome UnaryOutcome(const Target& target, const std::string& mode, const grpc::Status& status,
                     bool check, grpc::ByteBuffer& answer) {
  Outcome outcome;
  outcome.code = status.error_code();
  outcome.message = status.error_message();
  if (!status.ok()) return outcome;
  if (check && !AnswerIsGood(mode, answer)) outcome.bad_answer = true;
  if (mode == "evaluate" && target.acked != nullptr) {
    const Scan scan = ScanAnswer(answer, 1, 0);
    if (!scan.ok || scan.decision_id.empty()) {
      outcome.bad_answer = true;
    } else {
      target.acked->Add(scan.decision_id);
    }
  }
  return outcome;
}

struct UnaryCall {
  grpc::ClientContext context;
  grpc::ByteBuffer in, out;
  Clock::time_point started;
  bool check = false;
};

void StartUnary(Target& target, const std::string& mode, size_t k, Clock::time_point started,
                Recorder& recorder, InFlight& flight, std::function<void()> next) {
  auto* call = new UnaryCall;
  call->started = started;
  call->check = k % static_cast<size_t>(target.check_every) == 0;
  call->in = mode == "noop" ? target.empty : target.requests[k % target.requests.size()];
  target.Prepare(&call->context);
  flight.Add();
  auto done = [call, &mode, target = &target, recorder = &recorder, flight = &flight,
               next = std::move(next)](grpc::Status status) {
    recorder->Add(call->started, UnaryOutcome(*target, mode, status, call->check, call->out));
    // Deleting the call frees this closure: keep what is needed after it.
    InFlight* in_flight = flight;
    std::function<void()> then = next;
    delete call;
    if (then) then();
    in_flight->Done();
  };
  target.stubs[k % target.stubs.size()]->UnaryCall(
      &call->context, mode == "noop" ? kHealthCheck : kEvaluate, grpc::StubOptions(), &call->in,
      &call->out, std::move(done));
}

void RunUnary(Target& target, const std::string& mode, Recorder& recorder) {
  const int concurrency = absl::GetFlag(FLAGS_concurrency);
  const double rate = absl::GetFlag(FLAGS_rate);
  const auto warmup = std::chrono::seconds(absl::GetFlag(FLAGS_warmup_seconds));
  const auto measure = std::chrono::seconds(absl::GetFlag(FLAGS_seconds));
  const Clock::time_point start = Clock::now();
  const Clock::time_point end = start + warmup + measure;
  recorder.Start(start + warmup, end);
  InFlight flight;
  std::atomic<size_t> counter{0};
  std::function<void()> next;
  if (rate <= 0) {
    // Closed loop: each finished call starts the next until the end.
    next = [&] {
      if (Clock::now() >= end) return;
      StartUnary(target, mode, counter++, Clock::now(), recorder, flight, next);
    };
    for (int i = 0; i < concurrency; ++i) next();
  } else {
    // Open loop: calls start on schedule; a cap on calls in flight keeps an
    // overloaded server from exhausting the client's memory.
    const auto interval = std::chrono::duration<double>(1.0 / rate);
    Clock::time_point due = start;
    size_t k = 0;
    while (due < end) {
      std::this_thread::sleep_until(due);
      flight.WaitBelow(100000);
      StartUnary(target, mode, k++, due, recorder, flight, nullptr);
      due += std::chrono::duration_cast<Clock::duration>(interval);
    }
  }
  flight.Wait();
  recorder.Print(mode, std::chrono::duration<double>(measure).count());
}

// One stream: writes requests from the pool in turn, keeping at most `window`
// unanswered, and reads answers in order until the time is up.
class StreamClient final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  StreamClient(grpc::GenericStub* stub, const Target& target, size_t first, int window,
               Clock::time_point end, Recorder& recorder)
      : target_(target),
        next_(first),
        check_every_(static_cast<size_t>(target.check_every)),
        window_(static_cast<size_t>(window)),
        end_(end),
        recorder_(recorder) {
    target.Prepare(&context_);
    stub->PrepareBidiStreamingCall(&context_, kEvaluateStream, grpc::StubOptions(), this);
    StartRead(&response_);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      WriteMore();
    }
    StartCall();
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mutex_);
    writing_ = false;
    if (!ok) {
      closed_ = true;
      return;
    }
    WriteMore();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    Outcome outcome = ItemOutcome(++read_ % check_every_ == 0);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      recorder_.Add(sent_.front(), outcome);
      sent_.pop_front();
      WriteMore();
    }
    StartRead(&response_);
  }
  void OnDone(const grpc::Status& status) override {
    std::lock_guard<std::mutex> lock(mutex_);
    // Requests the stream never answered failed with the stream.
    if (!sent_.empty()) {
      recorder_.AddUnanswered(status.ok() ? grpc::StatusCode::UNKNOWN : status.error_code(),
                              static_cast<int64_t>(sent_.size()));
    }
    status_ = status;
    done_ = true;
    finished_.notify_all();
  }

  grpc::Status Wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    finished_.wait(lock, [&] { return done_; });
    return status_;
  }

 private:
  // The outcome of the answer in response_: its own error code, or OK with
  // its decision id recorded. Every answer is scanned (failures are counted
  // whether or not the answer is checked); a checked one is parsed whole.
  Outcome ItemOutcome(bool check) {
    Outcome outcome;
    const Scan scan = ScanAnswer(response_, 2, 3);
    if (!scan.ok) {
      outcome.bad_answer = true;
    } else if (scan.has_error) {
      outcome.code = static_cast<grpc::StatusCode>(scan.error_code);
      outcome.message = scan.error_message;
      if (outcome.code == grpc::StatusCode::OK) outcome.bad_answer = true;
    } else if (scan.decision_id.empty() || (check && !AnswerIsGood("stream", response_))) {
      outcome.bad_answer = true;
    } else if (target_.acked != nullptr) {
      target_.acked->Add(scan.decision_id);
    }
    return outcome;
  }

  // With mutex_ held.
  void WriteMore() {
    if (writing_ || closed_ || sent_.size() >= window_) return;
    if (Clock::now() >= end_) {
      closed_ = true;
      StartWritesDone();
      return;
    }
    writing_ = true;
    sent_.push_back(Clock::now());
    StartWrite(&target_.requests[next_++ % target_.requests.size()]);
  }

  const Target& target_;
  grpc::ClientContext context_;
  size_t next_;
  grpc::ByteBuffer response_;
  const size_t check_every_;
  const size_t window_;
  const Clock::time_point end_;
  Recorder& recorder_;
  size_t read_ = 0;
  std::mutex mutex_;
  std::condition_variable finished_;
  std::deque<Clock::time_point> sent_;
  bool writing_ = false;
  bool closed_ = false;
  bool done_ = false;
  grpc::Status status_;
};

void RunStream(Target& target, Recorder& recorder) {
  const auto warmup = std::chrono::seconds(absl::GetFlag(FLAGS_warmup_seconds));
  const auto measure = std::chrono::seconds(absl::GetFlag(FLAGS_seconds));
  const Clock::time_point start = Clock::now();
  const Clock::time_point end = start + warmup + measure;
  recorder.Start(start + warmup, end);
  std::vector<std::unique_ptr<StreamClient>> streams;
  const int n = absl::GetFlag(FLAGS_streams);
  for (int s = 0; s < n; ++s) {
    // Each stream starts at its own place in the pool.
    const size_t first = target.requests.size() * static_cast<size_t>(s) / static_cast<size_t>(n);
    streams.push_back(std::make_unique<StreamClient>(
        target.stubs[static_cast<size_t>(s) % target.stubs.size()].get(), target, first,
        absl::GetFlag(FLAGS_concurrency), end, recorder));
  }
  for (auto& stream : streams) {
    grpc::Status status = stream->Wait();
    if (!status.ok()) {
      std::fprintf(stderr, "stream ended with %s: %s\n", CodeName(status.error_code()).c_str(),
                   status.error_message().c_str());
    }
  }
  recorder.Print("stream", std::chrono::duration<double>(measure).count());
}

absl::StatusOr<std::string> ReadFile(const std::string& flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("--", flag, ": cannot read ", path, ": ", std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The channel credentials the TLS flags ask for; plaintext without them.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials(bool* tls) {
  const std::string ca = absl::GetFlag(FLAGS_ca_file);
  const std::string cert = absl::GetFlag(FLAGS_cert_file);
  const std::string key = absl::GetFlag(FLAGS_key_file);
  *tls = absl::GetFlag(FLAGS_tls) || !ca.empty() || !cert.empty() || !key.empty();
  if (cert.empty() != key.empty()) {
    return absl::InvalidArgumentError(
        "--cert_file and --key_file go together: a client certificate needs its key");
  }
  if (!*tls) {
    if (!absl::GetFlag(FLAGS_server_name).empty()) {
      return absl::InvalidArgumentError("--server_name needs TLS (--tls or --ca_file)");
    }
    return grpc::InsecureChannelCredentials();
  }
  grpc::SslCredentialsOptions options;
  if (!ca.empty()) {
    absl::StatusOr<std::string> text = ReadFile("ca_file", ca);
    if (!text.ok()) return text.status();
    options.pem_root_certs = *std::move(text);
  }
  if (!cert.empty()) {
    absl::StatusOr<std::string> chain = ReadFile("cert_file", cert);
    if (!chain.ok()) return chain.status();
    absl::StatusOr<std::string> private_key = ReadFile("key_file", key);
    if (!private_key.ok()) return private_key.status();
    options.pem_cert_chain = *std::move(chain);
    options.pem_private_key = *std::move(private_key);
  }
  return grpc::SslCredentials(options);
}

// "Bearer <token>" from --token_file, or "" without one.
absl::StatusOr<std::string> Authorization() {
  const std::string path = absl::GetFlag(FLAGS_token_file);
  if (path.empty()) return std::string();
  absl::StatusOr<std::string> text = ReadFile("token_file", path);
  if (!text.ok()) return text.status();
  const std::string token(absl::StripAsciiWhitespace(*text));
  if (token.empty())
    return absl::InvalidArgumentError(absl::StrCat("--token_file: ", path, " is empty"));
  for (char c : token) {
    // Visible ASCII only: a header value cannot hold a newline or a control.
    if (c < 0x21 || c > 0x7e) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--token_file: ", path, " holds more than one token, or characters a header cannot"));
    }
  }
  return absl::StrCat("Bearer ", token);
}

// One health check before the load, so a channel that cannot work (TLS to a
// plaintext server, a certificate that does not verify, nothing listening)
// fails at once with what went wrong rather than as a count of errors. A
// server still starting gets five seconds.
absl::Status Probe(Target& target, bool tls) {
  const Clock::time_point give_up = Clock::now() + std::chrono::seconds(5);
  grpc::Status result;
  do {
    grpc::ClientContext context;
    target.Prepare(&context);
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::ByteBuffer out;
    std::mutex mutex;
    std::condition_variable done;
    bool finished = false;
    target.stubs.front()->UnaryCall(&context, kHealthCheck, grpc::StubOptions(), &target.empty,
                                    &out, [&](grpc::Status status) {
                                      std::lock_guard<std::mutex> lock(mutex);
                                      result = std::move(status);
                                      finished = true;
                                      done.notify_all();
                                    });
    std::unique_lock<std::mutex> lock(mutex);
    done.wait(lock, [&] { return finished; });
    if (result.error_code() != grpc::StatusCode::UNAVAILABLE) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  } while (Clock::now() < give_up);
  if (result.ok()) return absl::OkStatus();
  std::string hint;
  if (result.error_code() == grpc::StatusCode::UNAVAILABLE) {
    hint = tls ? " (does the server speak TLS, does its certificate verify against --ca_file "
                 "for --server_name or --target's host, and does it want a client certificate "
                 "(--cert_file, --key_file)?)"
               : " (is creditd listening there, without TLS? For a TLS server pass --tls or "
                 "--ca_file)";
  }
  return absl::UnavailableError(absl::StrCat(
      "cannot reach ", absl::GetFlag(FLAGS_target), tls ? " over TLS" : " over plaintext", ": ",
      CodeName(result.error_code()), ": ", result.error_message(), hint));
}

int Usage(const absl::Status& status) {
  std::fprintf(stderr, "loadgen: %s\n", std::string(status.message()).c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  Target target;
  target.check_every = std::max(1, absl::GetFlag(FLAGS_check_every));
  target.deadline_ms = std::max(0, absl::GetFlag(FLAGS_deadline_ms));
  for (const absl::string_view mode : absl::StrSplit(absl::GetFlag(FLAGS_mode), ',')) {
    if (mode != "noop" && mode != "evaluate" && mode != "stream") {
      return Usage(absl::InvalidArgumentError(absl::StrCat("unknown mode `", mode, "`")));
    }
  }

  // The requests, from the policies' own declarations.
  creditd::engine::DiskFileReader reader;
  absl::StatusOr<creditd::engine::BundleLoad> load =
      creditd::engine::LoadBundle(absl::GetFlag(FLAGS_policies), reader);
  if (!load.ok()) return Usage(load.status());
  if (load->bundle == nullptr) {
    std::fprintf(stderr, "%s", load->report.c_str());
    return Usage(absl::InvalidArgumentError(
        absl::StrCat("the policies in ", absl::GetFlag(FLAGS_policies), " do not load")));
  }
  absl::StatusOr<creditd::bench::Mix> mix =
      creditd::bench::ParseMix(absl::GetFlag(FLAGS_mix), *load->bundle);
  if (!mix.ok()) return Usage(mix.status());
  creditd::bench::PoolOptions pool_options;
  pool_options.seed = absl::GetFlag(FLAGS_seed);
  pool_options.size = absl::GetFlag(FLAGS_pool);
  pool_options.customers = absl::GetFlag(FLAGS_customers);
  absl::StatusOr<std::vector<v1::EvaluateRequest>> pool =
      creditd::bench::BuildPool(*mix, pool_options);
  if (!pool.ok()) return Usage(pool.status());
  std::map<std::string, int> composition;
  for (const v1::EvaluateRequest& request : *pool) {
    ++composition[request.decision()];
    target.requests.push_back(Bytes(request.SerializeAsString()));
  }
  std::vector<std::string> parts;
  for (const auto& [name, n] : composition) parts.push_back(absl::StrCat(name, " ", n));
  std::fprintf(stderr, "pool: %zu requests (%s), seed %llu\n", pool->size(),
               absl::StrJoin(parts, ", ").c_str(),
               static_cast<unsigned long long>(pool_options.seed));
  target.empty = Bytes("");

  // The channels.
  bool tls = false;
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials = Credentials(&tls);
  if (!credentials.ok()) return Usage(credentials.status());
  absl::StatusOr<std::string> authorization = Authorization();
  if (!authorization.ok()) return Usage(authorization.status());
  target.authorization = *authorization;
  if (!tls && !target.authorization.empty()) {
    std::fprintf(stderr, "loadgen: warning: sending the bearer token without TLS\n");
  }
  for (int c = 0; c < std::max(1, absl::GetFlag(FLAGS_channels)); ++c) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.channel_id", c);  // distinct channels, distinct connections
    if (!absl::GetFlag(FLAGS_server_name).empty()) {
      args.SetSslTargetNameOverride(absl::GetFlag(FLAGS_server_name));
    }
    target.stubs.push_back(std::make_unique<grpc::GenericStub>(
        grpc::CreateCustomChannel(absl::GetFlag(FLAGS_target), *credentials, args)));
  }

  AckedIds acked;
  if (!absl::GetFlag(FLAGS_acked_ids_file).empty()) {
    if (absl::Status s = acked.Open(absl::GetFlag(FLAGS_acked_ids_file)); !s.ok()) return Usage(s);
    target.acked = &acked;
  }
  if (absl::Status s = Probe(target, tls); !s.ok()) {
    (void)acked.Close();
    return Usage(s);
  }

  int64_t errors = 0;
  for (const absl::string_view mode : absl::StrSplit(absl::GetFlag(FLAGS_mode), ',')) {
    Recorder recorder;
    if (mode == "stream") {
      RunStream(target, recorder);
    } else {
      RunUnary(target, std::string(mode), recorder);
    }
    errors += recorder.errors();
  }
  if (acked.enabled()) {
    const int64_t n = acked.count();
    if (absl::Status s = acked.Close(); !s.ok()) {
      std::fprintf(stderr, "loadgen: %s\n", std::string(s.message()).c_str());
      return 1;
    }
    std::fprintf(stderr, "acked %lld decision ids to %s\n", static_cast<long long>(n),
                 absl::GetFlag(FLAGS_acked_ids_file).c_str());
  }
  return errors > 0 ? 1 : 0;
}
