#!/usr/bin/env python3
"""Issue 7's reliability checks, run against the release binary; writes reports/reliability.md.

  1. kill -9 of the sweep runner at random points, >= 20 times over experiments/smoke.yaml
  2. SIGINT (Ctrl-C to the process group) during a trial
  3. kill -9 of `archlab train` at random points: the last checkpoint always loads; leftovers cleaned
  4. two runners on one directory; takeover after kill -9
  5. a diverging trial (lr 1000) recorded `diverged` with epoch and step; the sweep goes on
  6. disk full during result writes (a small tmpfs in a user+mount namespace)
  7. the malformed YAML corpus (Tests/Fixtures/malformed) through the CLI: time, memory, exit codes
  8. corrupt data files (JPEG, IDX, CIFAR, safetensors, .npy) through the CLI
  9. fuzzing: the figures of the last `make fuzz` run (fuzz/results/*.json), if any

Usage: make reliability   or   python3 scripts/reliability/run.py [--kills 20] [--only kill9,sigint,...]
"""
import argparse
import glob
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ARCHLAB = os.path.join(ROOT, ".build", "release", "archlab")
SMOKE = os.path.join(ROOT, "experiments", "smoke.yaml")


def run(args, timeout=600, cwd=ROOT, env=None):
    """Runs a command; returns (returncode (negative: signal), stdout, stderr, seconds, max RSS bytes)."""
    start = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(args, cwd=cwd, stdout=out, stderr=err, env=env)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                p.kill()
                pid, status, usage = os.wait4(p.pid, 0)
                break
            time.sleep(0.01)
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return p.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace"), time.monotonic() - start, usage.ru_maxrss * 1024


def trials(directory):
    db = sqlite3.connect(f"file:{directory}/results.sqlite?mode=ro", uri=True, timeout=30)
    try:
        return {r[0]: {"status": r[1], "finished_at": r[2], "error": r[3]}
                for r in db.execute("SELECT id, status, finished_at, error FROM trials WHERE in_experiment = 1")}
    finally:
        db.close()


def integrity(directory):
    db = sqlite3.connect(f"{directory}/results.sqlite", timeout=30)
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


def trainers_of(directory):
    """Live `archlab train` processes writing into `directory`."""
    found = []
    for cmd in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            args = open(cmd, "rb").read().split(b"\0")
        except OSError:
            continue
        if len(args) > 1 and args[1] == b"train" and any(directory.encode() in a for a in args):
            found.append(int(cmd.split("/")[2]))
    return found


def report_lists_all(directory, ids):
    with open(os.path.join(directory, "results.csv")) as f:
        listed = [line.split(",")[0] for line in f.read().splitlines()[1:]]
    return sorted(listed) == sorted(ids)


def phase_of(stdout):
    lines = [l for l in stdout.splitlines() if l.strip()]
    if not lines:
        return "starting"
    last = lines[-1]
    if "] running:" in last:
        return "during a trial"
    if re.search(r"\] (completed|failed|diverged):", last):
        m = re.search(r"\[(\d+)/(\d+)\]", last)
        return "writing the report" if m and m.group(1) == m.group(2) else "recording results / between trials"
    if last.startswith("report:") or "completed," in last:
        return "after the report"
    if "already recorded" in last:
        return "writing the report"
    return "starting"


