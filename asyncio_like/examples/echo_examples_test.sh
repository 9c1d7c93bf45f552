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
