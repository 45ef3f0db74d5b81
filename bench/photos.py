#!/usr/bin/env python3
"""A folder of real-size photographs for the JPEG pipeline benchmark (bench/data_pipeline.py).

The flower-photos workflow decodes 500x375-ish camera JPEGs. Generated shapes compress and decode
far faster than photos, so this cuts 500x375 pictures out of real photographs: the RGB photos that
ship inside scikit-image's wheel (astronaut, coffee, the Hubble deep field, an IHC micrograph, the
stereo motorcycle pair, a retina fundus, a rocket launch), one class per source photo. Each cut is
a random 4:3 box between 500x375 and the largest that fits, at a random place, resized to 500x375
with Lanczos and flipped at random, saved as a 4:2:0 JPEG of quality 90 (what cameras and the
flower photos use). The wheel is fetched with `pip download scikit-image --no-deps` (PyPI) and
only unzipped: nothing is installed.

Usage: python3 bench/photos.py [--out .bench/photos] [--per-class 64] [--val 8]
Writes OUT/train/<photo>/*.jpg and OUT/val/<photo>/*.jpg (ImageFolder layout); deterministic.
"""
import argparse
import glob
import io
import os
import random
import subprocess
import sys
import tempfile
import zipfile

from PIL import Image

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SOURCES = ["astronaut.png", "coffee.png", "hubble_deep_field.jpg", "ihc.png", "motorcycle_left.png", "motorcycle_right.png",
           "retina.jpg", "rocket.jpg"]
SIZE = (500, 375)


def wheel(cache):
    found = glob.glob(os.path.join(cache, "scikit_image-*.whl"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--dest", cache, "scikit-image"], check=True)
        found = glob.glob(os.path.join(cache, "scikit_image-*.whl"))
    return sorted(found)[-1]


def photos(path):
    with zipfile.ZipFile(path) as z:
        for name in SOURCES:
            yield os.path.splitext(name)[0], Image.open(io.BytesIO(z.read("skimage/data/" + name))).convert("RGB")


def cut(photo, rng):
    w, h = photo.size
    largest = min(w, h * 4 / 3)
    bw = rng.uniform(SIZE[0], largest) if largest > SIZE[0] else largest
    bh = bw * 3 / 4
    x, y = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
    image = photo.resize(SIZE, Image.LANCZOS, box=(x, y, x + bw, y + bh))
    return image.transpose(Image.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else image


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=os.path.join(ROOT, ".bench", "photos"))
    p.add_argument("--per-class", type=int, default=64)
    p.add_argument("--val", type=int, default=8)
    p.add_argument("--cache", default=os.path.join(ROOT, ".bench"))
    a = p.parse_args()
    os.makedirs(a.cache, exist_ok=True)
    rng = random.Random(0)
    total, size = 0, 0
    for name, photo in photos(wheel(a.cache)):
        for i in range(a.per_class + a.val):
            folder = os.path.join(a.out, "train" if i < a.per_class else "val", name)
            os.makedirs(folder, exist_ok=True)
            target = os.path.join(folder, f"{i:04d}.jpg")
            cut(photo, rng).save(target, quality=90, subsampling="4:2:0")
            total += 1
            size += os.path.getsize(target)
    print(f"{total} photos of {SIZE[0]}x{SIZE[1]} in {a.out} ({size / total / 1024:.0f} KiB each on average)")


if __name__ == "__main__":
    main()
