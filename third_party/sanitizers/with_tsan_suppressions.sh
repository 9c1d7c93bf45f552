#!/usr/bin/env bash
# Runs "$@" with TSAN_OPTIONS pointing at tsan_suppressions.txt, found beside
# this script in its runfiles (an absolute path, whatever the test's cwd).
set -euo pipefail
self="${BASH_SOURCE[0]}"
for candidate in \
    "${self}.runfiles/python_concurrency_models/third_party/sanitizers/tsan_suppressions.txt" \
    "${RUNFILES_DIR:-/nonexistent}/python_concurrency_models/third_party/sanitizers/tsan_suppressions.txt" \
    "$(dirname "${self}")/tsan_suppressions.txt"; do
  if [[ -f "${candidate}" ]]; then
    suppressions="$(cd "$(dirname "${candidate}")" && pwd)/tsan_suppressions.txt"
    break
  fi
done
if [[ -z "${suppressions:-}" ]]; then
  echo "with_tsan_suppressions: tsan_suppressions.txt not found in runfiles" >&2
  exit 1
fi
export TSAN_OPTIONS="${TSAN_OPTIONS:+${TSAN_OPTIONS}:}suppressions=${suppressions}"
exec "$@"
