#!/usr/bin/env bash
# The main job: set up, build in release mode, and summarize every architecture in architectures/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product archlab
bin=.build/release/archlab
"$bin" validate architectures/*.yaml
echo
"$bin" summary architectures/googlenet.yaml --format paper
echo
"$bin" summary architectures/resnet18.yaml --input 3x96x96 --format markdown | tail -n 4
echo
"$bin" sweep experiments/smoke.yaml --out runs/smoke
echo
echo "the report: runs/smoke/report.md (and report.html); the committed one: reports/smoke/report.md"
