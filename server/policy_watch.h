#pragma once

// When --watch_seconds reloads the policy directory: not at the first sign
// of a change, but once the change has settled.

#include <string>
#include <utility>

namespace creditd::server {

// Decides, once a watch period, whether the policies should reload. A file
// written in place (an editor, `cp`, a copy still under way) can be read
// between two of its writes: whole-looking, parseable, and short of a rule.
// So a change is loaded only once the directory's latest change has stayed
// the same for a whole period: a writer still writing moves it on, and the
// load waits. A file that changes while it is read is refused by the
// loader and moves it on too, so the next settled period loads it again.
// Only a writer pausing longer than a period in the middle of a file can
// still be caught half-way, and a version it leaves half-written is bound
// to that text in the audit log forever: write files under a dot-name and
// rename them into place (docs/operations.md).
class SettledChange {
 public:
  // `loaded`: the latest change when the policies were last loaded.
  explicit SettledChange(std::string loaded) : loaded_(loaded), seen_(std::move(loaded)) {}

  // Called once a period with the directory's latest change (a time, or
  // why it could not be looked at: an error reloads once too, and the
  // reload reports it). True when the policies should reload now; the
  // change then counts as loaded.
  bool Due(const std::string& latest);

 private:
  std::string loaded_;
  std::string seen_;  // at the period before
};

}  // namespace creditd::server
