#!/usr/bin/env bash
# Takes a fresh Debian bookworm machine to a working build of this workspace.
#
# Installs, only where missing:
#   - Debian packages: Bazel 4.2.3 (bazel-bootstrap), bazel-skylib, the C++
#     toolchain, liburing-dev, dpkg-dev (to unpack source packages), python3,
#     and clang 14 with its sanitizer and libFuzzer runtimes.
#   - A deb-src entry for bookworm main, so apt can fetch source packages.
#   - The sources of Abseil, GoogleTest and Google Benchmark, from Debian's
#     source packages (upstream code with Debian's patches applied), unpacked
#     into third_party/sources/ (git-ignored, and ignored by Bazel's //...).
#
# Idempotent: when everything is present it prints nothing and exits 0.
# Needs root (or passwordless sudo) only when something must be installed.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
sources_dir="${repo_root}/third_party/sources"

# Debian packages the build needs. bazel-skylib and bazel-platforms back
# @bazel_skylib and @platforms, which Abseil's BUILD files load.
# clang-14 and libclang-rt-14-dev (its sanitizer and libFuzzer runtimes) back
# --config=clang, clang-asan and fuzz.
packages=(bazel-bootstrap bazel-skylib bazel-platforms g++ liburing-dev dpkg-dev python3
          clang-14 libclang-rt-14-dev)

# Source package name -> directory under third_party/sources/ (the Bazel
# repository rules in WORKSPACE point at these fixed names).
declare -A source_dirs=(
  [abseil]=abseil-cpp
  [googletest]=googletest
  [benchmark]=benchmark
)

say() { echo "setup: $*" >&2; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    say "need root to run: $*"
    exit 1
  fi
}

apt_updated=0
apt_update_once() {
  if [[ ${apt_updated} -eq 0 ]]; then
    say "running apt-get update"
    as_root apt-get update -qq
    apt_updated=1
  fi
}

missing_packages=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "${pkg}" 2>/dev/null | grep -q "install ok installed"; then
    missing_packages+=("${pkg}")
  fi
done
if [[ ${#missing_packages[@]} -gt 0 ]]; then
  apt_update_once
  say "installing Debian packages: ${missing_packages[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_packages[@]}" >/dev/null
fi

missing_sources=()
for src in "${!source_dirs[@]}"; do
  [[ -f "${sources_dir}/${source_dirs[${src}]}/.unpacked" ]] || missing_sources+=("${src}")
done
if [[ ${#missing_sources[@]} -gt 0 ]]; then
  if ! grep -rqsE '^(Types: *deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    say "adding a deb-src entry for bookworm main (/etc/apt/sources.list.d/bookworm-src.sources)"
    as_root tee /etc/apt/sources.list.d/bookworm-src.sources >/dev/null <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    apt_updated=0
  fi
  apt_update_once
  mkdir -p "${sources_dir}"
  work="$(mktemp -d)"
  trap 'rm -rf "${work}"' EXIT
  for src in "${missing_sources[@]}"; do
    say "fetching Debian source package '${src}' into third_party/sources/${source_dirs[${src}]}"
    (cd "${work}" && apt-get source -qq "${src}" >/dev/null 2>&1) || {
      say "apt-get source ${src} failed; is a deb-src entry for bookworm main configured?"
      exit 1
    }
    unpacked="$(find "${work}" -mindepth 1 -maxdepth 1 -type d | head -n 1)"
    rm -rf "${sources_dir:?}/${source_dirs[${src}]}"
    mv "${unpacked}" "${sources_dir}/${source_dirs[${src}]}"
    rm -rf "${work:?}"/*
    touch "${sources_dir}/${source_dirs[${src}]}/.unpacked"
  done
fi
