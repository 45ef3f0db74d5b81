#!/usr/bin/env python3
"""What a sweep costs beyond its trials, and --jobs 1 against --jobs 2 (issue 20, section 4).

1. Overhead: trials of LeNet on all of Fashion-MNIST (1 epoch, 54,000 training images, 6,000
   held out, 10,000 test), run by hand (`archlab train` one after another) and as one `archlab
   sweep --jobs 1`, alternating, `--trials` each (2 x 10 = 20 swept trials by default). Reported:
   the training images/s `archlab train` prints (training steps only), the end-to-end images/s of
   the trials by hand and of the sweep (training images over wall time: start-up, data and the
   per-epoch evaluation of 16,000 images included), the runner's seconds per trial beyond the
   trials themselves, and the start-up of one trial process (wall time of a one-step run).
2. --jobs 1 (each trial with --threads auto, so both cores) against --jobs 2 (one thread each):
   trials per hour for a small network (LeNet, 4 trials of 1 epoch on all of Fashion-MNIST) and a
   large one (ResNet-18 at 1x32x32, 4 trials of 1 epoch on 4,000 images, 2,000 test images).

Usage: python3 bench/sweep_overhead.py [--json OUT] (make bench runs it for reports/performance.md)
Needs an idle machine: every figure is a wall time.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
ARCHLAB = os.path.join(ROOT, ".build", "release", "archlab")
LENET = {"data": "fashion-mnist", "epochs": 1, "batch_size": 32, "lr": 0.05, "validation": 0.1}
RESNET = {"data": "fashion-mnist", "epochs": 1, "batch_size": 32, "lr": 0.05, "validation": 0.1, "resize": 32,
          "limit_train": 4000, "limit_test": 2000}


def run(args):
    start = time.perf_counter()
    out = subprocess.run([ARCHLAB] + args, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - start, out


def experiment(path, name, architecture, training, seeds, extra_set=None):
    lines = [f"name: {name}", f"architecture: {architecture}", "training:"]
    lines += [f"  {k}: {v}" for k, v in training.items()]
    lines += [f"seeds: {list(seeds)}", "strategy: grid"]
    if extra_set:
        lines += ["set:"] + [f"  {k}: {v}" for k, v in extra_set.items()]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def by_hand(work, trials, tag):
    """`trials` runs of `archlab train` one after another, as a user would type them (seeds 0, 1, ...)."""
    wall, rates = 0.0, []
    for seed in range(trials):
        out = os.path.join(work, f"hand-{tag}-{seed}")
        args = ["train", "architectures/lenet.yaml", "--out", out, "--seed", str(seed)]
        for k, v in LENET.items():
            args += ["--" + k.replace("_", "-"), str(v)]
        seconds, _ = run(args)
        wall += seconds
        with open(os.path.join(out, "metrics.json")) as f:
            rates.append(json.load(f)["images_per_second"])
    return wall, rates


def startup(work):
    """Wall time of a trial process that trains one step: start-up, data, plan, one batch, tiny evaluation."""
    times = []
    for i in range(5):
        wall, _ = run(["train", "architectures/lenet.yaml", "--data", "fashion-mnist", "--epochs", "1", "--limit-train", "32",
                       "--limit-test", "32", "--validation", "0", "--out", os.path.join(work, f"startup{i}")])
        times.append(wall)
    return sorted(times)[len(times) // 2], times


def sweep(work, name, architecture, training, seeds, jobs, extra_set=None):
    path = os.path.join(work, name + ".yaml")
    experiment(path, name, os.path.join(ROOT, architecture), training, seeds, extra_set)
    out = os.path.join(work, name + f"-jobs{jobs}")
    wall, _ = run(["sweep", path, "--out", out, "--jobs", str(jobs)])
    return wall


def measure(trials=10, repeats=2):
    """Every figure of this script, as a dict (see the module's doc)."""
    work = tempfile.mkdtemp(prefix="archlab-sweep-bench-")
    try:
        result = {}
        result["startup_seconds"], result["startup_runs"] = startup(work)
        print(f"trial start-up: {result['startup_seconds']:.2f} s", file=sys.stderr)
        # the same trials by hand and as a sweep, alternating (this machine drifts by 20 % between runs)
        images = 60000 - round(60000 * LENET["validation"])  # Fashion-MNIST's training set less the held-out part
        hand, swept, rates = [], [], []
        for repeat in range(repeats):
            wall, r = by_hand(work, trials, repeat)
            hand.append(wall)
            rates += r
            swept.append(sweep(work, f"overhead{repeat}", "architectures/lenet.yaml", LENET, range(trials), 1))
            print(f"{trials} trials by hand {hand[-1]:.1f} s, as a sweep {swept[-1]:.1f} s", file=sys.stderr)
        train_rate = statistics.median(rates)
        o = {"trials": trials, "repeats": repeats, "train_images": images, "by_hand_seconds": hand, "sweep_seconds": swept,
             "train_images_per_second": train_rate,
             "sweep_images_per_second": trials * images / statistics.median(swept),
             "by_hand_images_per_second": trials * images / statistics.median(hand)}
        o["sweep_over_by_hand"] = o["sweep_images_per_second"] / o["by_hand_images_per_second"]
        o["sweep_over_train_images_per_second"] = o["sweep_images_per_second"] / train_rate
        o["runner_seconds_per_trial"] = (statistics.median(swept) - statistics.median(hand)) / trials
        result["overhead"] = o
        print(f"overhead: {o}", file=sys.stderr)
        result["jobs"] = {}
        for label, arch, training, extra in (("LeNet, 1 epoch of 54,000 images", "architectures/lenet.yaml", LENET, None),
                                             ("ResNet-18 at 1x32x32, 1 epoch of 3,600 images", "architectures/resnet18.yaml", RESNET,
                                              {"num_classes": 10})):
            row = {}
            for jobs in (1, 2):
                wall = sweep(work, "jobs" + label.split(",")[0].lower().replace("-", ""), arch, training, range(4), jobs, extra)
                row[f"jobs{jobs}"] = {"wall_seconds": wall, "trials_per_hour": 4 * 3600 / wall}
                print(f"{label} --jobs {jobs}: {wall:.1f} s for 4 trials", file=sys.stderr)
            row["better"] = 1 if row["jobs1"]["wall_seconds"] <= row["jobs2"]["wall_seconds"] else 2
            result["jobs"][label] = row
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def markdown(result):
    """The section of reports/performance.md."""
    o = result["overhead"]
    lines = ["## The sweep itself", "",
             "`bench/sweep_overhead.py`: LeNet on all of Fashion-MNIST, 1 epoch per trial (54,000 training images; 6,000 held-out "
             "and 10,000 test images evaluated after the epoch).", "",
             f"- Start-up of a trial process (start, data, plan, one step, a tiny evaluation): **{result['startup_seconds']:.2f} s** "
             f"(median of {len(result['startup_runs'])}).",
             f"- {o['trials']} trials typed by hand one after another against the same {o['trials']} as `archlab sweep --jobs 1`, "
             f"alternating {o['repeats']} times: by hand {', '.join(f'{v:.1f}' for v in o['by_hand_seconds'])} s, as a sweep "
             f"{', '.join(f'{v:.1f}' for v in o['sweep_seconds'])} s; the runner adds **{o['runner_seconds_per_trial']:+.2f} s per trial**, "
             f"and the sweep reaches **{o['sweep_over_by_hand'] * 100:.0f} %** of the images per second of the same trials by hand.",
             f"- Against the training images per second `archlab train` prints ({o['train_images_per_second']:.0f}, training steps only), "
             f"the sweep's {o['sweep_images_per_second']:.0f} is {o['sweep_over_train_images_per_second'] * 100:.0f} %: the rest is each "
             "trial's start-up and its per-epoch evaluation of 16,000 images, which a trial typed by hand pays too.", "",
             "`--jobs 1` (each trial with `--threads auto`: both cores) against `--jobs 2` (one thread each), 4 trials:", "",
             "| trials | --jobs 1 trials/hour | --jobs 2 trials/hour | better |", "|---|--:|--:|--:|"]
    for label, row in result["jobs"].items():
        lines.append(f"| {label} | {row['jobs1']['trials_per_hour']:.0f} | {row['jobs2']['trials_per_hour']:.0f} | --jobs {row['better']} |")
    lines += ["", "`archlab sweep` runs one job per core unless `--jobs` says otherwise."]
    return lines


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--json", default="")
    p.add_argument("--trials", type=int, default=10)
    p.add_argument("--repeats", type=int, default=2)
    a = p.parse_args()
    result = measure(a.trials, a.repeats)
    text = json.dumps(result, indent=1)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text + "\n")
    print(text)
    print("\n".join(markdown(result)))


if __name__ == "__main__":
    main()
