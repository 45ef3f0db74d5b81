#!/usr/bin/env bash
# Installs the Debian packages ArchLab needs when they are missing. Idempotent; needs root (or sudo)
# only when something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v swift >/dev/null 2>&1; then
  echo "error: swift is not on PATH; install Swift 6 (https://www.swift.org/install/) first" >&2
  exit 1
fi

packages=$(grep -v '^\s*#' scripts/apt-packages.txt | tr -s ' \n' ' ' | xargs -n1 2>/dev/null || true)
missing=()
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
