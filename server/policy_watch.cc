#include "server/policy_watch.h"

namespace creditd::server {

bool SettledChange::Due(const std::string& latest) {
  const bool settled = latest == seen_;
  seen_ = latest;
  if (!settled || latest == loaded_) return false;
  loaded_ = latest;
  return true;
}

}  // namespace creditd::server
