#!/usr/bin/env bash
# Runs each libFuzzer target for a bounded time.
#
#   fuzz/run_fuzzers.sh [SECONDS [TARGET...]]
#
# SECONDS per target (default 60); TARGET names under //fuzz (default: all
# of them). Builds with --config=fuzz (clang, ASan+UBSan, coverage), starts
# from fuzz/corpus/<target>/ and writes what it discovers to a temporary
# directory, never into the repository. A failing input is kept and its path
# printed; make it a regression test by copying it into
# fuzz/corpus/<target>/ as regression-<what it breaks>, where
# //fuzz:<target>_replay_test runs it with every compiler and sanitizer.
# Ends with one line: "fuzz: ..." and exits non-zero if any target failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds="${1:-60}"
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(stream_framing_fuzzer json_fuzzer)

labels=()
for target in "${targets[@]}"; do labels+=("//fuzz:${target}"); done
if ! tools/bazel build --config=fuzz "${labels[@]}"; then
  echo "fuzz: the fuzz targets did not build"
  exit 1
fi
bin="$(tools/bazel info --config=fuzz bazel-bin 2>/dev/null)/fuzz"
work="${TMPDIR:-/tmp}/fuzz.$$"
mkdir -p "${work}"

failed=0
summary=()
for target in "${targets[@]}"; do
  mkdir -p "${work}/${target}/new"
  log="${work}/${target}/log"
  echo "=== ${target}: ${seconds} s"
  # The first corpus directory receives new inputs; the repository's is
  # only read.
  "${bin}/${target}" -max_total_time="${seconds}" -timeout=20 -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix="${work}/${target}/" \
    "${work}/${target}/new" "fuzz/corpus/${target}" 2>&1 | tee "${log}" | grep -E '^#[0-9]+ +(DONE|INITED)|ERROR|SUMMARY|mismatch|JSON reader'
  rc=${PIPESTATUS[0]}
  runs="$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "${log}" | grep -oE '[0-9]+$')"
  if [[ ${rc} -eq 0 ]]; then
    summary+=("${target} ${runs:-?} runs")
  else
    failed=$((failed + 1))
    summary+=("${target} FAILED")
    for crash in "${work}/${target}"/{crash,leak,timeout,oom}-*; do
      [[ -e ${crash} ]] || continue
      echo "=== ${target}: failing input kept as ${crash}"
      echo "    replay: ${bin}/${target} ${crash}"
      echo "    keep as a regression test: cp ${crash} fuzz/corpus/${target}/regression-<what>"
    done
    echo "=== ${target}: full log in ${log}"
  fi
done
if [[ ${failed} -eq 0 ]]; then
  rm -rf "${work}"
  echo "fuzz: ${seconds} s each: ${summary[*]}; no failures"
  exit 0
fi
echo "fuzz: ${failed} of ${#targets[@]} targets failed: ${summary[*]}"
exit 1
