#!/bin/sh
echo "remote_coverage_tools is an offline stand-in: 'bazel coverage' needs the real tools (see docs/building.md)" >&2
exit 1
