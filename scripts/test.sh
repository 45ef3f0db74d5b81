#!/usr/bin/env bash
# The test command: what CI runs (.ci/run). Builds in debug mode and runs every test target.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build --build-tests
swift test --skip-build
