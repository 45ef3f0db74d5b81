#!/usr/bin/env python3
"""The JPEG training pipeline: `archlab data bench` against torchvision's, on the same photos.

torchvision: ImageFolder + PIL + RandomResizedCrop(224) + RandomHorizontalFlip + ToTensor +
Normalize, a DataLoader with batch 32, shuffling and 2 worker processes (persistent, so worker
start-up is not timed). ArchLab: `archlab data bench --data folder:DIR --resize 224
--random-resized-crop --batch-size 32 --threads 2 --format json`. Both decode every image of
DIR/train once per pass; each side runs a warm-up pass and then `--passes` timed passes, the two
alternating `--repeats` times; the median of the repeats is reported.

The photos come from bench/photos.py (real photographs, 500x375, quality 90).

Usage: python3 bench/data_pipeline.py [--photos .bench/photos] [--passes 2] [--repeats 3] [--json OUT]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
ARCHLAB = os.path.join(ROOT, ".build", "release", "archlab")
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def torchvision_rate(photos, passes, workers):
    """Images per second of torchvision's pipeline, in a child process of its own."""
    code = f"""
import time, json, torch
torch.library.register_fake = lambda *a, **k: (lambda f: f)  # torchvision's compiled ops need CUDA; its transforms do not
from torchvision import datasets, transforms
t = transforms.Compose([transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip(), transforms.ToTensor(),
                        transforms.Normalize({MEAN}, {STD})])
data = datasets.ImageFolder({os.path.join(photos, 'train')!r}, transform=t)
loader = torch.utils.data.DataLoader(data, batch_size=32, shuffle=True, num_workers={workers}, persistent_workers=True)
for x, y in loader: pass
start, n = time.perf_counter(), 0
for _ in range({passes}):
    for x, y in loader: n += len(y)
print(json.dumps({{"images": n, "seconds": time.perf_counter() - start}}))
"""
    out = json.loads(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout)
    return out["images"] / out["seconds"]


def archlab_rate(photos, passes, threads):
    out = json.loads(subprocess.run([ARCHLAB, "data", "bench", "--data", "folder:" + photos, "--resize", "224", "--random-resized-crop",
                                     "--batch-size", "32", "--threads", str(threads), "--mean", ",".join(map(str, MEAN)),
                                     "--std", ",".join(map(str, STD)), "--warm-up", "1", "--passes", str(passes), "--format", "json"],
                                    cwd=ROOT, check=True, capture_output=True, text=True).stdout)
    return out["images_per_second"]


def measure(photos, passes, repeats, threads):
    """Both pipelines alternating `repeats` times; medians, every run, and the ratio."""
    if not os.path.isdir(os.path.join(photos, "train")):
        subprocess.run([sys.executable, os.path.join(ROOT, "bench", "photos.py"), "--out", photos, "--per-class", "256"], check=True)
    rows = {"torchvision": [], "archlab": []}
    for _ in range(repeats):
        rows["torchvision"].append(torchvision_rate(photos, passes, threads))
        rows["archlab"].append(archlab_rate(photos, passes, threads))
        print("data pipeline: " + ", ".join(f"{k} {v[-1]:.0f}" for k, v in rows.items()) + " img/s", file=sys.stderr)
    images = sum(len(f) for _, _, f in os.walk(os.path.join(photos, "train")))
    result = {"photos": images, "passes": passes, "repeats": repeats, "workers_or_threads": threads,
              "images_per_second": {k: statistics.median(v) for k, v in rows.items()}, "runs": rows}
    result["ratio"] = result["images_per_second"]["archlab"] / result["images_per_second"]["torchvision"]
    return result


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--photos", default=os.path.join(ROOT, ".bench", "photos"))
    p.add_argument("--passes", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json")
    a = p.parse_args()
    result = measure(a.photos, a.passes, a.repeats, a.threads)
    text = json.dumps(result, indent=1)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text)
    print(text)


if __name__ == "__main__":
    main()
