// What server::Decide logs for a decision, and the ids it refuses.
#include "server/decide.h"

#include <string>
#include <vector>

#include "api/decision.h"
#include "engine/bundle.h"
#include "gtest/gtest.h"

namespace creditd::server {
namespace {

namespace v1 = credit::v1;

const engine::Registry& Policies() {
  static const engine::Registry* registry = [] {
    auto* r = new engine::Registry;
    engine::DiskFileReader reader;
    absl::StatusOr<engine::BundleLoad> load = engine::LoadBundle("policies", reader);
    EXPECT_TRUE(load.ok() && load->bundle != nullptr);
    if (load.ok() && load->bundle != nullptr) {
      EXPECT_TRUE(r->Install(load->bundle).ok());
    }
    return r;
  }();
  return *registry;
}

v1::EvaluateRequest Dunning() {
  v1::EvaluateRequest request;
  request.set_decision("dunning");
  request.set_request_id("r-1");
  auto& f = *request.mutable_facts();
  f["segment"].set_enum_value("existing");
  f["overdue_amount"].set_decimal_value("186420.50");
  f["has_reasonable_explanation"].set_bool_value(false);
  f["dunning_block"].set_bool_value(false);
  f["days_past_due"].set_int_value(47);
  return request;
}

TEST(DecideTest, LogsTheCanonicalFactsEvaluatedAndTheAnswerAsSent) {
  v1::EvaluateRequest request = Dunning();
  request.set_explain(true);
  v1::Decision answer;
  Decided decided = Decide(Policies(), request, &answer);
  ASSERT_TRUE(decided.status.ok()) << decided.status.error_message();
  const audit::AuditRecord& r = decided.record;
  EXPECT_EQ(r.format, audit::kLogFormat);
  EXPECT_EQ(r.facts_json,
            R"({"days_past_due":{"int":"47"},"dunning_block":{"bool":"false"},)"
            R"("has_reasonable_explanation":{"bool":"false"},)"
            R"("overdue_amount":{"decimal":"186420.50"},"segment":{"symbol":"existing"}})");
  EXPECT_EQ(r.result_json, api::DeterministicBytes(answer));
  v1::Decision logged;
  ASSERT_TRUE(api::ParseDecision(r.result_json, &logged).ok());
  EXPECT_TRUE(api::SameDecision(logged, answer));
  EXPECT_EQ(logged.decision_id(), r.decision_id);
  EXPECT_EQ(logged.request_id(), "r-1");
  EXPECT_GT(logged.trace_size(), 0);
}

std::string Bytes(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(buffer.Dump(&slices).ok());
  std::string out;
  for (const grpc::Slice& slice : slices) {
    out.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return out;
}

// The caller receives the decision's logged bytes, serialized once.
TEST(DecideTest, TheAnswerCarriesTheLoggedBytes) {
  v1::Decision answer;
  Decided decided = Decide(Policies(), Dunning(), &answer);
  ASSERT_TRUE(decided.status.ok()) << decided.status.error_message();
  const std::string& logged = decided.record.result_json;

  const std::string unary = Bytes(AnswerWithDecision("", 1, logged));
  EXPECT_NE(unary.find(logged), std::string::npos);
  v1::EvaluateResponse response;
  ASSERT_TRUE(response.ParseFromString(unary));
  EXPECT_TRUE(api::SameDecision(response.decision(), answer));

  v1::StreamResponse head;
  head.set_request_id("r-1");
  const std::string stream = Bytes(AnswerWithDecision(head.SerializeAsString(), 2, logged));
  v1::StreamResponse item;
  ASSERT_TRUE(item.ParseFromString(stream));
  EXPECT_EQ(item.request_id(), "r-1");
  ASSERT_TRUE(item.has_decision());
  EXPECT_TRUE(api::SameDecision(item.decision(), answer));
  // As long as the message serialized whole: nothing more, nothing less.
  v1::StreamResponse whole;
  whole.set_request_id("r-1");
  *whole.mutable_decision() = answer;
  EXPECT_EQ(stream.size(), whole.ByteSizeLong());
}

TEST(DecideTest, IdsThatAreNotUtf8AreRefused) {
  for (const char* field : {"request_id", "customer_id"}) {
    v1::EvaluateRequest request = Dunning();
    const std::string id = "r-\xc3\x28";  // a lead byte without its continuation
    if (std::string(field) == "request_id") {
      request.set_request_id(id);
    } else {
      request.set_customer_id(id);
    }
    v1::Decision answer;
    Decided decided = Decide(Policies(), request, &answer);
    EXPECT_EQ(decided.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(decided.status.error_message(), std::string(field) + " `r-\\xc3(` is not UTF-8");
  }
  v1::EvaluateRequest request = Dunning();
  request.set_request_id("r-\xc3\xa9");
  v1::Decision answer;
  EXPECT_TRUE(Decide(Policies(), request, &answer).status.ok());
}

}  // namespace
}  // namespace creditd::server
