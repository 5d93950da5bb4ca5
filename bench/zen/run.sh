#!/usr/bin/env bash
# Side by side with GoRules ZEN: the grade bands and base-limit table of
# credit_application as a ZEN decision graph (grade_terms.json) and as a
# creditd policy (grade_terms.credit), the same 10,000 generated inputs
# through each, outputs compared for equality, throughput as a ratio.
# Installs ZEN from the npm registry into bench/zen/node_modules. Not part of
# the test command.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
scripts/setup
command -v node >/dev/null || { echo "run.sh: node is needed (Debian: nodejs, npm)" >&2; exit 1; }
(cd "$here" && npm install --no-audit --no-fund --silent)
cmake --preset release >/dev/null
cmake --build --preset release --target zen_compare
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
node "$here/gen_inputs.js" 10000 > "$work/inputs.jsonl"
node "$here/run_zen.js" "$work/inputs.jsonl" > "$work/zen.jsonl" 2> "$work/zen.time"
build/release/bench/zen_compare "$here/grade_terms.credit" "$work/inputs.jsonl" \
  > "$work/creditd.jsonl" 2> "$work/creditd.time"
cat "$work/zen.time" "$work/creditd.time"
node "$here/compare.js" "$work/zen.jsonl" "$work/creditd.jsonl"
zen=$(grep -o '[0-9]* decisions/s' "$work/zen.time" | cut -d' ' -f1)
creditd=$(grep -o '[0-9]* decisions/s' "$work/creditd.time" | cut -d' ' -f1)
echo "throughput ratio creditd / ZEN: $(( creditd / zen ))x"
