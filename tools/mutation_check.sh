#!/usr/bin/env bash
# Mutation check: breaks each behaviour listed in tools/mutations.txt on
# purpose, one at a time, and checks that its tests fail.
#
#   tools/mutation_check.sh              # every mutation
#   tools/mutation_check.sh ID...        # only these
#   tools/mutation_check.sh --ci         # the ones tagged "ci" (for .ci/run)
#
# The working tree (tracked and untracked files, not the ignored ones) is
# copied to a scratch directory; each mutation is applied there to a clean
# copy of its file, only its test targets run (short --test_timeout), and the
# file is restored. A mutation whose original text is not found exactly once
# is reported as STALE: the list no longer matches the code and must be
# updated. Prints one line per mutation (caught / NOT CAUGHT / STALE / DOES
# NOT BUILD) and a last line "mutation check: N caught, N not caught, ...";
# exits non-zero unless every mutation was caught. See tools/README.md.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
list="${root}/tools/mutations.txt"
ci=0
only=()
for arg in "$@"; do
  case "${arg}" in
    --ci) ci=1 ;;
    -*) echo "unknown flag ${arg}; usage: $0 [--ci] [ID...]" >&2; exit 2 ;;
    *) only+=("${arg}") ;;
  esac
done

# One scratch copy per source tree, reused between runs so that its Bazel
# output base stays warm; the shared disk cache does the rest.
scratch="/tmp/mutation_check_$(echo -n "${root}" | md5sum | cut -c1-12)"
mkdir -p "${scratch}"
(cd "${root}" && git ls-files -co --exclude-standard -z) > "${scratch}.files"
find "${scratch}" -mindepth 1 -maxdepth 1 ! -name 'bazel-*' -exec rm -rf {} +
(cd "${root}" && tar -c --null -T "${scratch}.files" -f -) | (cd "${scratch}" && tar -x -f -)
rm -f "${scratch}.files"
ln -sfn "${root}/third_party/sources" "${scratch}/third_party/sources"
cd "${scratch}" || exit 2

bazel_test() {
  tools/bazel test --keep_going --test_timeout=60 --test_output=errors "$@"
}

# Reads the list: "ID ||| FILE ||| ORIGINAL ||| REPLACEMENT ||| TARGETS |||
# DESCRIPTION [||| ci]", one mutation a line; '#' starts a comment line.
ids=() files=() originals=() replacements=() targets=() descriptions=()
while IFS= read -r line; do
  [[ -z "${line//[[:space:]]/}" || ${line} =~ ^[[:space:]]*# ]] && continue
  rest="${line}"
  fields=()
  while [[ ${rest} == *" ||| "* ]]; do
    fields+=("${rest%% ||| *}")
    rest="${rest#* ||| }"
  done
  fields+=("${rest}")
  if [[ ${#fields[@]} -lt 6 || ${#fields[@]} -gt 7 ]]; then
    echo "tools/mutations.txt: malformed line (${#fields[@]} fields): ${line}" >&2
    exit 2
  fi
  id="${fields[0]}"
  if [[ ${#only[@]} -gt 0 ]]; then
    [[ " ${only[*]} " == *" ${id} "* ]] || continue
  elif [[ ${ci} -eq 1 ]]; then
    [[ ${#fields[@]} -eq 7 && ${fields[6]} == ci ]] || continue
  fi
  ids+=("${id}") files+=("${fields[1]}") originals+=("${fields[2]}")
  replacements+=("${fields[3]}") targets+=("${fields[4]}") descriptions+=("${fields[5]}")
done < "${list}"
if [[ ${#ids[@]} -eq 0 ]]; then
  echo "no mutation selected" >&2
  exit 2
fi

start=${SECONDS}
# The tests must pass before anything is broken, or "caught" means nothing.
all_targets="$(printf '%s\n' "${targets[@]}" | tr ', ' '\n\n' | grep . | sort -u)"
# shellcheck disable=SC2086
if ! bazel_test ${all_targets} > "${scratch}.log" 2>&1; then
  grep -E '^//.*(FAILED|TIMEOUT|NO STATUS)' "${scratch}.log" >&2
  echo "mutation check: the unmutated tests fail; nothing checked" >&2
  exit 2
fi

caught=0 not_caught=0 stale=0 broken=0
for i in "${!ids[@]}"; do
  id="${ids[i]}" file="${files[i]}"
  mutation_start=${SECONDS}
  if ! python3 - "${file}" "${originals[i]}" "${replacements[i]}" <<'EOF'
import sys
path, original, replacement = sys.argv[1:]
text = open(path).read()
if text.count(original) != 1:
    sys.exit(f"found {text.count(original)} times in {path}: {original}")
open(path, "w").write(text.replace(original, replacement))
EOF
  then
    echo "STALE        ${id}: its original text is not in ${file} exactly once (${descriptions[i]})"
    stale=$((stale + 1))
    continue
  fi
  # shellcheck disable=SC2086
  bazel_test $(tr ',' ' ' <<< "${targets[i]}") > "${scratch}.log" 2>&1
  rc=$?
  cp "${root}/${file}" "${file}"
  elapsed=$((SECONDS - mutation_start))
  failing="$(grep -oE '^//[^ ]+ +(FAILED|TIMEOUT)' "${scratch}.log" | sed -E 's/ +/ /' | paste -sd, -)"
  case ${rc} in
    3)
      echo "caught       ${id}: ${descriptions[i]} -- by ${failing} (${elapsed} s)"
      caught=$((caught + 1)) ;;
    0)
      echo "NOT CAUGHT   ${id}: ${descriptions[i]} -- ${targets[i]} passed (${file}: '${originals[i]}' -> '${replacements[i]}')"
      not_caught=$((not_caught + 1)) ;;
    *)
      echo "DOES NOT BUILD ${id}: ${descriptions[i]} (bazel exit ${rc}):"
      grep -E 'error:' "${scratch}.log" | head -5
      broken=$((broken + 1)) ;;
  esac
done
rm -f "${scratch}.log"
tools/bazel shutdown 2>/dev/null

echo "mutation check: ${caught} caught, ${not_caught} not caught, ${stale} stale, ${broken} do not build, of ${#ids[@]} in $((SECONDS - start)) s"
[[ ${caught} -eq ${#ids[@]} ]]
