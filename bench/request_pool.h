#pragma once

// The requests the load generator sends: for a mix of decisions, facts drawn
// from a seed across each input's declared range (read from the compiled
// policies, so they follow the policies' own declarations), and customer
// ids drawn from a population. Built and serialized once, before the load.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "credit/v1/creditd.pb.h"
#include "engine/bundle.h"
#include "engine/compiled_policy.h"

namespace creditd::bench {

// Decisions and how often each is asked for, relative to the others.
using Mix = std::vector<std::pair<std::shared_ptr<const engine::CompiledPolicy>, int>>;

// Parses "credit_application=3,order_release,dunning=2" (a name alone weighs
// 1) or "all" (every decision in `bundle`, equally). InvalidArgument naming
// an unknown decision (with the ones served) or a weight that is not a whole
// number from 1 to 1000.
absl::StatusOr<Mix> ParseMix(const std::string& text, const engine::Bundle& bundle);

struct PoolOptions {
  uint64_t seed = 1;
  int size = 1024;        // distinct requests; calls cycle through them
  int customers = 10000;  // customer ids C-000000 .. C-(customers-1)
};

// `options.size` requests, decisions drawn by weight from `mix`, each input
// given a value inside its declared range (money in cents, percents in
// hundredths of a percent): half the time uniformly over the range, half the
// time a magnitude drawn log-uniformly, so that values near zero (days,
// counts, ratios) come as often as the long tail; an unbounded side spans a
// width fitting the type (money up to 10,000,000, whole numbers up to
// 1,000). So the bands and rules of the policies are all reached.
// The same seed gives the same requests. Each request is decided locally
// first: Internal when one would be refused (a fact outside what the policy
// takes), so the load never measures rejections by accident.
absl::StatusOr<std::vector<credit::v1::EvaluateRequest>> BuildPool(const Mix& mix,
                                                                   const PoolOptions& options);

}  // namespace creditd::bench
