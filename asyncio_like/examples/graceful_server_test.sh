#!/usr/bin/env bash
# Runs the graceful server, connects two clients, interrupts the server with
# SIGINT (as Ctrl-C does) and checks that it told both clients, closed both
# connections and exited with status 0; then the same with SIGTERM.
set -euo pipefail
# Job control on: a background job started without it ignores SIGINT, and
# a program that ignores SIGINT keeps ignoring it (as Python does).
set -m
server="$1"
dir="${TEST_TMPDIR:-/tmp}"

# start_server OUT: starts the server on a free port; sets server_pid, port.
start_server() {
  "${server}" --port=0 > "$1" 2>&1 &
  server_pid=$!
  for _ in $(seq 200); do
    grep -q "Serving on" "$1" && break
    sleep 0.05
  done
  port="$(sed -n 's/^Serving on .*:\([0-9]*\)$/\1/p' "$1")"
  [[ -n "${port}" ]] || { echo "the server did not start: $(cat "$1")"; exit 1; }
}

# expect_line FD EXPECTED
expect_line() {
  local line=""
  read -r -t 10 -u "$1" line || true
  [[ "${line}" == "$2" ]] || { echo "fd $1: expected '$2', got '${line}'" >&2; exit 1; }
}

# expect_eof FD: the server closed the connection.
expect_eof() {
  local line=""
  if read -r -t 10 -u "$1" line; then
    echo "fd $1: expected end of stream, got '${line}'" >&2
    exit 1
  fi
  # read fails at end of stream (status 1) and on timeout (status > 128).
  [[ -z "${line}" ]] || { echo "fd $1: partial line '${line}'" >&2; exit 1; }
}

check_stop() {  # SIGNAL EXPECTED_REASON EXPECTED_FINAL
  local out="${dir}/graceful_$1.out"
  start_server "${out}"
  exec 3<>"/dev/tcp/127.0.0.1/${port}"
  exec 4<>"/dev/tcp/127.0.0.1/${port}"
  echo "hello" >&3
  echo "world" >&4
  expect_line 3 "hello"
  expect_line 4 "world"
  kill "-$1" "${server_pid}"
  local rc=0
  wait "${server_pid}" || rc=$?
  [[ ${rc} -eq 0 ]] || { echo "SIG$1: exit status ${rc}: $(cat "${out}")" >&2; exit 1; }
  for fd in 3 4; do
    expect_line "${fd}" "server shutting down"
    expect_eof "${fd}"
  done
  exec 3>&- 4>&-
  grep -qx "$2: closed 2 connections, 0 open" "${out}" || { echo "SIG$1: $(cat "${out}")" >&2; exit 1; }
  grep -qx "$3" "${out}" || { echo "SIG$1: $(cat "${out}")" >&2; exit 1; }
  echo "SIG$1: $(tr '\n' '|' < "${out}")"
}

check_stop INT "Ctrl-C" "Stopped (KeyboardInterrupt)"
check_stop TERM "SIGTERM" "Stopped (SIGTERM)"
