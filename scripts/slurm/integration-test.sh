#!/bin/bash
# Issue 8's integration test against a real Slurm (make slurm-test): starts the one-node cluster
# of local-cluster.sh, submits experiments/smoke.yaml (trials lengthened) as a job array of 2 shards,
# requeues task 1 in the middle of a trial (after a checkpoint), waits for it,
# merges the shard journals with `archlab report`, runs the same sweep on this machine without
# Slurm, and checks that both have the same trial ids and counts. Needs root (the daemons).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
B="$ROOT/.build/release/archlab"
[ -x "$B" ] || swift build -c release --product archlab
scripts/slurm/local-cluster.sh start
WORK=$(mktemp -d /tmp/archlab-slurm-XXXXXX)
OUT="$WORK/slurm-smoke"
LOCAL="$WORK/local-smoke"
SHARDS=${SHARDS:-2}

# the smoke sweep with trials long enough (8 epochs of 6,000 images, about a second each) to be
# requeued in the middle, after a checkpoint
EXP="$WORK/requeue-smoke.yaml"
printf 'extends: %s/experiments/smoke.yaml\nname: requeue-smoke\ntraining: {epochs: 8, limit_train: 6000}\n' "$ROOT" > "$EXP"
"$B" sweep "$EXP" --out "$OUT" --slurm --shards "$SHARDS" --cpus-per-task 1 --submit | tee "$WORK/submit.txt"
JOB=$(awk '/^submitted job/ {print $3}' "$WORK/submit.txt")
[ -n "$JOB" ] || { echo "no job id" >&2; exit 1; }
# preemption: requeue task 1 while it runs a trial that has a checkpoint (an epoch done); the
# restarted task must resume its shard, and that trial must continue from its checkpoint
RUNNING=""
for _ in $(seq 1 1200); do
  RUNNING=$(python3 -c 'import json,sys; print((json.load(open(sys.argv[1])).get("running") or [""])[0])' "$OUT/shards/1/progress.json" 2>/dev/null || true)
  # at least one epoch checkpointed and at least three still to train
  if [ -n "$RUNNING" ] && python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["epoch"]; sys.exit(0 if 1 <= e <= 5 else 1)' \
       "$OUT/trials/$RUNNING/checkpoint.json" 2>/dev/null; then break; fi
  sleep 0.05
done
[ -n "$RUNNING" ] && [ -f "$OUT/trials/$RUNNING/checkpoint.json" ] || { echo "task 1 never ran a trial past its first epoch" >&2; exit 1; }
scontrol requeue "${JOB}_1" && echo "requeued ${JOB}_1 during trial $RUNNING, after its checkpoint of epoch $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["epoch"])' "$OUT/trials/$RUNNING/checkpoint.json")"
echo "waiting for job $JOB"
for _ in $(seq 1 900); do
  if [ -z "$(squeue -h -j "$JOB" 2>/dev/null)" ]; then break; fi
  sleep 1
done
[ -z "$(squeue -h -j "$JOB" 2>/dev/null)" ] || { echo "job $JOB still queued after 15 minutes" >&2; squeue >&2; exit 1; }
"$B" sweep --status "$OUT"
"$B" report "$OUT"
"$B" sweep "$EXP" --out "$LOCAL" --jobs 2 > "$WORK/local.txt"  # one thread per trial, as each Slurm task has

python3 - "$OUT" "$LOCAL" "$SHARDS" "$RUNNING" <<'PY'
import json, os, sqlite3, sys
slurm, local, shards, requeued = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def rows(path):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    return {r[0]: r[1] for r in db.execute("SELECT id, status FROM trials WHERE in_experiment = 1")}
shard_rows = {}
for k in range(1, shards + 1):
    path = os.path.join(slurm, "shards", str(k), "results.sqlite")
    assert os.path.exists(path), f"missing shard journal {path}"
    for i, s in rows(path).items():
        assert i not in shard_rows, f"trial {i} in two shards"
        shard_rows[i] = s
assert not os.path.exists(os.path.join(slurm, "results.sqlite")), "a shared journal was written"
local_rows = rows(os.path.join(local, "results.sqlite"))
merged = json.load(open(os.path.join(slurm, "results.json")))
merged_ids = sorted(t["id"] for t in merged["trials"])
assert sorted(shard_rows) == sorted(local_rows) == merged_ids, (sorted(shard_rows), sorted(local_rows), merged_ids)
count = lambda d: {s: list(d.values()).count(s) for s in set(d.values())}
assert count(shard_rows) == count(local_rows) == {"completed": len(local_rows)}, (count(shard_rows), count(local_rows))
logs = os.listdir(os.path.join(slurm, "slurm", "logs"))
task1 = open(os.path.join(slurm, "slurm", "logs", [l for l in logs if l.endswith("_1.out")][0])).read()
assert "restart 1" in task1, "task 1 was not requeued"
db = sqlite3.connect(f"file:{os.path.join(slurm, 'shards', '1', 'results.sqlite')}?mode=ro", uri=True)
resumed = db.execute("SELECT resumed_epochs FROM trials WHERE id = ?", (requeued,)).fetchone()
assert resumed and (resumed[0] or 0) >= 1, f"trial {requeued}, requeued after a checkpoint, did not continue from it: resumed_epochs {resumed}"
acc = lambda path: sqlite3.connect(f"file:{path}?mode=ro", uri=True).execute("SELECT test_accuracy FROM trials WHERE id = ?", (requeued,)).fetchone()[0]
resumed_accuracy, uninterrupted = acc(os.path.join(slurm, "shards", "1", "results.sqlite")), acc(os.path.join(local, "results.sqlite"))
assert resumed_accuracy == uninterrupted, f"the requeued trial ended at {resumed_accuracy}, the uninterrupted run at {uninterrupted}"
print(f"trial {requeued[:12]} continued from its checkpoint after the requeue: {resumed[0]} epoch(s) not trained again, "
      f"test accuracy {resumed_accuracy} as the uninterrupted single-machine run's")
print("task 1 after its requeue: " + "; ".join(l for l in task1.splitlines() if "restart" in l or "interrupted" in l or "restarting" in l or "already recorded" in l))
print(f"slurm-test: OK: {len(local_rows)} trials in {shards} shards on Slurm, same ids and counts as the single-machine run; "
      f"{len(logs)} task logs; merged report {slurm}/report.md")
PY
