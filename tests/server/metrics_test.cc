#include "server/metrics.h"

#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"

namespace creditd::server {
namespace {

std::string Text(const ServerMetrics& metrics) {
  return prometheus::TextSerializer().Serialize(metrics.Collect());
}

bool Has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(MetricsTest, MethodsComeFromTheTableOnly) {
  EXPECT_EQ(RpcOf("/credit.v1.DecisionService/Evaluate"), Rpc::kEvaluate);
  EXPECT_EQ(RpcOf("/credit.v1.DecisionService/EvaluateStream"), Rpc::kEvaluateStream);
  EXPECT_EQ(RpcOf("/credit.v1.PolicyService/Reload"), Rpc::kReload);
  EXPECT_EQ(RpcOf("/grpc.health.v1.Health/Check"), Rpc::kHealthCheck);
  EXPECT_EQ(RpcOf("/grpc.health.v1.Health/Watch"), Rpc::kHealthWatch);
  EXPECT_EQ(RpcOf("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"),
            Rpc::kReflection);
  for (const char* other :
       {"", "/", "//", "/credit.v1.DecisionService/Evaluatex", "credit.v1.DecisionService/Evaluate",
        "/credit.v1.DecisionService", "/credit.v1.DecisionServiceXEvaluate", "/x/Evaluate"}) {
    EXPECT_EQ(RpcOf(other), Rpc::kUnknown) << other;
  }
  EXPECT_STREQ(LabelsOf(Rpc::kEvaluateStream).type, "bidi_stream");
  EXPECT_STREQ(LabelsOf(Rpc::kHealthWatch).type, "server_stream");
  EXPECT_STREQ(CodeName(0), "OK");
  EXPECT_STREQ(CodeName(3), "INVALID_ARGUMENT");
  EXPECT_STREQ(CodeName(16), "UNAUTHENTICATED");
  EXPECT_STREQ(CodeName(17), "UNKNOWN");
  EXPECT_STREQ(CodeName(-1), "UNKNOWN");
}

TEST(MetricsTest, HistogramBucketsAreCumulativeAndCountIsTheirSum) {
  AtomicHistogram histogram({10, 100, 1000}, 2);
  for (uint64_t v : {0, 10, 11, 100, 5000, 7}) histogram.Observe(v);
  prometheus::ClientMetric metric;
  histogram.Fill(metric);
  ASSERT_EQ(metric.histogram.bucket.size(), 4u);
  EXPECT_EQ(metric.histogram.bucket[0].cumulative_count, 3u);  // 0, 7, 10 (le is inclusive)
  EXPECT_EQ(metric.histogram.bucket[0].upper_bound, 5.0);
  EXPECT_EQ(metric.histogram.bucket[1].cumulative_count, 5u);
  EXPECT_EQ(metric.histogram.bucket[2].cumulative_count, 5u);
  EXPECT_EQ(metric.histogram.bucket[3].cumulative_count, 6u);
  EXPECT_TRUE(std::isinf(metric.histogram.bucket[3].upper_bound));
  EXPECT_EQ(metric.histogram.sample_count, 6u);
  EXPECT_EQ(metric.histogram.sample_sum, (0 + 10 + 11 + 100 + 5000 + 7) / 2.0);
}

TEST(MetricsTest, CallsAreCountedByMethodAndCode) {
  ServerMetrics metrics;
  const auto now = ServerMetrics::Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        metrics.Started(Rpc::kEvaluate);
        metrics.Handled(Rpc::kEvaluate,
                        i % 10 == 0 ? grpc::StatusCode::INVALID_ARGUMENT : grpc::StatusCode::OK,
                        now);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  metrics.Started(Rpc::kUnknown);
  metrics.Handled(Rpc::kUnknown, grpc::StatusCode::UNIMPLEMENTED, now);
  const std::string text = Text(metrics);
  const std::string evaluate =
      R"(grpc_type="unary",grpc_service="credit.v1.DecisionService",grpc_method="Evaluate")";
  EXPECT_TRUE(Has(text, "grpc_server_started_total{" + evaluate + "} 4000")) << text;
  EXPECT_TRUE(Has(text, "grpc_server_handled_total{" + evaluate + R"(,grpc_code="OK"} 3600)"));
  EXPECT_TRUE(
      Has(text, "grpc_server_handled_total{" + evaluate + R"(,grpc_code="INVALID_ARGUMENT"} 400)"));
  EXPECT_TRUE(Has(text, "grpc_server_handling_seconds_count{" + evaluate + "} 4000"));
  EXPECT_TRUE(Has(text, "grpc_server_handling_seconds_bucket{" + evaluate + R"(,le="+Inf"} 4000)"));
  EXPECT_TRUE(Has(
      text,
      R"(grpc_server_handled_total{grpc_type="unknown",grpc_service="unknown",grpc_method="unknown",grpc_code="UNIMPLEMENTED"} 1)"));
}

TEST(MetricsTest, DecisionsHaveOneCounterPerDecisionAndOutcome) {
  ServerMetrics metrics;
  DecisionCounter* approve = metrics.Decisions("credit_application", "approve");
  EXPECT_EQ(metrics.Decisions("credit_application", "approve"), approve);
  DecisionCounter* outputs = metrics.Decisions("dunning", "");
  EXPECT_NE(outputs, approve);
  approve->fetch_add(3);
  outputs->fetch_add(1);
  const std::string text = Text(metrics);
  EXPECT_TRUE(
      Has(text, R"(creditd_decisions_total{decision="credit_application",outcome="approve"} 3)"))
      << text;
  EXPECT_TRUE(Has(text, R"(creditd_decisions_total{decision="dunning",outcome=""} 1)")) << text;
}

TEST(MetricsTest, DecisionSeriesAreBounded) {
  ServerMetrics metrics;
  for (size_t i = 0; i < ServerMetrics::kMaxDecisionSeries; ++i) {
    metrics.Decisions("d" + std::to_string(i), "o");
  }
  DecisionCounter* over = metrics.Decisions("one_more", "o");
  EXPECT_EQ(metrics.Decisions("and_another", "x"), over);
  EXPECT_EQ(metrics.Decisions("", ""), over);
  EXPECT_NE(metrics.Decisions("d0", "o"), over);
  EXPECT_EQ(Text(metrics).find("one_more"), std::string::npos);
}

TEST(MetricsTest, TheLogsGroupsFailuresDropsAndDepth) {
  ServerMetrics metrics;
  audit::GroupCommit group;
  group.records = 5;
  group.written = 4;
  group.latency = absl::Milliseconds(3);
  metrics.OnGroupCommit(group);
  group.records = 2;
  group.written = 0;
  group.status = absl::UnavailableError("disk full");
  metrics.OnGroupCommit(group);
  metrics.OnRecordsDropped(7);
  std::string text = Text(metrics);
  EXPECT_TRUE(Has(text, "creditd_audit_records_written_total 4")) << text;
  EXPECT_TRUE(Has(text, "creditd_audit_commit_failures_total 1"));
  EXPECT_TRUE(Has(text, "creditd_audit_records_dropped_total 7"));
  EXPECT_TRUE(Has(text, "creditd_audit_failing 1"));
  EXPECT_TRUE(Has(text, "creditd_audit_group_records_count 1"));
  EXPECT_TRUE(Has(text, "creditd_audit_group_records_sum 5"));
  EXPECT_TRUE(Has(text, "creditd_audit_commit_seconds_count 2"));
  EXPECT_TRUE(Has(text, R"(creditd_audit_commit_seconds_bucket{le="0.0025"} 0)"));
  EXPECT_TRUE(Has(text, R"(creditd_audit_commit_seconds_bucket{le="0.005"} 2)"));
  // Depth and bound only once a log is watched.
  EXPECT_EQ(text.find("creditd_audit_queue_depth"), std::string::npos);
  metrics.WatchLog([] { return size_t{12}; }, 20000);
  group.status = absl::OkStatus();
  metrics.OnGroupCommit(group);
  text = Text(metrics);
  EXPECT_TRUE(Has(text, "creditd_audit_queue_depth 12")) << text;
  EXPECT_TRUE(Has(text, "creditd_audit_queue_limit 20000"));
  EXPECT_TRUE(Has(text, "creditd_audit_failing 0"));
}

TEST(MetricsTest, ReloadsByResult) {
  ServerMetrics metrics;
  metrics.Reloaded(true);
  metrics.Reloaded(true);
  metrics.Reloaded(false);
  const std::string text = Text(metrics);
  EXPECT_TRUE(Has(text, R"(creditd_reloads_total{result="accepted"} 2)")) << text;
  EXPECT_TRUE(Has(text, R"(creditd_reloads_total{result="rejected"} 1)"));
}

}  // namespace
}  // namespace creditd::server
