#!/usr/bin/env bash
# Runs //threadpool/examples:fetch and checks its output: five lines, each the
# length of the same page.
set -euo pipefail
fetch="${TEST_SRCDIR}/${TEST_WORKSPACE}/threadpool/examples/fetch"
output="$("${fetch}")"
echo "${output}"
lines="$(echo "${output}" | wc -l)"
distinct="$(echo "${output}" | sort -u)"
if [[ "${lines}" -ne 5 ]]; then
  echo "expected 5 lines, got ${lines}" >&2
  exit 1
fi
if [[ "$(echo "${distinct}" | wc -l)" -ne 1 || ! "${distinct}" =~ ^[0-9]+$ || "${distinct}" -eq 0 ]]; then
  echo "expected five equal, positive lengths" >&2
  exit 1
fi
