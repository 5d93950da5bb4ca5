// A load generator for creditd: throughput and latency percentiles for
// Evaluate (credit_application), EvaluateStream, and a no-op baseline RPC
// (the health check) through the same server.
//
//   loadgen --target=127.0.0.1:50051 --mode=evaluate|noop|stream
//           [--threads=16] [--seconds=10] [--rate=0 (per second, 0: as fast as possible)]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "credit/v1/creditd.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/byte_buffer.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "creditd address");
ABSL_FLAG(std::string, mode, "evaluate", "evaluate, noop (health check) or stream");
ABSL_FLAG(int, threads, 16, "client threads (streams in stream mode)");
ABSL_FLAG(int, seconds, 10, "how long to run");
ABSL_FLAG(double, rate, 0, "total requests per second to offer (0: as fast as possible)");
ABSL_FLAG(int, channels, 4, "channels to spread the threads over");

namespace {

using Clock = std::chrono::steady_clock;
namespace v1 = credit::v1;

v1::EvaluateRequest CreditApplication() {
  v1::EvaluateRequest r;
  r.set_decision("credit_application");
  auto& f = *r.mutable_facts();
  f["segment"].set_enum_value("existing");
  f["requested_limit"].set_decimal_value("800000");
  f["debt_ratio"].set_decimal_value("0.55");
  f["current_ratio"].set_decimal_value("1.8");
  f["net_margin"].set_decimal_value("0.08");
  f["years_in_business"].set_int_value(12);
  f["cooperation_years"].set_int_value(4);
  f["industry_risk"].set_enum_value("low");
  f["overdue_count_12m"].set_int_value(0);
  f["max_days_overdue_12m"].set_int_value(0);
  f["bad_debt_count"].set_int_value(0);
  f["major_litigation"].set_bool_value(false);
  f["equity_pledge_ratio"].set_decimal_value("0.1");
  f["has_collateral"].set_bool_value(true);
  return r;
}

struct Stats {
  std::mutex mutex;
  std::vector<double> latencies_us;
  int64_t errors = 0;
  void Add(const std::vector<double>& l, int64_t e) {
    std::lock_guard<std::mutex> lock(mutex);
    latencies_us.insert(latencies_us.end(), l.begin(), l.end());
    errors += e;
  }
};

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  const int threads = absl::GetFlag(FLAGS_threads);
  const auto duration = std::chrono::seconds(absl::GetFlag(FLAGS_seconds));
  const double rate = absl::GetFlag(FLAGS_rate);
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int c = 0; c < absl::GetFlag(FLAGS_channels); ++c) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.channel_id", c);  // distinct channels, distinct connections
    channels.push_back(grpc::CreateCustomChannel(absl::GetFlag(FLAGS_target),
                                                 grpc::InsecureChannelCredentials(), args));
  }
  const v1::EvaluateRequest request = CreditApplication();
  Stats stats;
  const auto start = Clock::now();
  const auto end = start + duration;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      auto channel = channels[static_cast<size_t>(t) % channels.size()];
      std::vector<double> latencies;
      int64_t errors = 0;
      // Open loop when a rate is set: each thread offers rate/threads per second.
      const auto interval = rate > 0 ? std::chrono::duration<double>(threads / rate)
                                     : std::chrono::duration<double>(0);
      auto next = Clock::now();
      if (mode == "stream") {
        auto stub = v1::DecisionService::NewStub(channel);
        grpc::ClientContext context;
        auto stream = stub->EvaluateStream(&context);
        std::atomic<bool> done{false};
        std::mutex sent_mutex;
        std::vector<Clock::time_point> sent;
        std::thread reader([&] {
          v1::StreamResponse response;
          size_t i = 0;
          while (stream->Read(&response)) {
            Clock::time_point at;
            {
              std::lock_guard<std::mutex> lock(sent_mutex);
              at = sent[i++];
            }
            latencies.push_back(
                std::chrono::duration<double, std::micro>(Clock::now() - at).count());
            if (response.has_error()) ++errors;
          }
          done = true;
        });
        while (Clock::now() < end) {
          {
            std::lock_guard<std::mutex> lock(sent_mutex);
            sent.push_back(Clock::now());
          }
          if (!stream->Write(request)) break;
        }
        stream->WritesDone();
        reader.join();
        (void)stream->Finish();
        stats.Add(latencies, errors);
        return;
      }
      auto stub = v1::DecisionService::NewStub(channel);
      grpc::GenericStub generic(channel);
      while (Clock::now() < end) {
        if (rate > 0) {
          next += std::chrono::duration_cast<Clock::duration>(interval);
          std::this_thread::sleep_until(next);
        }
        const auto t0 = Clock::now();
        grpc::ClientContext context;
        grpc::Status status;
        if (mode == "noop") {
          // grpc.health.v1.Health/Check with an empty request.
          grpc::ByteBuffer in, out;
          grpc::Slice empty("");
          in = grpc::ByteBuffer(&empty, 1);
          std::mutex m;
          std::condition_variable cv;
          bool finished = false;
          generic.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &in,
                            &out, [&](grpc::Status s) {
                              std::lock_guard<std::mutex> lock(m);
                              status = s;
                              finished = true;
                              cv.notify_one();
                            });
          std::unique_lock<std::mutex> lock(m);
          cv.wait(lock, [&] { return finished; });
        } else {
          v1::EvaluateResponse response;
          status = stub->Evaluate(&context, request, &response);
        }
        latencies.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        if (!status.ok()) ++errors;
      }
      stats.Add(latencies, errors);
    });
  }
  for (auto& w : workers) w.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double>& l = stats.latencies_us;
  const size_t n = l.size();
  const double p50 = Percentile(l, 0.50), p99 = Percentile(l, 0.99), p999 = Percentile(l, 0.999);
  std::printf(
      "%s: %zu calls in %.1f s = %.0f/s, errors %lld, latency p50 %.0f us, p99 %.0f us, "
      "p99.9 %.0f us\n",
      mode.c_str(), n, seconds, static_cast<double>(n) / seconds,
      static_cast<long long>(stats.errors), p50, p99, p999);
  return stats.errors > 0 ? 1 : 0;
}
