#!/usr/bin/env bash
# Copies each package into a fresh workspace named my_app, set up only as the
# package's README ("Using this package") says, and builds, tests and runs it
# there: the proof that the packages copy into other projects. Prints PASS or
# FAIL per step and ends with "N passed, N failed"; exits non-zero if any step
# failed.
#
#   tools/copy_test.sh                       # every package
#   tools/copy_test.sh gil_model harness     # some of them
#
# The copies find their dependencies as any project would name them:
# @com_google_absl, @com_google_googletest and @com_github_google_benchmark
# point at this checkout's third_party/sources, and the machine's offline
# Bazel setup (docs/building.md) is repeated as it is. Everything a package
# adds to WORKSPACE and .bazelrc is taken from its README, and checked to be
# there word for word. The shared disk cache makes the builds cheap.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bazel="${BAZEL_REAL:-/usr/bin/bazel}"
packages=("$@")
[[ ${#packages[@]} -gt 0 ]] || packages=(threadpool asyncio_like gil_model futures_bridge harness)

passed=0
failed=0
scratch="$(mktemp -d "${TMPDIR:-/tmp}/copy_test.XXXXXX")"
log="${scratch}/step.log"

# step NAME COMMAND...: runs COMMAND, prints PASS or FAIL (with the end of
# its output) and counts it.
step() {
  local name="$1"
  shift
  local start=${SECONDS}
  if "$@" > "${log}" 2>&1; then
    echo "PASS ${name} ($((SECONDS - start)) s)"
    passed=$((passed + 1))
  else
    echo "FAIL ${name} ($((SECONDS - start)) s)"
    tail -n 25 "${log}" | sed 's/^/    /'
    failed=$((failed + 1))
  fi
}

# What a package's README tells a copying project to add, line by line.
# Blank lines separate; each line must appear verbatim in the README.
readme_lines() {
  case "$1" in
    asyncio_like-WORKSPACE)
      echo 'load("//asyncio_like:liburing.bzl", "liburing_repository")'
      echo 'liburing_repository(name = "liburing")'
      ;;
    *-bazelrc)
      echo 'build --cxxopt=-std=c++20 --host_cxxopt=-std=c++20'
      ;;
  esac
}

# The packages each one needs copied beside it.
needs() {
  case "$1" in
    futures_bridge) echo "asyncio_like threadpool futures_bridge" ;;
    harness) echo "asyncio_like threadpool gil_model futures_bridge harness" ;;
    *) echo "$1" ;;
  esac
}

documented() {
  local readme="$1" kind="$2" copied="$3"
  local package line missing=0
  while IFS= read -r line; do
    [[ -n "${line}" ]] || continue
    if ! grep -qxF -- "${line}" "${repo}/${readme}"; then
      echo "${readme} does not say to add this to ${kind}: ${line}"
      missing=1
    fi
  done < <(for package in ${copied}; do readme_lines "${package}-${kind}"; done | sort -u)
  return ${missing}
}

# Writes the workspace: the environment any project on this machine has,
# then what the READMEs of the copied packages add.
make_workspace() {
  local ws="$1" copied="$2" package
  mkdir -p "${ws}"
  for package in ${copied}; do
    cp -r "${repo}/${package}" "${ws}/${package}" || return 1
  done
  {
    echo 'workspace(name = "my_app")'
    echo
    echo '# The project'"'"'s own dependencies, as this machine provides them.'
    for name_path in com_google_absl:abseil-cpp com_google_googletest:googletest \
        com_github_google_benchmark:benchmark; do
      echo "local_repository(name = \"${name_path%%:*}\", path = \"${repo}/third_party/sources/${name_path#*:}\")"
    done
    echo "local_repository(name = \"bazel_skylib\", path = \"/usr/share/bazel/tools/skylib\")"
    echo "local_repository(name = \"platforms\", path = \"/usr/share/bazel/tools/platforms\")"
    for name in rules_cc rules_java remote_coverage_tools; do
      echo "local_repository(name = \"${name}\", path = \"${repo}/third_party/${name}\")"
    done
    echo
    echo '# From the packages'"'"' READMEs.'
    for package in ${copied}; do readme_lines "${package}-WORKSPACE"; done
  } > "${ws}/WORKSPACE"
  {
    echo '# The project'"'"'s own settings: warnings, caches.'
    echo 'build --per_file_copt=.*,-external/.*@-Wall,-Wextra,-Werror'
    echo 'build --per_file_copt=external/.*@-w'
    echo 'build --nosandbox_debug'
    echo 'build --disk_cache=~/.cache/bazel-disk-cache'
    echo 'build --repository_cache=~/.cache/bazel-repository-cache'
    echo 'test --test_output=errors --nocache_test_results'
    echo
    echo '# From the packages'"'"' READMEs.'
    for package in ${copied}; do readme_lines "${package}-bazelrc"; done | sort -u
  } > "${ws}/.bazelrc"
  touch "${ws}/BUILD.bazel"
}

