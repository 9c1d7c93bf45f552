#!/usr/bin/env bash
# Starts the example echo server on a free port, runs the example client
# against it, and checks the echoed line.
set -euo pipefail
server="$1"
client="$2"
out="${TEST_TMPDIR:-/tmp}/echo_server.out"
"${server}" --port=0 > "${out}" &
server_pid=$!
trap 'kill "${server_pid}"' EXIT
for _ in $(seq 100); do
  grep -q "Serving on" "${out}" && break
  sleep 0.05
done
port="$(sed -n 's/^Serving on .*:\([0-9]*\)$/\1/p' "${out}")"
[[ -n "${port}" ]] || { echo "the server did not start: $(cat "${out}")"; exit 1; }
reply="$("${client}" --port="${port}" --message="round trip")"
echo "${reply}"
grep -q "^Received: round trip$" <<< "${reply}"

# What the examples do not understand is an error with a message and a
# non-zero exit, before the server listens or the client connects.
# expect_error MESSAGE PROGRAM ARGS...
expect_error() {
  local message="$1" program="$2"
  shift 2
  local err="${TEST_TMPDIR:-/tmp}/err" rc=0
  timeout 10 "${program}" "$@" > /dev/null 2> "${err}" || rc=$?
  if [[ ${rc} -eq 0 || ${rc} -eq 124 ]]; then
    echo "$(basename "${program}") $* exited ${rc}; expected an error" >&2
    exit 1
  fi
  if ! grep -qF -- "${message}" "${err}"; then
    echo "$(basename "${program}") $*: expected '${message}', got: $(cat "${err}")" >&2
    exit 1
  fi
}

for program in "${server}" "${client}"; do
  expect_error "Unknown command line flag 'bogus'" "${program}" --bogus=1
  expect_error "Illegal value 'abc' specified for flag 'port'" "${program}" --port=abc
  expect_error "--port=70000 is out of range" "${program}" --port=70000
  expect_error "unexpected argument '18890'" "${program}" 18890
  help="$("${program}" --help 2>&1 || true)"
  for flag in --port --host; do
    grep -qF -- "${flag}" <<< "${help}" || { echo "--help does not describe ${flag}: ${help}" >&2; exit 1; }
  done
done
expect_error "--port=-1 is out of range: valid is 0..65535" "${server}" --port=-1
expect_error "--port=0 is out of range: valid is 1..65535" "${client}" --port=0
expect_error "unexpected argument 'hi'" "${client}" --port="${port}" hi
grep -qF -- --message <<< "$("${client}" --help 2>&1 || true)"
expect_error "'not-an-address' is not a numeric IPv4 or IPv6 address" "${server}" --host=not-an-address
expect_error "'not-an-address' is not a numeric IPv4 or IPv6 address" "${client}" --host=not-an-address
