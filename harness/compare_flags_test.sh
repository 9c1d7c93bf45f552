#!/usr/bin/env bash
# Runs //harness:compare with command lines it must refuse: each is an error
# with a message and a non-zero exit before any model runs. --help describes
# the flags.
set -euo pipefail
compare="$1"

# expect_error MESSAGE ARGS...: compare ARGS fails with MESSAGE on stderr,
# having run nothing (no progress lines, no report).
expect_error() {
  local message="$1"
  shift
  local out="${TEST_TMPDIR}/out" err="${TEST_TMPDIR}/err" rc=0
  "${compare}" "$@" > "${out}" 2> "${err}" || rc=$?
  if [[ ${rc} -eq 0 ]]; then
    echo "compare $* exited 0; expected an error" >&2
    exit 1
  fi
  if ! grep -qF -- "${message}" "${err}"; then
    echo "compare $*: expected '${message}' on stderr, got: $(cat "${err}")" >&2
    exit 1
  fi
  if [[ -s "${out}" ]] || grep -q '^\[1/' "${err}"; then
    echo "compare $*: ran despite the error: $(head -3 "${err}")" >&2
    exit 1
  fi
}

expect_error "Unknown command line flag 'bogus'" --bogus=1
expect_error "unexpected argument 'extra'" extra
expect_error "unexpected argument 'extra'" --quick extra
expect_error "Illegal value 'abc' specified for flag 'repetitions'" --repetitions=abc
expect_error "--python=/nonexistent/python3 cannot run: /nonexistent/python3 is not an executable file" \
  --quick --python=/nonexistent/python3
expect_error "--python=no-such-python3 cannot run: no-such-python3 is not on PATH" \
  --quick --python=no-such-python3
# A file that exists but is not an interpreter.
not_python="${TEST_TMPDIR}/not_python"
printf '#!/bin/sh\nexit 3\n' > "${not_python}"
chmod +x "${not_python}"
expect_error "--python=${not_python} cannot run" --quick --python="${not_python}"

file="${TEST_TMPDIR}/a_file"
echo "not a directory" > "${file}"
expect_error "--out: ${file} exists and is not a directory" --quick --out="${file}"
expect_error "--out: cannot create ${file}/" --quick --out="${file}/report"
if [[ "$(id -u)" -ne 0 ]]; then
  read_only="${TEST_TMPDIR}/read_only"
  mkdir -p "${read_only}"
  chmod 555 "${read_only}"
  expect_error "--out: cannot write into ${read_only}" --quick --out="${read_only}"
fi

help="$("${compare}" --help 2>&1 || true)"
for flag in --quick --models --workloads --out --repetitions --python; do
  grep -qF -- "${flag}" <<< "${help}" || { echo "--help does not describe ${flag}: ${help}" >&2; exit 1; }
done
echo PASS
