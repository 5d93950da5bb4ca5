#pragma once

// The credit_application request the server benchmarks send: an existing
// customer with a full scorecard who is approved, facts typed as a client
// sends them (decimals as text).

#include "credit/v1/creditd.pb.h"

namespace creditd::bench {

inline credit::v1::EvaluateRequest CreditApplicationRequest() {
  credit::v1::EvaluateRequest r;
  r.set_decision("credit_application");
  r.set_customer_id("C-1001");
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

}  // namespace creditd::bench
