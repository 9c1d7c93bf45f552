#!/usr/bin/env bash
# Runs //gil_model:experiments as a user would: what it does not understand
# is an error with a message and a non-zero exit, before any experiment runs;
# --help describes every flag; and a tiny run finds its runfiles and prints
# all three experiments.
set -euo pipefail
experiments="$1"

# expect_error MESSAGE ARGS...: experiments ARGS fails, prints MESSAGE on
# stderr and nothing on stdout (no experiment started).
expect_error() {
  local message="$1"
  shift
  local out="${TEST_TMPDIR}/out" err="${TEST_TMPDIR}/err" rc=0
  "${experiments}" "$@" > "${out}" 2> "${err}" || rc=$?
  if [[ ${rc} -eq 0 ]]; then
    echo "experiments $* exited 0; expected an error" >&2
    exit 1
  fi
  if ! grep -qF -- "${message}" "${err}"; then
    echo "experiments $*: expected '${message}' on stderr, got: $(cat "${err}")" >&2
    exit 1
  fi
  if [[ -s "${out}" ]]; then
    echo "experiments $*: started despite the error: $(head -3 "${out}")" >&2
    exit 1
  fi
}

expect_error "Unknown command line flag 'bogus'" --bogus=1
expect_error "Unknown command line flag 'switch_interval'" --switch_interval=abc
expect_error "--switch_intervals: 'abc' is not a duration" --switch_intervals=abc
expect_error "--switch_intervals: 'abc' is not a duration" --switch_intervals=5ms,abc
expect_error "--switch_intervals: 0 is out of range" --switch_intervals=0
expect_error "--switch_intervals: 2s is out of range" --switch_intervals=2s
expect_error "unexpected argument 'extra'" extra
expect_error "unexpected argument 'extra'" --quick extra
expect_error "Illegal value 'abc' specified for flag 'rounds'" --rounds=abc
expect_error "--rounds=0 is out of range: valid is 1..100" --rounds=0
expect_error "--countdown_units=10 is out of range" --countdown_units=10
expect_error "--io_threads=0 is out of range" --io_threads=0
expect_error "Illegal value '5parsecs' specified for flag 'io_wait'" --io_wait=5parsecs
expect_error "--io_wait=0 is out of range" --io_wait=0
expect_error "--python=/nonexistent/python3 cannot run" --python=/nonexistent/python3

help="$("${experiments}" --help 2>&1 || true)"
for flag in --quick --switch_intervals --countdown_units --rounds --io_threads \
    --io_wait --python; do
  grep -qF -- "${flag}" <<< "${help}" || { echo "--help does not describe ${flag}: ${help}" >&2; exit 1; }
done

# The smallest run: every experiment once, the CPython side included when
# python3 is on PATH.
out="$("${experiments}" --countdown_units=20000 --rounds=1 \
    --switch_intervals=1ms --io_threads=2 --io_wait=10ms)"
echo "${out}"
for heading in "## 1. CPU-bound: countdown of 20000 iterations" \
    "## 2. Convoy" "## 3. I/O overlap: 2 threads each block once for 10ms"; do
  grep -qF -- "${heading}" <<< "${out}" || { echo "missing: ${heading}" >&2; exit 1; }
done
if command -v python3 > /dev/null; then
  grep -q "^| CPython (its GIL) .* s |" <<< "${out}" || { echo "no CPython row" >&2; exit 1; }
fi
echo PASS
