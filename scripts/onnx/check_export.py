#!/usr/bin/env python3
"""Exports every architecture file to ONNX and checks the model against ArchLab's own forward.

For each file (at its own input size, plus a few at 64x64 where adaptive pooling has uneven or
overlapping windows): initialized weights with the batch-norm statistics, norm scales and layer
scales perturbed and zero-initialized tensors (a ViT's head and class token) filled (so that those
tensors matter), a random batch of 2, then
  archlab forward ... --output logits.npy     (ArchLab's eval forward)
  archlab export ... --format onnx            (the model)
  onnx.checker.check_model(full_check=True)   (schema and shape inference)
  onnxruntime on the same batch, and on a batch of 3 (the batch dimension is symbolic)
and requires max |onnx - archlab| <= 1e-4 * max |archlab|.

    pip install onnx onnxruntime safetensors numpy
    python3 scripts/onnx/check_export.py [--archlab .build/release/archlab] [NAME | FILE.yaml ...]

Writes a table to standard output; exits 1 if any file fails.
"""
import argparse
import glob
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime
from safetensors.numpy import load_file, save_file

EXTRA = [("vgg11", "3x64x64"), ("alexnet", "3x64x64"), ("googlenet", "3x96x96"), ("shufflenet-v2-x1.0", "3x64x64"), ("mobilenet-v3-small", "3x64x64"), ("convnext-tiny", "3x64x64")]


def perturb(weights, rng):
    out = {}
    for name, t in weights.items():
        if name.endswith("running_var"):
            t = rng.uniform(0.5, 1.5, t.shape)
        elif name.endswith("running_mean"):
            t = rng.normal(0, 0.1, t.shape)
        elif t.ndim == 1 or (t.ndim == 3 and t.shape[1:] == (1, 1)):  # norm scales and shifts, biases, layer scales
            t = t + rng.normal(0, 0.1, t.shape)
        elif not t.any():  # zero-initialized (ViT's head and class token): the check would compare constants
            t = rng.normal(0, 0.05, t.shape)
        out[name] = np.ascontiguousarray(t, dtype=np.float32)
    return out


def check(archlab, path, input_shape, work, rng):
    name = os.path.splitext(os.path.basename(path))[0]
    shape_args = ["--input", input_shape] if input_shape else []
    weights = os.path.join(work, "w.safetensors")
    subprocess.run([archlab, "init", path, *shape_args, "--out", weights], check=True, capture_output=True)
    save_file(perturb(load_file(weights), rng), weights)
    model_path = os.path.join(work, "model.onnx")
    r = subprocess.run([archlab, "export", path, *shape_args, "--weights", weights, "--format", "onnx", "--output", model_path],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return name, input_shape, False, r.stderr.strip()
    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim[1:]]
    session = onnxruntime.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    worst = 0.0
    for batch in (2, 3):
        x = rng.normal(0, 1, [batch, *dims]).astype(np.float32)
        np.save(os.path.join(work, "x.npy"), x)
        subprocess.run([archlab, "forward", path, "--weights", weights, "--input", os.path.join(work, "x.npy"),
                        "--output", os.path.join(work, "y.npy")], check=True, capture_output=True)
        expected = np.load(os.path.join(work, "y.npy"))
        got = session.run(None, {"input": x})[0]
        if got.shape != expected.shape:
            return name, input_shape, False, f"shape {got.shape}, archlab {expected.shape}"
        worst = max(worst, float(np.abs(got - expected).max() / max(np.abs(expected).max(), 1e-30)))
    ok = worst <= 1e-4
    nodes = len(model.graph.node)
    return name, "x".join(map(str, dims)), ok, f"{nodes} nodes, max relative difference {worst:.2e}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--archlab", default=".build/release/archlab")
    parser.add_argument("names", nargs="*")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    files = sorted(glob.glob("architectures/*.yaml"))
    cases = [(f, None) for f in files] + [(f"architectures/{n}.yaml", s) for n, s in EXTRA]
    if args.names:  # names of architecture files, or paths of other YAML files
        cases = [c for c in cases if os.path.splitext(os.path.basename(c[0]))[0] in args.names]
        cases += [(n, None) for n in args.names if n.endswith(".yaml")]
    failures = 0
    print(f"onnx {onnx.__version__}, onnxruntime {onnxruntime.__version__}")
    print("| file | input | ok | detail | seconds |\n|---|---|---|---|--:|")
    for path, shape in cases:
        start = time.time()
        with tempfile.TemporaryDirectory() as work:
            try:
                name, dims, ok, detail = check(args.archlab, path, shape, work, rng)
            except Exception as e:  # a checker or runtime error is a failure of this file, not of the script
                name, dims, ok, detail = os.path.basename(path), shape or "", False, f"{type(e).__name__}: {e}"[:300]
        failures += not ok
        print(f"| {name} | {dims} | {'yes' if ok else 'NO'} | {detail} | {time.time() - start:.1f} |", flush=True)
    print(f"{len(cases) - failures} of {len(cases)} pass")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
