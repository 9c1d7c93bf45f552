#!/usr/bin/env bash
# Runs //threadpool/examples:fetch and checks its output: five lines, each the
# length of the same page. Then checks that what it does not understand is an
# error with a message and a non-zero exit, and that --help lists its flags.
set -euo pipefail
fetch="${TEST_SRCDIR}/${TEST_WORKSPACE}/threadpool/examples/fetch"

check_lengths() {
  local output="$1"
  echo "${output}"
  local lines distinct
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
}

check_lengths "$("${fetch}")"
check_lengths "$("${fetch}" --workers=1)"

# expect_error MESSAGE ARGS...: fetch ARGS fails, prints MESSAGE on stderr
# and nothing on stdout.
expect_error() {
  local message="$1"
  shift
  local out="${TEST_TMPDIR}/out" err="${TEST_TMPDIR}/err" rc=0
  "${fetch}" "$@" > "${out}" 2> "${err}" || rc=$?
  if [[ ${rc} -eq 0 ]]; then
    echo "fetch $* exited 0; expected an error" >&2
    exit 1
  fi
  if ! grep -qF -- "${message}" "${err}"; then
    echo "fetch $*: expected '${message}' on stderr, got: $(cat "${err}")" >&2
    exit 1
  fi
  if [[ -s "${out}" ]]; then
    echo "fetch $*: printed on stdout despite the error: $(cat "${out}")" >&2
    exit 1
  fi
}

expect_error "Unknown command line flag 'bogus'" --bogus
expect_error "Unknown command line flag 'max_workers'" --max_workers=5
expect_error "Illegal value 'abc' specified for flag 'workers'" --workers=abc
expect_error "--workers=0 is out of range: valid is 1..64" --workers=0
expect_error "--workers=65 is out of range" --workers=65
expect_error "unexpected argument 'extra'" extra
expect_error "unexpected argument 'extra'" --workers=2 extra
expect_error "--url=ftp://example.com/ is not an http:// URL" --url=ftp://example.com/
expect_error "--url=http://:80/ has no host" --url=http://:80/
expect_error "the port must be a number in 1..65535" --url=http://127.0.0.1:99999/
expect_error "the port must be a number in 1..65535" --url=http://127.0.0.1:http/

help="$("${fetch}" --help 2>&1 || true)"
for flag in --workers --url; do
  grep -qF -- "${flag}" <<< "${help}" || { echo "--help does not describe ${flag}: ${help}" >&2; exit 1; }
done
echo PASS
