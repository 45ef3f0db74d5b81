#!/usr/bin/env bash
# kill -9 a GoogLeNet trial in its fourth epoch of six, resume it with --resume, and compare its
# metrics and final weights with an uninterrupted run of the same settings (they must be equal,
# bit for bit). Reduced size so that it runs in a few minutes: 3,000 images at 1x32x32, width x0.25.
# Usage: make release && scripts/reliability/kill-resume.sh   (or: make resume-check)
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
B="$root/.build/release/archlab"
A="train $root/architectures/googlenet-torchvision.yaml --set num_classes=10 --set width=0.25 --data fashion-mnist --resize 32 --epochs 6 --batch-size 32 --optimizer adam --lr 0.001 --flip --limit-train 3000 --limit-test 1000 --threads 1 --seed 3"
$B $A --out $work/full > $work/full.log 2>&1
$B $A --out $work/killed > $work/killed.log 2>&1 &
pid=$!
while ! grep -q '"epoch" : 3' $work/killed/checkpoint.json 2>/dev/null; do sleep 0.2; done
sleep 1.5   # into epoch 4
kill -9 $pid; wait $pid 2>/dev/null
echo "killed with kill -9 in epoch 4; its last line: $(tr "\r" "\n" < $work/killed.log | tail -1)"
$B $A --out $work/killed --resume > $work/resumed.log 2>&1
grep -m1 "resuming" $work/resumed.log
python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
a = json.load(open(w + '/full/metrics.json')); b = json.load(open(w + '/killed/metrics.json'))
keys = ["train_loss", "train_accuracy", "validation_accuracy", "test_loss", "test_accuracy", "lr"]
same = all(x[k] == y[k] for x, y in zip(a["epochs"], b["epochs"]) for k in keys) and len(a["epochs"]) == len(b["epochs"])
print("uninterrupted test accuracy", a["test_accuracy"], "resumed", b["test_accuracy"], "resumed_epochs", b.get("resumed_epochs"))
print("every epoch's losses and accuracies identical:", same)
ident = open(w + '/full/last.safetensors','rb').read() == open(w + '/killed/last.safetensors','rb').read()
print("last.safetensors identical:", ident)
sys.exit(0 if same and ident else 1)
PY