# Each package's main header, compiled below C++20, must stop with its
# #error rather than somewhere deep inside.
states_cxx20() {
  local package="$1" header
  case "${package}" in
    threadpool) header=thread_pool.h ;;
    asyncio_like) header=event_loop.h ;;
    gil_model) header=gil.h ;;
    futures_bridge) header=wrap_future.h ;;
    harness) header=runner.h ;;
  esac
  local out
  out="$(echo "#include \"${package}/${header}\"" |
    g++ -std=gnu++17 -fsyntax-only -x c++ -I "${repo}" \
      -I "${repo}/third_party/sources/abseil-cpp" - 2>&1)"
  grep -F "${package} needs C++20" <<< "${out}"
}

# The runs of each package's binaries, in the copy (`bazel run`) and from
# outside it, straight from bazel-bin (runfiles without Bazel's variables).
run_package() {
  local package="$1" ws="$2"
  case "${package}" in
    threadpool)
      step "threadpool: bazel run //threadpool/examples:fetch" \
        in_dir "${ws}" "${bazel}" run //threadpool/examples:fetch -- --workers=2
      ;;
    asyncio_like)
      step "asyncio_like: bazel run //asyncio_like/examples:gather" \
        in_dir "${ws}" "${bazel}" run //asyncio_like/examples:gather
      ;;
    futures_bridge)
      step "futures_bridge: bazel run //futures_bridge:example" \
        in_dir "${ws}" "${bazel}" run //futures_bridge:example
      ;;
    gil_model)
      step "gil_model: bazel run //gil_model:experiments -- --quick" \
        expect_output "## 3. I/O overlap" \
        in_dir "${ws}" "${bazel}" run //gil_model:experiments -- --quick
      step "gil_model: bazel-bin/gil_model/experiments, started from elsewhere" \
        expect_output "## 3. I/O overlap" \
        in_dir "${scratch}" "${ws}/bazel-bin/gil_model/experiments" \
        --countdown_units=20000 --rounds=1 --switch_intervals=1ms --io_threads=2 \
        --io_wait=10ms
      ;;
    harness)
      # compare_test runs `compare --quick` under bazel test; this runs it
      # as a user would, from outside the workspace, on the workloads that
      # have a CPython side. compare exits non-zero if any cell is an error.
      step "harness: bazel-bin/harness/compare --quick, started from elsewhere" \
        expect_output "| Feature | Asyncio | Thread Pool (Sync) |" \
        in_dir "${scratch}" "${ws}/bazel-bin/harness/compare" --quick \
        --workloads=io_fanout,cpu_pure
      ;;
  esac
}

in_dir() {
  local dir="$1"
  shift
  (cd "${dir}" && "$@")
}

# expect_output TEXT COMMAND...: COMMAND succeeds and prints TEXT.
expect_output() {
  local text="$1"
  shift
  local out
  out="$("$@" 2>&1)"
  local rc=$?
  echo "${out}"
  [[ ${rc} -eq 0 ]] && grep -qF -- "${text}" <<< "${out}"
}

total_start=${SECONDS}
for package in "${packages[@]}"; do
  if [[ ! -d "${repo}/${package}" ]]; then
    echo "FAIL ${package}: no such package"
    failed=$((failed + 1))
    continue
  fi
  copied="$(needs "${package}")"
  ws="${scratch}/${package}/my_app"
  echo "=== ${package} (copied: ${copied}) in ${ws}"
  step "${package}: README states the WORKSPACE lines" \
    documented "${package}/README.md" WORKSPACE "${copied}"
  step "${package}: README states the .bazelrc lines" \
    documented "${package}/README.md" bazelrc "${copied}"
  step "${package}: the headers require C++20 by name" states_cxx20 "${package}"
  make_workspace "${ws}" "${copied}"
  step "${package}: bazel test //${package}/..." \
    in_dir "${ws}" "${bazel}" test "//${package}/..."
  run_package "${package}" "${ws}"
  (cd "${ws}" && "${bazel}" clean --expunge > /dev/null 2>&1; "${bazel}" shutdown > /dev/null 2>&1)
done
rm -rf "${scratch}"
echo "copy test: $((SECONDS - total_start)) s"
echo "${passed} passed, ${failed} failed"
[[ ${failed} -eq 0 ]]
