#!/bin/bash
# Builds the libFuzzer targets (every module compiled with -sanitize=fuzzer,address) and runs each
# for FUZZ_SECONDS (default 3600), FUZZ_PARALLEL at a time (default: the number of cores), starting
# from the committed corpus in fuzz/corpus/<target>/ (seeded from the repository's own files on
# the first run). Crashing inputs go to fuzz/crashes/<target>/; the corpus is minimized (-merge)
# afterwards; figures go to fuzz/results/<target>.json (read by scripts/reliability/run.py), each
# run added as a session to the totals (the corpus carries over; delete the file to start counting anew).
#
#   make fuzz                       every target for an hour
#   FUZZ_SECONDS=60 fuzz/run.sh FuzzSpec FuzzJPEG
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(cd .. && pwd)
SECONDS_EACH=${FUZZ_SECONDS:-3600}
# Foundation keeps a 4 KB read buffer alive to the end; LeakSanitizer's exit-time report of it
# would be written as a crash artifact of every target that reads files
export ASAN_OPTIONS=detect_leaks=0
# ArchLab's kernels for any x86-64: SwiftPM refuses unsafeFlags (-target-cpu) in a dependency package
export ARCHLAB_PORTABLE=1
PARALLEL=${FUZZ_PARALLEL:-$(nproc)}
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(FuzzSpec FuzzIDX FuzzCIFAR FuzzSafetensors FuzzNumPy FuzzJPEG)

# gold cannot link these (an internal error); the toolchain's lld can
swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld 2>&1 | grep -E "error|Build" || true
BIN=$(swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld --show-bin-path)

seed() {
  local t=$1 dir=corpus/$1
  mkdir -p "$dir"
  [ -z "$(ls -A "$dir")" ] || return 0
  case $t in
    FuzzSpec) cp "$ROOT"/architectures/*.yaml "$dir"/; cp "$ROOT"/Tests/Fixtures/architectures/bad/*.yaml "$dir"/ ;;
    FuzzIDX) printf '\x00\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x02\x07\x07\x07\x07\x07\x07\x07\x07' > "$dir/images"
             printf '\x01\x00\x00\x08\x01\x00\x00\x00\x02\x01\x00' > "$dir/labels" ;;
    FuzzCIFAR) head -c 6146 /dev/zero > "$dir/two-records" ;;
    FuzzSafetensors) python3 - "$dir" <<'PY'
import json, struct, sys
h = json.dumps({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}, "b": {"dtype": "I64", "shape": [1], "data_offsets": [16, 24]},
                "__metadata__": {"epoch": "1"}}).encode()
open(sys.argv[1] + "/small.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + bytes(24))
PY
      ;;
    FuzzNumPy) cp "$ROOT"/Tests/Fixtures/interop/*.npy "$dir"/ ;;
    FuzzJPEG) "$ROOT/.build/release/archlab" data synth "$dir.tmp" --per-class 1 --size 32x24 >/dev/null
              find "$dir.tmp" -name '*.jpg' -exec cp {} "$dir"/ \; ; rm -rf "$dir.tmp" ;;
  esac
}

run() {
  local t=$1
  mkdir -p "crashes/$t" results "logs"
  seed "$t"
  local start=$SECONDS
  "$BIN/$t" -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -detect_leaks=0 \
    -artifact_prefix="crashes/$t/" "corpus/$t" > "logs/$t.log" 2>&1 || true
  local elapsed=$((SECONDS - start))
  # minimize the corpus into a fresh directory, then replace it
  rm -rf "corpus/$t.min" && mkdir -p "corpus/$t.min"
  "$BIN/$t" -merge=1 "corpus/$t.min" "corpus/$t" > "logs/$t.merge.log" 2>&1 || true
  if [ -n "$(ls -A "corpus/$t.min")" ]; then rm -rf "corpus/$t" && mv "corpus/$t.min" "corpus/$t"; else rm -rf "corpus/$t.min"; fi
  local runs crashes files
  runs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "logs/$t.log" | awk '{print $2}' | tail -1)
  crashes=$(ls "crashes/$t" | wc -l)
  files=$(ls "corpus/$t" | wc -l)
  # each run continues from the last one's minimized corpus: its session is added to the totals
  python3 - "results/$t.json" "$t" "$elapsed" "${runs:-0}" "$files" "$crashes" "$PARALLEL" "$(nproc)" <<'PY'
import json, os, sys, time
path, target, seconds, runs, files, crashes, parallel, cores = sys.argv[1:]
old = json.load(open(path)) if os.path.exists(path) else {}
# a results file from before sessions were kept: its figures become one session, "earlier runs"
sessions = old.get("sessions") or ([{"seconds": old["seconds"], "executions": old["executions"], "date": "earlier runs",
                                     "how": old.get("cpu_share", "")}] if old else [])
sessions.append({"seconds": int(seconds), "executions": int(runs), "date": time.strftime("%Y-%m-%d"),
                 "how": f"{parallel} target(s) at a time on {cores} cores"})
total = sum(x["seconds"] for x in sessions)
minutes = ", ".join(str(round(x["seconds"] / 60)) + (" (earlier runs)" if x.get("date") == "earlier runs" else "") for x in sessions)
share = (f"{len(sessions)} sessions of {minutes} minutes, each from the previous one's minimized corpus, "
         f"up to {parallel} targets at a time on {cores} cores" if len(sessions) > 1 else f"{parallel} target(s) at a time on {cores} cores")
if total < 3600:
    share += "; the issue asks for an hour"
out = {"target": target, "seconds": total, "executions": sum(x["executions"] for x in sessions), "corpus_files": int(files),
       "crashes": int(crashes), "cpu_share": share, "sessions": sessions}  # crashes/<target>/ keeps every session's
if old.get("notes"):
    out["notes"] = old["notes"]
json.dump(out, open(path, "w"))
PY
  echo "$t: ${runs:-0} executions in ${elapsed} s, corpus $files files, crashes $crashes"
}

running=0
for t in "${TARGETS[@]}"; do
  run "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$PARALLEL" ]; then wait -n; running=$((running - 1)); fi
done
wait