def check_kill9(kills, work):
    """Rounds over experiments/smoke.yaml, each in a fresh directory: runs killed with SIGKILL at
    random times (0.1-3 s: about one LeNet trial) until the sweep completes, then a few reruns
    killed while they rewrite the report; until at least `kills` kills have landed."""
    rng = random.Random(20261122)
    violations, phases, orphans = [], {}, 0
    landed, runs, rounds, finals = 0, 0, 0, []

    def attempt(out, delay, finished):
        nonlocal landed, runs, orphans
        runs += 1
        p = subprocess.Popen([ARCHLAB, "sweep", SMOKE, "--out", out], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            p.communicate(timeout=delay)
            phase = None
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            stdout, _ = p.communicate()
            phase = phase_of(stdout.decode(errors="replace"))
            landed += 1
            phases[phase] = phases.get(phase, 0) + 1
            time.sleep(1.0)
            left = trainers_of(out)
            orphans += len(left)
            for pid in left:
                os.kill(pid, signal.SIGKILL)
        if os.path.exists(os.path.join(out, "results.sqlite")):
            for tid, t in trials(out).items():
                if t["status"] == "completed":
                    if tid in finished and finished[tid] != t["finished_at"]:
                        violations.append(f"trial {tid[:12]} completed again ({finished[tid]} -> {t['finished_at']})")
                    finished.setdefault(tid, t["finished_at"])
                elif tid in finished:
                    violations.append(f"trial {tid[:12]} was completed and is now {t['status']}")

    while landed < kills:
        rounds += 1
        out = os.path.join(work, f"kill9-{rounds}")
        finished = {}
        while len(finished) < 4 and runs < 200:
            attempt(out, rng.uniform(0.1, 3.0), finished)
        for _ in range(3):
            attempt(out, rng.uniform(0.05, 0.6), finished)
        rc, _, _, _, _ = run([ARCHLAB, "sweep", SMOKE, "--out", out])
        final = trials(out)
        for tid, t in final.items():
            if finished.get(tid) != t["finished_at"]:
                violations.append(f"trial {tid[:12]} rerun by the final run")
        finals.append((rc, len(final), all(t["status"] == "completed" for t in final.values()), integrity(out), report_lists_all(out, list(final))))
    ok = all(rc == 0 and n == 4 and done and check == "ok" and listed for rc, n, done, check, listed in finals)
    passed = ok and not violations and orphans == 0 and landed >= kills
    figures = [f"{landed} kills landed in {runs} runs over {rounds} round(s) (each round a fresh directory; kills 0.1-3 s after start "
               f"until the sweep completed, then 0.05-0.6 s while it rewrote the report)",
               "kills by phase: " + ", ".join(f"{k} {v}" for k, v in sorted(phases.items())),
               f"after each round's final run: exit codes {[f[0] for f in finals]}, trials {[f[1] for f in finals]}, all completed {all(f[2] for f in finals)}",
               f"completed trials rerun or changed: {len(violations)}; PRAGMA integrity_check: {sorted(set(f[3] for f in finals))}; "
               f"report lists every trial: {all(f[4] for f in finals)}",
               f"trial processes left running after their runner was killed (checked 1 s later): {orphans}"]
    return passed, figures, violations[:5]


def wait_for_status(directory, status, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if any(t["status"] == status for t in trials(directory).values()):
                return True
        except sqlite3.Error:
            pass
        time.sleep(0.1)
    return False


def check_sigint(work):
    out = os.path.join(work, "sigint")
    p = subprocess.Popen([ARCHLAB, "sweep", SMOKE, "--out", out], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    running = wait_for_status(out, "running")
    time.sleep(1.0)
    sent = time.monotonic()
    os.killpg(p.pid, signal.SIGINT)  # what Ctrl-C on a terminal does: the whole foreground group
    stdout, _ = p.communicate(timeout=60)
    stop_seconds = time.monotonic() - sent
    statuses = [t["status"] for t in trials(out).values()]
    interrupted = statuses.count("interrupted")
    left = trainers_of(out)
    rc, _, _, _, _ = run([ARCHLAB, "sweep", SMOKE, "--out", out])
    final = trials(out)
    passed = (running and p.returncode == 130 and interrupted == 1 and stop_seconds < 5 and not left and rc == 0
              and all(t["status"] == "completed" for t in final.values()))
    message = [l for l in stdout.decode(errors="replace").splitlines() if "interrupted" in l]
    figures = [f"SIGINT to the process group while a trial ran: stopped in {stop_seconds:.2f} s, exit code {p.returncode}",
               f"trials marked interrupted: {interrupted}; trial processes left: {len(left)}",
               f"message: {message[-1] if message else '(none)'}",
               f"rerun: exit {rc}, {sum(t['status'] == 'completed' for t in final.values())} of {len(final)} trials completed"]
    return passed, figures, []


def check_checkpoint(kills, work):
    out = os.path.join(work, "checkpoint")
    os.makedirs(out, exist_ok=True)
    rng = random.Random(7)
    train = [ARCHLAB, "train", "architectures/lenet.yaml", "--data", "fashion-mnist", "--limit-train", "1500", "--limit-test", "200",
             "--epochs", "6", "--batch-size", "32", "--validation", "0", "--out", out]
    loads, checked, leftovers_seen = 0, 0, 0
    problems = []
    for _ in range(kills):
        p = subprocess.Popen(train, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 6.0))
        p.kill()
        p.wait()
        leftovers_seen += len(glob.glob(os.path.join(out, ".*.tmp-*")))
        for name in ("last.safetensors", "best.safetensors"):
            path = os.path.join(out, name)
            if os.path.exists(path):
                checked += 1
                rc, _, err, _, _ = run([ARCHLAB, "eval", "architectures/lenet.yaml", "--weights", path, "--data", "fashion-mnist",
                                        "--limit-test", "100"])
                if rc == 0:
                    loads += 1
                else:
                    problems.append(f"{name} after a kill: {err.strip()[:200]}")
    # a leftover of a write whose process died between writing and renaming
    fake = os.path.join(out, ".last.safetensors.tmp-999999")
    with open(fake, "wb") as f:
        f.write(b"half a checkpoint")
    rc, _, _, _, _ = run(train[:-1] + [out, "--epochs", "1"])
    cleaned = not os.path.exists(fake) and not glob.glob(os.path.join(out, ".*.tmp-*"))
    passed = loads == checked and checked > 0 and cleaned and rc == 0
    figures = [f"`archlab train` killed with SIGKILL {kills} times at random points (0.5-6 s)",
               f"checkpoints present after the kills that load with `archlab eval`: {loads} of {checked}",
               f"temporary files seen right after kills: {leftovers_seen}; a planted leftover of a dead process removed by the next run: {cleaned}"]
    return passed, figures, problems[:5]


def check_two_runners(work):
    out = os.path.join(work, "two")
    a = subprocess.Popen([ARCHLAB, "sweep", SMOKE, "--out", out], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    running = wait_for_status(out, "running")
    rc_b, out_b, err_b, _, _ = run([ARCHLAB, "sweep", SMOKE, "--out", out], timeout=60)
    refused = rc_b == 1 and "another sweep runner" in err_b
    stale = [tid for tid, t in trials(out).items() if t["status"] == "running"]
    os.kill(a.pid, signal.SIGKILL)
    a.communicate()
    time.sleep(1.0)
    rc_c, out_c, err_c, _, _ = run([ARCHLAB, "sweep", SMOKE, "--out", out])
    final = trials(out)
    restarted = "restarting 1 trial(s) left running" in out_c
    passed = running and refused and len(stale) == 1 and restarted and rc_c == 0 and all(t["status"] == "completed" for t in final.values())
    figures = [f"second runner while the first lives: exit {rc_b}: {err_b.strip().splitlines()[-1] if err_b.strip() else '(no message)'}",
               f"after kill -9 of the first: the next runner restarted the stale running trial: {restarted}; exit {rc_c}; "
               f"{sum(t['status'] == 'completed' for t in final.values())} of {len(final)} completed"]
    return passed, figures, []


def check_diverged(work):
    exp = os.path.join(work, "nan.yaml")
    with open(exp, "w") as f:
        f.write(f"""name: nan
architecture: {ROOT}/architectures/lenet.yaml
training: {{data: fashion-mnist, epochs: 2, batch_size: 32, limit_train: 1000, limit_test: 200}}
seeds: [0]
axes:
  training.lr: [1000.0, 0.05]
""")
    out = os.path.join(work, "nan")
    rc, stdout, stderr, _, _ = run([ARCHLAB, "sweep", exp, "--out", out])
    t = list(trials(out).values())
    diverged = [x for x in t if x["status"] == "diverged"]
    completed = [x for x in t if x["status"] == "completed"]
    located = bool(diverged) and re.search(r"epoch \d+ step \d+", diverged[0]["error"] or "") is not None
    passed = rc == 0 and len(diverged) == 1 and len(completed) == 1 and located
    figures = [f"lr 1000 and lr 0.05: {len(diverged)} diverged, {len(completed)} completed, sweep exit {rc}",
               f"recorded: {diverged[0]['error'] if diverged else '(none)'}"]
    return passed, figures, []


def check_disk_full(work):
    exp1 = os.path.join(work, "disk1.yaml")
    exp2 = os.path.join(work, "disk2.yaml")
    body = f"""name: disk
architecture: {ROOT}/architectures/lenet.yaml
training: {{data: fashion-mnist, epochs: 1, batch_size: 32, limit_train: 500, limit_test: 100}}
strategy: grid
axes:
  layers.fc1.out: [60]
"""
    with open(exp1, "w") as f:
        f.write(body + "seeds: [0]\n")
    with open(exp2, "w") as f:
        f.write(body + "seeds: [0, 1]\n")
    keep = os.path.join(work, "disk-after")
    script = f"""set -e
D=$(mktemp -d)
mount -t tmpfs -o size=6m tmpfs "$D"
"{ARCHLAB}" sweep "{exp1}" --out "$D/s" > "{work}/disk-run1.txt" 2>&1
mkdir -p "{keep}-before" && cp -a "$D/s/results.sqlite"* "{keep}-before/"
dd if=/dev/zero of="$D/filler" bs=4k 2>/dev/null || true
set +e
"{ARCHLAB}" sweep "{exp2}" --out "$D/s" > "{work}/disk-run2.txt" 2>&1
echo $? > "{work}/disk-rc2.txt"
rm -f "$D/filler"
# again with 150 KB left: the journal opens, the trial's checkpoint write runs out of space
AVAIL=$(df --output=avail -k "$D" | tail -1)
dd if=/dev/zero of="$D/filler" bs=1k count=$((AVAIL - 150)) 2>/dev/null || true
"{ARCHLAB}" sweep "{exp2}" --out "$D/s" > "{work}/disk-run3.txt" 2>&1
echo $? > "{work}/disk-rc3.txt"
cat "$D"/s/trials/*/log.txt > "{work}/disk-trial-logs.txt" 2>/dev/null || true
rm -f "$D/filler"
mkdir -p "{keep}" && cp -a "$D/s/results.sqlite"* "{keep}/"
"""
    with open(os.path.join(work, "disk.sh"), "w") as f:
        f.write(script)
    attempts = [["unshare", "--user", "--map-root-user", "--mount", "sh", os.path.join(work, "disk.sh")]]
    if os.geteuid() == 0:
        attempts.insert(0, ["unshare", "--mount", "sh", os.path.join(work, "disk.sh")])
    reason = ""
    for cmd in attempts:
        rc, so, se, _, _ = run(cmd, cwd=work)
        if os.path.exists(os.path.join(work, "disk-rc2.txt")):
            break
        reason = (se or so).strip().splitlines()[-1:] or ["unknown"]
    else:
        return None, [f"not run: a small tmpfs could not be mounted here ({reason[0] if reason else 'unknown'})"], []
    rc2 = int(open(os.path.join(work, "disk-rc2.txt")).read())
    rc3 = int(open(os.path.join(work, "disk-rc3.txt")).read())
    output = open(os.path.join(work, "disk-run2.txt")).read()
    output3 = open(os.path.join(work, "disk-run3.txt")).read()
    before = trials(keep + "-before")
    after = trials(keep)
    intact = all(after.get(tid, {}).get("finished_at") == t["finished_at"] and after[tid]["status"] == "completed" for tid, t in before.items())
    new = [t for tid, t in after.items() if tid not in before]
    check = integrity(keep)
    full = r"(No space left on device|database or disk is full|disk is full)"
    clear = re.search(full, output) is not None
    clear3 = re.search(full, output3 + " ".join((t["error"] or "") for t in new)) is not None
    passed = 0 < rc2 < 128 and 0 < rc3 < 128 and clear and clear3 and intact and check == "ok"
    error_lines = [l for l in output.splitlines() if re.search(r"space|full", l)]
    error3 = [t["error"] for t in new if t["error"]] or [l for l in output3.splitlines() if re.search(r"space|full", l)]
    figures = [f"6 MB tmpfs filled up completely, then a sweep with one new trial: exit {rc2} (no crash: {rc2 < 128})",
               f"error shown: {error_lines[-1].strip()[:300] if error_lines else '(none)'}",
               f"again with 150 KB left (the journal opens, the trial's checkpoint does not fit): exit {rc3}; new trial "
               f"{new[0]['status'] if new else '(not recorded)'}: {(error3[-1] if error3 else '(no error)')[:300]}",
               f"earlier results intact (status, finished_at): {intact}; PRAGMA integrity_check: {check}"]
    return passed, figures, [l for l in (output + output3).splitlines() if l.strip()][-8:]


LOCATED = re.compile(r"^[^\s:][^:]*:\d+:\d+: ")


def check_malformed(work):
    rows = []
    for kind in ("architectures", "experiments"):
        for path in sorted(glob.glob(os.path.join(ROOT, "Tests", "Fixtures", "malformed", kind, "*.yaml"))):
            args = [ARCHLAB, "validate", path] if kind == "architectures" else [ARCHLAB, "sweep", path, "--dry-run", "--out", os.path.join(work, "dry")]
            rc, out, err, seconds, rss = run(args, timeout=30)
            first = (err.strip().splitlines() or [""])[0]
            located = LOCATED.match(first) is not None
            usage = first.startswith("Error:") or "Usage:" in err or "USAGE:" in err
            rows.append({"file": os.path.relpath(path, ROOT), "rc": rc, "seconds": seconds, "rss": rss, "located": located, "usage": usage, "first": first})
    crashes = [r for r in rows if r["rc"] < 0 or r["rc"] >= 128]
    accepted = [r for r in rows if r["rc"] == 0]
    unlocated = [r for r in rows if r["rc"] > 0 and not (r["located"] or r["usage"])]
    slow = [r for r in rows if r["seconds"] > 1]
    worst_time = max(r["seconds"] for r in rows)
    worst_rss = max(r["rss"] for r in rows)
    passed = not crashes and not accepted and not unlocated and not slow and worst_rss < 512 << 20
    figures = [f"{len(rows)} files ({sum(1 for r in rows if 'architectures' in r['file'])} architectures with `archlab validate`, "
               f"{sum(1 for r in rows if 'experiments' in r['file'])} experiments with `archlab sweep --dry-run`)",
               f"located errors: {sum(r['located'] for r in rows)}, usage errors: {sum((not r['located']) and r['usage'] for r in rows)}, "
               f"accepted: {len(accepted)}, unlocated: {len(unlocated)}, crashes: {len(crashes)}",
               f"slowest: {worst_time:.2f} s; largest peak RSS: {worst_rss / 2**20:.0f} MiB"]
    details = [f"{r['file']}: exit {r['rc']}: {r['first'][:200]}" for r in crashes + accepted + unlocated + slow]
    return passed, figures, details[:10]


def corrupt_files(d):
    """Broken data files; each entry: (description, command args, file the message must name)."""
    os.makedirs(d, exist_ok=True)
    cases = []

    def write(name, data):
        path = os.path.join(d, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        return path

    # IDX sets: a directory per case with the four files; one of them broken
    good_images = struct.pack(">IIII", 0x803, 2, 28, 28) + bytes(2 * 784)
    good_labels = struct.pack(">II", 0x801, 2) + bytes([1, 2])
    idx_cases = {
        "idx-bad-magic": ("train-images-idx3-ubyte", struct.pack(">IIII", 0x1234, 2, 28, 28) + bytes(2 * 784)),
        "idx-short-records": ("train-images-idx3-ubyte", struct.pack(">IIII", 0x803, 100, 28, 28) + bytes(784)),
        "idx-overflowing-dims": ("train-images-idx3-ubyte", struct.pack(">IIII", 0x803, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF)),
        "idx-label-count-mismatch": ("train-labels-idx1-ubyte", struct.pack(">II", 0x801, 7) + bytes(7)),
        "idx-truncated-header": ("train-images-idx3-ubyte", b"\x00\x00\x08"),
        "idx-zero-bytes": ("train-labels-idx1-ubyte", b""),
        "idx-bad-gzip": ("train-images-idx3-ubyte.gz", b"\x1f\x8b\x08\x00garbage"),
    }
    for case, (broken, data) in idx_cases.items():
        base = os.path.join(d, case)
        os.makedirs(base, exist_ok=True)
        for name, content in (("train-images-idx3-ubyte", good_images), ("train-labels-idx1-ubyte", good_labels),
                              ("t10k-images-idx3-ubyte", good_images), ("t10k-labels-idx1-ubyte", good_labels)):
            if not broken.startswith(name):
                write(os.path.join(case, name), content)
        path = write(os.path.join(case, broken), data)
        cases.append((case, ["train", "architectures/lenet.yaml", "--data", f"fashion-mnist:{base}", "--epochs", "1",
                             "--out", os.path.join(d, "run")], os.path.basename(path)))
    # CIFAR-10 binary batches
    record = bytes([3]) + bytes(3072)
    cifar_cases = {"cifar-short-record": record * 2 + record[:100], "cifar-bad-label": bytes([200]) + bytes(3072), "cifar-empty": b""}
    for case, data in cifar_cases.items():
        base = os.path.join(d, case)
        for i in range(1, 6):
            write(os.path.join(case, f"data_batch_{i}.bin"), record * 2)
        write(os.path.join(case, "test_batch.bin"), record * 2)
        path = write(os.path.join(case, "data_batch_3.bin"), data)
        cases.append((case, ["train", "architectures/lenet.yaml", "--data", f"cifar10:{base}", "--epochs", "1", "--out", os.path.join(d, "run")],
                      "data_batch_3.bin"))

    # safetensors
    def st(header, data=b""):
        h = json.dumps(header).encode()
        return struct.pack("<Q", len(h)) + h + data
    st_cases = {
        "st-header-2-63.safetensors": struct.pack("<Q", 1 << 63) + b"{}",
        "st-header-past-end.safetensors": struct.pack("<Q", 1000) + b"{}",
        "st-overlap.safetensors": st({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, bytes(12)),
        "st-overflowing-shape.safetensors": st({"a": {"dtype": "F32", "shape": [1 << 62, 1 << 62], "data_offsets": [0, 8]}}, bytes(8)),
        "st-negative-shape.safetensors": st({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, bytes(8)),
        "st-not-json.safetensors": struct.pack("<Q", 5) + b"{{{{{",
        "st-offsets-past-end.safetensors": st({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, bytes(8)),
        "st-zero-bytes.safetensors": b"",
        "st-unknown-dtype.safetensors": st({"a": {"dtype": "Q99", "shape": [2], "data_offsets": [0, 8]}}, bytes(8)),
    }
    for name, data in st_cases.items():
        path = write(name, data)
        cases.append((name, ["eval", "architectures/lenet.yaml", "--weights", path, "--data", "fashion-mnist", "--limit-test", "10"], name))
    # .npy inputs
    def npy(header):
        h = header.encode()
        h += b" " * ((64 - (10 + len(h) + 1) % 64) % 64) + b"\n"
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h
    npy_cases = {
        "npy-bad-magic.npy": b"NOTNUMPY" + bytes(100),
        "npy-huge-shape.npy": npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 3, 32, 32), }"),
        "npy-short-data.npy": npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 32, 32), }") + bytes(100),
        "npy-fortran.npy": npy("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 3, 32, 32), }") + bytes(4 * 3072),
        "npy-header-garbage.npy": b"\x93NUMPY\x01\x00" + struct.pack("<H", 20) + b"{'descr': <<<<<<<<<}",
    }
    weights = os.path.join(d, "lenet-init.safetensors")
    for name, data in npy_cases.items():
        path = write(name, data)
        cases.append((name, ["forward", "architectures/lenet.yaml", "--weights", weights, "--input", path, "--output", os.path.join(d, "y.npy")], name))
    # JPEGs: a folder data set with one broken file each
    from_jpeg = os.path.join(d, "jpeg-source")
    rc, _, err, _, _ = run([ARCHLAB, "data", "synth", from_jpeg, "--per-class", "3", "--size", "64x48"])
    good = sorted(glob.glob(os.path.join(from_jpeg, "*", "*.jpg")))
    jpeg_cases = {"truncated.jpg": (open(good[0], "rb").read()[:300] if good else b""), "zero-bytes.jpg": b"",
                  "text-named-jpg.jpg": b"this is not an image\n", "png-named-jpg.jpg": b"\x89PNG\r\n\x1a\n" + bytes(100),
                  "huge-declared-size.jpg": (open(good[0], "rb").read().replace(b"\xff\xc0\x00\x11\x08\x00\x30\x00\x40", b"\xff\xc0\x00\x11\x08\xea\x60\xea\x60")
                                             if good else b"")}
    for name, data in jpeg_cases.items():
        root = os.path.join(d, "jpeg-" + name.replace(".jpg", ""))
        for split in ("train", "val"):
            for g in good:
                cls = os.path.basename(os.path.dirname(g))
                dst = os.path.join(root, split, cls, os.path.basename(g))
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.copy(g, dst)
        bad_class = os.path.basename(os.path.dirname(good[0])) if good else "a"
        path = write(os.path.join(root, "train", bad_class, name), data)
        cases.append(("jpeg " + name, ["train", "architectures/lenet.yaml", "--data", f"folder:{root}", "--resize", "32", "--epochs", "1",
                                       "--out", os.path.join(d, "run")], name))
    return cases, weights


def check_corrupt(work):
    d = os.path.join(work, "corrupt")
    cases, weights = corrupt_files(d)
    run([ARCHLAB, "init", "architectures/lenet.yaml", "--out", weights])
    rows = []
    for name, args, must_name in cases:
        rc, out, err, seconds, rss = run([ARCHLAB] + args, timeout=60)
        text = (err + out).strip()
        rows.append({"case": name, "rc": rc, "named": must_name in text, "rss": rss, "seconds": seconds,
                     "message": next((l for l in text.splitlines() if must_name in l), text.splitlines()[-1] if text else "")})
    bad = [r for r in rows if not (0 < r["rc"] < 128 and r["named"])]
    worst_rss = max(r["rss"] for r in rows)
    passed = not bad and worst_rss < 512 << 20
    figures = [f"{len(rows)} corrupt files (IDX, CIFAR-10, safetensors, .npy, JPEG) through `archlab train/eval/forward`",
               f"rejected with a message naming the file: {sum(1 for r in rows if 0 < r['rc'] < 128 and r['named'])}; crashes: "
               f"{sum(1 for r in rows if r['rc'] < 0 or r['rc'] >= 128)}; largest peak RSS {worst_rss / 2**20:.0f} MiB (no large allocation before the checks)"]
    details = [f"{r['case']}: exit {r['rc']}: {r['message'][:240]}" for r in rows]
    return passed, figures, details


def check_fuzz(work):
    results = sorted(glob.glob(os.path.join(ROOT, "fuzz", "results", "*.json")))
    if not results:
        return None, ["not run: no fuzz/results/*.json (run `make fuzz`)"], []
    figures, passed = [], True
    for path in results:
        r = json.load(open(path))
        figures.append(f"{r['target']}: {r['executions']:,} executions in {r['seconds'] / 60:.0f} min, corpus {r['corpus_files']} files, "
                       f"crashes {r['crashes']}" + (f" ({r['cpu_share']})" if r.get("cpu_share") else "")
                       + "".join(f"; {n}" for n in r.get("notes", [])))
        passed = passed and r["crashes"] == 0
    figures.append("crashing inputs become regression tests in Tests/Fixtures/fuzz-regressions; the minimized corpus in fuzz/corpus runs "
                   "through the readers in every test run (Tests/ArchTrainTests/FuzzCorpusTests.swift)")
    return passed, figures, []


CHECKS = ["kill9", "sigint", "checkpoint", "two_runners", "diverged", "disk_full", "malformed", "corrupt", "fuzz"]
TITLES = {"kill9": "1. kill -9 of the sweep at random points", "sigint": "2. SIGINT during a trial",
          "checkpoint": "3. Crashes while writing checkpoints", "two_runners": "4. Two runners on one directory",
          "diverged": "5. A diverging trial", "disk_full": "6. Disk full during result writes",
          "malformed": "7. Malformed YAML corpus", "corrupt": "8. Corrupt data files", "fuzz": "9. Fuzzing"}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--only", default="")
    a = p.parse_args()
    selected = [c for c in CHECKS if not a.only or c in a.only.split(",")]
    work = tempfile.mkdtemp(prefix="archlab-reliability-")
    results = {}
    for name in selected:
        start = time.monotonic()
        fn = {"kill9": lambda: check_kill9(a.kills, work), "sigint": lambda: check_sigint(work),
              "checkpoint": lambda: check_checkpoint(max(10, a.kills // 2), work), "two_runners": lambda: check_two_runners(work),
              "diverged": lambda: check_diverged(work), "disk_full": lambda: check_disk_full(work),
              "malformed": lambda: check_malformed(work), "corrupt": lambda: check_corrupt(work), "fuzz": lambda: check_fuzz(work)}[name]
        try:
            passed, figures, details = fn()
        except Exception as e:  # a check that breaks is a failed check, with its reason in the report
            passed, figures, details = False, [f"the check itself failed: {type(e).__name__}: {e}"], []
        results[name] = (passed, figures, details, time.monotonic() - start)
        state = "PASS" if passed else ("NOT RUN" if passed is None else "FAIL")
        print(f"{state} {TITLES[name]} ({time.monotonic() - start:.0f} s)", file=sys.stderr)
        for f in figures:
            print(f"    {f}", file=sys.stderr)
    lines = ["# Reliability", "", "Generated by `scripts/reliability/run.py` (`make reliability`) against the release build; "
             "nothing here is typed by hand.", "",
             f"Run on {os.uname().nodename}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", ""]
    lines += ["| check | result | time |", "|---|---|--:|"]
    for name in selected:
        passed, _, _, seconds = results[name]
        lines.append(f"| {TITLES[name]} | {'pass' if passed else ('not run' if passed is None else '**FAIL**')} | {seconds:.0f} s |")
    for name in selected:
        passed, figures, details, _ = results[name]
        lines += ["", f"## {TITLES[name]}", ""] + [f"- {f}" for f in figures]
        if details:
            lines += ["", "<details><summary>details</summary>", ""] + [f"    {d}" for d in details] + ["", "</details>"]
    if not a.only:
        with open(os.path.join(ROOT, "reports", "reliability.md"), "w") as f:
            f.write("\n".join(lines) + "\n")
        print("wrote reports/reliability.md", file=sys.stderr)
    else:
        print("\n".join(lines))
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if all(r[0] is not False for r in results.values()) else 1)


if __name__ == "__main__":
    main()
