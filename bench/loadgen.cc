// A load generator for creditd: throughput and latency percentiles for
// Evaluate (credit_application), EvaluateStream, and a no-op baseline RPC
// (the health check) through the same server and the same client code.
//
// It is an asynchronous client (gRPC's callback API): a few threads keep many
// calls in flight, so the client costs little of the machine it shares with
// the server. Every mode sends a request serialized once and receives answers
// as bytes, the way the no-op baseline does; one answer in --check_every is
// parsed and checked (a decision with an id, no per-item error), so a server
// answering with errors cannot pass for a fast one.
//
//   loadgen --target=127.0.0.1:50051 --mode=noop,evaluate,stream
//           [--concurrency=256] [--seconds=10] [--rate=0] [--streams=4]
//
// --mode takes a comma-separated list; the modes run one after the other
// against the same server and each prints one line. Closed loop by default:
// `concurrency` calls in flight, each answered call replaced at once. With
// --rate=R (unary modes) calls start on a fixed schedule of R per second
// whether or not earlier ones have finished, and latency is measured from the
// scheduled start (no coordinated omission). Stream mode keeps up to
// `concurrency` requests unanswered on each of `streams` streams.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_split.h"
#include "bench/sample_request.h"
#include "credit/v1/creditd.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
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

// Whether a sampled answer is a real decision. The no-op's answer is only
// checked for being a HealthCheckResponse-shaped message (any bytes parse).
bool AnswerIsGood(const std::string& mode, grpc::ByteBuffer& bytes) {
  if (mode == "evaluate") {
    v1::EvaluateResponse response;
    return Parse(bytes, &response) && !response.decision().decision_id().empty() &&
           !response.decision().outcome().empty();
  }
  if (mode == "stream") {
    v1::StreamResponse response;
    return Parse(bytes, &response) && !response.has_error() &&
           !response.decision().decision_id().empty();
  }
  return true;
}

// Latencies and errors of calls that finished inside the measured window.
class Recorder {
 public:
  void Start(Clock::time_point from, Clock::time_point to) {
    std::lock_guard<std::mutex> lock(mutex_);
    from_ = from;
    to_ = to;
  }
  void Add(Clock::time_point started, bool ok) {
    const Clock::time_point now = Clock::now();
    std::lock_guard<std::mutex> lock(mutex_);
    if (!ok) ++errors_;
    if (now < from_ || now >= to_) return;
    latencies_us_.push_back(std::chrono::duration<double, std::micro>(now - started).count());
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
  grpc::ByteBuffer evaluate;  // the credit_application request, serialized once
  grpc::ByteBuffer empty;     // an empty HealthCheckRequest
  int check_every = 64;
};

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
  call->in = mode == "noop" ? target.empty : target.evaluate;
  flight.Add();
  auto done = [call, &mode, recorder = &recorder, flight = &flight,
               next = std::move(next)](grpc::Status status) {
    bool ok = status.ok() && (!call->check || AnswerIsGood(mode, call->out));
    recorder->Add(call->started, ok);
    if (!ok && recorder->errors() == 1) {
      std::fprintf(stderr, "first error: %d %s\n", status.error_code(),
                   status.ok() ? "the answer is not a decision" : status.error_message().c_str());
    }
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

// One stream: writes the request over and over, keeping at most `window`
// unanswered, and reads answers in order until the time is up.
class StreamClient final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  StreamClient(grpc::GenericStub* stub, const Target& target, int window, Clock::time_point end,
               Recorder& recorder)
      : request_(target.evaluate),
        check_every_(static_cast<size_t>(target.check_every)),
        window_(static_cast<size_t>(window)),
        end_(end),
        recorder_(recorder) {
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
    const bool good = ++read_ % check_every_ != 0 || AnswerIsGood("stream", response_);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      recorder_.Add(sent_.front(), good);
      sent_.pop_front();
      WriteMore();
    }
    StartRead(&response_);
  }
  void OnDone(const grpc::Status& status) override {
    std::lock_guard<std::mutex> lock(mutex_);
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
    StartWrite(&request_);
  }

  grpc::ClientContext context_;
  grpc::ByteBuffer request_;
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
  for (int s = 0; s < absl::GetFlag(FLAGS_streams); ++s) {
    streams.push_back(std::make_unique<StreamClient>(
        target.stubs[static_cast<size_t>(s) % target.stubs.size()].get(), target,
        absl::GetFlag(FLAGS_concurrency), end, recorder));
  }
  for (auto& stream : streams) {
    grpc::Status status = stream->Wait();
    if (!status.ok()) {
      std::fprintf(stderr, "stream ended with %d %s\n", status.error_code(),
                   status.error_message().c_str());
    }
  }
  recorder.Print("stream", std::chrono::duration<double>(measure).count());
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  Target target;
  target.check_every = std::max(1, absl::GetFlag(FLAGS_check_every));
  for (int c = 0; c < std::max(1, absl::GetFlag(FLAGS_channels)); ++c) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.channel_id", c);  // distinct channels, distinct connections
    target.stubs.push_back(std::make_unique<grpc::GenericStub>(grpc::CreateCustomChannel(
        absl::GetFlag(FLAGS_target), grpc::InsecureChannelCredentials(), args)));
  }
  target.evaluate = Bytes(creditd::bench::CreditApplicationRequest().SerializeAsString());
  target.empty = Bytes("");
  int64_t errors = 0;
  for (const absl::string_view mode : absl::StrSplit(absl::GetFlag(FLAGS_mode), ',')) {
    Recorder recorder;
    if (mode == "noop" || mode == "evaluate") {
      RunUnary(target, std::string(mode), recorder);
    } else if (mode == "stream") {
      RunStream(target, recorder);
    } else {
      std::fprintf(stderr, "loadgen: unknown mode `%s`\n", std::string(mode).c_str());
      return 2;
    }
    errors += recorder.errors();
  }
  return errors > 0 ? 1 : 0;
}
