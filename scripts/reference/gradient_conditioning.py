#!/usr/bin/env python3
"""How far float32 training-mode gradients of ResNet-50 (batch 2, 3x64x64) are from a float64
reference, for PyTorch and for both ArchLab engines, over several random draws of weights and
input, with and without ReLU margins. Writes reports/gradient-conditioning.md.

Why: issue 18 saw ArchLab's oneDNN engine 90x further from float64 than PyTorch on one draw. The
cause is a ReLU input within float32 rounding of zero: an engine whose rounding puts it on the
other side than float64 does gets a different (equally valid) gradient, and in ResNet's last
stage at batch 2 x 2x2 a batch-norm population is 8 values, so one flipped element moves every
gradient below it by 1-5 %. Which engine flips is rounding luck: this script shows it on every
engine, and shows the errors falling to float32 rounding once the inputs are kept away from zero
(engine_fixtures.ReluMargins, what the golden tests use).

Weights as the issue describes: randn * 0.5/sqrt(fan_in), batch-norm weights 1 + 0.1 randn,
biases 0.1 randn, running statistics random. Usage (after `make release`):
    python3 scripts/reference/gradient_conditioning.py [DRAWS]
"""
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from engine_fixtures import ReluMargins  # noqa: E402  (also patches torchvision's fake registration)
import torchvision  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
ARCHLAB = os.path.join(ROOT, ".build", "release", "archlab")
ENGINES = {"ArchLab oneDNN (default)": {}, "ArchLab OpenBLAS": {"ARCHLAB_CONV": "openblas", "ARCHLAB_GEMM": "openblas"}}


def random_model(seed):
    torch.manual_seed(seed)
    m = torchvision.models.resnet50(num_classes=10)
    with torch.no_grad():
        for n, t in m.state_dict().items():
            if n.endswith("num_batches_tracked"):
                continue
            if n.endswith("running_mean"):
                t.copy_(0.1 * torch.randn_like(t))
            elif n.endswith("running_var"):
                t.copy_(1 + 0.25 * torch.rand_like(t))
            elif t.dim() == 1 and n.endswith("weight"):
                t.copy_(1 + 0.1 * torch.randn_like(t))
            elif n.endswith("bias"):
                t.copy_(0.1 * torch.randn_like(t))
            else:
                t.copy_(torch.randn_like(t) * 0.5 / np.sqrt(t[0].numel()))
    return m, torch.randn(2, 3, 64, 64), torch.randint(0, 10, (2,))


def pytorch_gradients(state, x, y, dtype, onednn=True):
    m = torchvision.models.resnet50(num_classes=10)
    m.load_state_dict(state)
    m = m.to(dtype).train()
    with torch.backends.mkldnn.flags(enabled=onednn):
        loss = F.cross_entropy(m(x.to(dtype)), y)
        loss.backward()
    return {n: p.grad.double() for n, p in m.named_parameters()}


def relu_inputs(state, x, dtype):
    """Signs of every ReLU input, in call order (for counting flips against float64)."""
    m = torchvision.models.resnet50(num_classes=10)
    m.load_state_dict(state)
    m = m.to(dtype).train()
    signs, original = [], F.relu

    def capture(z, inplace=False):
        signs.append(z.detach() > 0)
        return original(z)
    F.relu = capture
    try:
        with torch.no_grad():
            m(x.to(dtype))
    finally:
        F.relu = original
    return signs


def archlab_gradients(state, x, y, env, work):
    save_file({k: v.float().contiguous() for k, v in state.items() if not k.endswith("num_batches_tracked")}, f"{work}/w.safetensors")
    np.save(f"{work}/x.npy", x.numpy())
    np.save(f"{work}/y.npy", y.numpy().astype(np.int64))
    e = dict(os.environ)
    e.update(env)
    subprocess.run([ARCHLAB, "forward", os.path.join(ROOT, "architectures", "resnet50.yaml"), "--set", "num_classes=10",
                    "--weights", f"{work}/w.safetensors", "--input", f"{work}/x.npy", "--train", "--labels", f"{work}/y.npy",
                    "--grads", f"{work}/g.safetensors", "--no-dropout"], env=e, check=True, capture_output=True)
    return {k: v.double() for k, v in load_file(f"{work}/g.safetensors").items()}


def errors(grads, reference):
    return [float((grads[n] - g).norm() / g.norm()) for n, g in reference.items()]


def draw(seed, margins, work):
    model, x, y = random_model(seed)
    if margins:
        m64 = torchvision.models.resnet50(num_classes=10)
        m64.load_state_dict(model.state_dict())
        m64 = m64.double()
        saved = {k: v.clone() for k, v in m64.state_dict().items()}
        ReluMargins(m64).apply(x.double())
        with torch.no_grad():
            for k, v in m64.state_dict().items():
                if k.endswith(("running_mean", "running_var")):
                    v.copy_(saved[k])
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in m64.state_dict().items()})
    state = model.state_dict()
    g64 = pytorch_gradients(state, x, y, torch.float64)
    s64 = relu_inputs(state, x, torch.float64)
    s32 = relu_inputs(state, x, torch.float32)
    flips = sum(int((a != b).sum()) for a, b in zip(s64, s32))
    rows = {"PyTorch float32 (oneDNN)": errors(pytorch_gradients(state, x, y, torch.float32), g64),
            "PyTorch float32, oneDNN off": errors(pytorch_gradients(state, x, y, torch.float32, onednn=False), g64)}
    for label, env in ENGINES.items():
        rows[label] = errors(archlab_gradients(state, x, y, env, work), g64)
    return rows, flips


def main():
    draws = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    out = ["# Float32 gradients of ResNet-50 against float64, batch 2 x 3x64x64", "",
           "Generated by `scripts/reference/gradient_conditioning.py` (torch " + torch.__version__ + "); see its docstring.",
           "Each cell: the largest and the median, over the 161 gradient tensors, of |g - g64| / |g64|.",
           "ReLU flips: ReLU inputs on the other side of zero in PyTorch's float32 forward than in float64.", ""]
    with tempfile.TemporaryDirectory() as work:
        for margins in (False, True):
            title = "With ReLU inputs kept away from zero (the golden tests' fixtures)" if margins else "Random weights as drawn"
            out += [f"## {title}", ""]
            results = [draw(seed, margins, work) for seed in range(1, draws + 1)]
            labels = list(results[0][0])
            out.append("| draw | ReLU flips (PyTorch f32) | " + " | ".join(labels) + " |")
            out.append("|---|--:|" + "--:|" * len(labels))
            for seed, (rows, flips) in enumerate(results, 1):
                cells = [f"{max(rows[k]):.1e} / {statistics.median(rows[k]):.1e}" for k in labels]
                out.append(f"| {seed} | {flips} | " + " | ".join(cells) + " |")
            out.append("")
            print(f"{title}: done", file=sys.stderr)
    out += ["## Reading", "",
            "Without margins, every engine, PyTorch's included, lands 1e-3 to 5e-2 from float64 on some draws and not on others: "
            "which engine is worst changes from draw to draw with where its rounding puts the few ReLU inputs that lie within "
            "float32 rounding of zero. With every ReLU input kept away from zero, all four agree with float64 to the same few "
            "1e-4 (the residual error of float32 through 16 residual blocks of these weights). No float32 engine avoids the first "
            "case; the golden tests (Tests/ArchGraphTests/PyTorchEngineTests.swift) use the second, where a wrong kernel shows.", ""]
    with open(os.path.join(ROOT, "reports", "gradient-conditioning.md"), "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
