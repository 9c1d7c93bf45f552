#!/usr/bin/env bash
# Checks that report.html renders in a headless browser and that its charts
# are there.
#
#   harness/check_html.sh [REPORT_DIR]
#
# REPORT_DIR is a directory written by `compare --out=REPORT_DIR`; without it
# the script first runs `tools/bazel run //harness:compare -- --quick --out=...`.
# It renders report.html with Debian's chromium (installing it with apt-get if
# missing), takes a screenshot (REPORT_DIR/report.png), dumps the DOM, and fails
# unless the screenshot is a non-empty PNG and the DOM holds every chart (an
# <svg class="chart"> with the expected id and at least one data mark, which
# carries a <title> tooltip).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

dir="${1:-}"
if [[ -z "${dir}" ]]; then
  dir="$(mktemp -d)"
  tools/bazel run //harness:compare -- --quick --out="${dir}" > "${dir}/report.md"
fi
html="$(cd "${dir}" && pwd)/report.html"
[[ -f "${html}" ]] || { echo "check_html: no ${html}" >&2; exit 1; }

if ! command -v chromium > /dev/null; then
  echo "check_html: installing chromium (apt-get)" >&2
  apt-get install -y chromium > /dev/null
fi

profile="$(mktemp -d)"
trap 'rm -rf "${profile}"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-background-networking
       --disable-component-update --disable-sync --no-first-run
       --user-data-dir="${profile}" --hide-scrollbars)
png="${dir}/report.png"
rm -f "${png}"
chromium "${flags[@]}" --window-size=1280,7000 --screenshot="${png}" \
  "file://${html}" > /dev/null 2>&1
chromium "${flags[@]}" --dump-dom "file://${html}" > "${dir}/report.dom.html" \
  2> /dev/null

status=0
if [[ ! -s "${png}" ]] || [[ "$(head -c 8 "${png}" | od -An -tx1 | tr -d ' \n')" != "89504e470d0a1a0a" ]]; then
  echo "check_html: FAIL: no PNG screenshot at ${png}" >&2
  status=1
fi
charts=(chart-fanout-wall chart-fanout-memory chart-cpu-pure chart-cpu-native
        chart-loop-lag chart-blocking chart-echo chart-scaling-memory
        chart-scaling-switches chart-fetch-throughput chart-fetch-memory
        chart-fetch-cpu chart-conn-throughput chart-conn-memory chart-conn-cpu
        chart-starvation)
for id in "${charts[@]}"; do
  # The chart's element, up to its closing tag, must contain a drawn mark.
  if ! awk -v id="id=\"${id}\"" '
      index($0, id) { inside = 1 }
      inside && /<title>/ { found = 1 }
      inside && /<\/svg>/ { exit }
      END { exit found ? 0 : 1 }' "${dir}/report.dom.html"; then
    echo "check_html: FAIL: chart ${id} missing or empty in the DOM" >&2
    status=1
  fi
done
svgs=$(grep -c '<svg ' "${dir}/report.dom.html" || true)
echo "check_html: ${svgs} SVG charts in the DOM, screenshot ${png}" \
     "($(stat -c %s "${png}" 2> /dev/null || echo 0) bytes)" >&2
[[ ${status} -eq 0 ]] && echo "check_html: OK" >&2
exit ${status}
