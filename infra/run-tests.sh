#!/usr/bin/env bash
# The one test command: starts RabbitMQ and PostgreSQL when needed (installing them, and chromium, on a
# fresh Debian machine), runs every test project in the solution against them, and ends with one line
# `N passed, N failed, N skipped` summed over all test assemblies.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# --with-browser: the console's tests drive Debian's chromium (headless, through Playwright).
eval "$(infra/start.sh --with-browser)"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
dotnet test SegmentationEvents.sln "$@" 2>&1 | tee "$log" || status=$?

# dotnet test prints one "Passed!/Failed!  - Failed: F, Passed: P, Skipped: S, Total: T" line per assembly.
summary=$(grep -E '^(Passed|Failed)!' "$log" | sed -E 's/.*Failed: *([0-9]+), Passed: *([0-9]+), Skipped: *([0-9]+).*/\1 \2 \3/' \
  | awk '{f+=$1; p+=$2; s+=$3} END {printf "%d passed, %d failed, %d skipped", p, f, s}')
assemblies=$(grep -cE '^(Passed|Failed)!' "$log" || true)
if [[ "$status" -ne 0 && "$assemblies" -eq 0 ]]; then
  echo "0 passed, 1 failed (the build or test host failed before any test ran; see above)"
  exit "$status"
fi
echo "$summary"
exit "$status"
