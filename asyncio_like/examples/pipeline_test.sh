#!/usr/bin/env bash
# Runs the pipeline example: its default pipeline, one given on the command
# line (whose head stops reading early), and ones that cannot start.
set -euo pipefail
pipeline="$1"
out="$("${pipeline}" 2> /dev/null)"
[[ "${out}" == "271" ]] || { echo "seq 1 1000 | grep 7 | wc -l: got '${out}'" >&2; exit 1; }
out="$("${pipeline}" seq 1 100000 '|' sort -rn '|' head -2 2> /dev/null)"
[[ "${out}" == $'100000\n99999' ]] || { echo "sort | head: got '${out}'" >&2; exit 1; }
rc=0
"${pipeline}" sh -c 'exit 3' '|' cat > /dev/null 2>&1 || rc=$?
# The last program's status; cat succeeded.
[[ ${rc} -eq 0 ]] || { echo "expected status 0, got ${rc}" >&2; exit 1; }
rc=0
"${pipeline}" cat /dev/null '|' sh -c 'exit 3' > /dev/null 2>&1 || rc=$?
[[ ${rc} -eq 3 ]] || { echo "expected status 3, got ${rc}" >&2; exit 1; }
rc=0
err="$("${pipeline}" seq 1 10 '|' no-such-program-here 2>&1 > /dev/null)" || rc=$?
[[ ${rc} -eq 1 ]] || { echo "expected status 1, got ${rc}" >&2; exit 1; }
grep -qF "pipeline: spawn 'no-such-program-here': No such file or directory" <<< "${err}" ||
  { echo "unexpected error: ${err}" >&2; exit 1; }
rc=0
err="$("${pipeline}" seq 1 10 '|' 2>&1)" || rc=$?
[[ ${rc} -eq 2 ]] && grep -qF "empty stage" <<< "${err}" || { echo "empty stage: ${rc} ${err}" >&2; exit 1; }
echo "pipeline example: ok"
