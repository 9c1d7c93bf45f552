#!/usr/bin/env bash
# Runs the benchmark binary for exactly one iteration and checks that it
# reports that benchmark, with one iteration, in its JSON output.
set -euo pipefail
binary="${TEST_SRCDIR}/${TEST_WORKSPACE}/third_party/tests/benchmark_smoke"
out="${TEST_TMPDIR}/out.json"
"${binary}" --benchmark_min_time=0 --benchmark_format=json --benchmark_out="${out}" >/dev/null
grep -q '"name": "BM_Accumulate/1024"' "${out}" || { echo "benchmark missing from output"; cat "${out}"; exit 1; }
grep -q '"iterations": 1,' "${out}" || { echo "expected exactly one iteration"; cat "${out}"; exit 1; }
echo "benchmark ran one iteration"
