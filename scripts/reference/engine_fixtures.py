#!/usr/bin/env python3
"""Writes Tests/Fixtures/engine/*.json: PyTorch forward and backward results that the Swift engine
must reproduce (Tests/ArchGraphTests/PyTorchEngineTests.swift).

Weights are not stored: both sides fill every state_dict tensor with the same deterministic values
(`deterministic_values`, mirrored by DeterministicWeights.swift), so fixtures stay small however
large the network; the few biases moved to keep ReLU inputs away from zero (`ReluMargins`) are
listed in `bias_overrides`. The reference is PyTorch in float64; next to each value the fixture
records how far PyTorch's own float32 run is from it, and the Swift test allows ArchLab at most
3x that (with a floor). Each fixture holds the labels, the eval logits, and for a training step
(batch-norm batch statistics, dropout off, aux heads on with weight 0.3): the loss, the main
logits, the updated running statistics and, per parameter gradient, its L2 norm, the values at a
few fixed indices and the whole tensor (small ones) or a 64-bucket count sketch of it.

Usage: pip install torch==2.13.0+cpu torchvision==0.28.0 pillow numpy
       python3 scripts/reference/engine_fixtures.py
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.library
import torch.nn as nn
import torch.nn.functional as F

torch.library.register_fake = lambda *a, **k: (lambda f: f)
import torchvision  # noqa: E402
import importlib  # noqa: E402
tvg = importlib.import_module("torchvision.models.googlenet")
from torchvision.models.convnext import ConvNeXt, CNBlockConfig  # noqa: E402
from torchvision.models.vision_transformer import VisionTransformer  # noqa: E402
from torchvision.models.swin_transformer import SwinTransformer  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from architecture_fixtures import AlexNetHalf, BasicConv2d, LeNet  # noqa: E402

MASK = (1 << 64) - 1


def fnv1a(name):
    h = 0xCBF29CE484222325
    for b in name.encode():
        h = ((h ^ b) * 0x100000001B3) & MASK
    return h


def uniform_stream(name, count):
    """u_i in [-1, 1): splitmix64(fnv1a(name) + (i+1) * golden), top 24 bits."""
    with np.errstate(over="ignore"):
        i = np.arange(1, count + 1, dtype=np.uint64)
        z = np.uint64(fnv1a(name)) + i * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    top = (z >> np.uint64(40)).astype(np.float64)
    return (top / 16777216.0 * 2.0 - 1.0).astype(np.float32)


# The last batch norm of each residual block, whose scale is kept small (see deterministic_values).
LAST_RESIDUAL_BN = {"resnet18": "bn2", "resnet34": "bn2", "resnet50": "bn3", "resnet101": "bn3", "resnet152": "bn3",
                    "resnext50-32x4d": "bn3"}


def deterministic_values(name, shape, architecture=""):
    count = int(np.prod(shape)) if len(shape) else 1
    u = uniform_stream(name, count)
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "running_mean":
        v = np.float32(0.1) * u
    elif leaf == "running_var":
        v = np.float32(1.0) + np.float32(0.25) * (u + np.float32(1.0))
    elif leaf == "weight" and len(shape) == 1 and name.startswith("layer") and architecture in LAST_RESIDUAL_BN \
            and name.endswith(LAST_RESIDUAL_BN[architecture] + ".weight"):
        # the last batch norm of a residual block: small, so that 16-150 residual additions stay
        # well conditioned in float32 (as torchvision's zero_init_residual does, not quite zero)
        v = np.float32(0.2) + np.float32(0.02) * u
    elif leaf == "weight" and len(shape) == 1:  # batch-norm scale
        v = np.float32(1.0) + np.float32(0.1) * u
    elif leaf == "bias":
        v = np.float32(0.1) * u
    else:
        fan_in = int(np.prod(shape[1:]))
        v = np.float32(math.sqrt(3.0 / fan_in)) * u
    return v.reshape(shape)


def fill(model, architecture=""):
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith(("num_batches_tracked", "relative_position_index")):  # counters and index tables
                continue
            t.copy_(torch.from_numpy(deterministic_values(name, tuple(t.shape), architecture)))


# --- models equivalent to an architecture file with --set overrides ---------------------------
class CourseInception(nn.Module):
    def __init__(self, c_in, c1, c3r, c3, c5r, c5, cp, k5=5):
        super().__init__()
        self.branch1 = BasicConv2d(c_in, c1, kernel_size=1)
        self.branch2 = nn.Sequential(BasicConv2d(c_in, c3r, kernel_size=1), BasicConv2d(c3r, c3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(c_in, c5r, kernel_size=1), BasicConv2d(c5r, c5, kernel_size=k5, padding=k5 // 2))
        self.branch4 = nn.Sequential(nn.MaxPool2d(kernel_size=3, stride=1, padding=1), BasicConv2d(c_in, cp, kernel_size=1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class CourseAux(nn.Module):
    def __init__(self, c_in, features, num_classes, p=0.5):
        super().__init__()
        self.p = p
        self.averagePool = nn.AvgPool2d(kernel_size=5, stride=3)
        self.conv = BasicConv2d(c_in, 128, kernel_size=1)
        self.fc1 = nn.Linear(features, 1024)
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, x):
        x = torch.flatten(self.conv(self.averagePool(x)), 1)
        x = F.dropout(x, self.p, training=self.training)
        x = F.relu(self.fc1(x), inplace=True)
        x = F.dropout(x, self.p, training=self.training)
        return self.fc2(x)


TABLE = {"3a": [64, 96, 128, 16, 32, 32], "3b": [128, 128, 192, 32, 96, 64], "4a": [192, 96, 208, 16, 48, 64],
         "4b": [160, 112, 224, 24, 64, 64], "4c": [128, 128, 256, 24, 64, 64], "4d": [112, 144, 288, 32, 64, 64],
         "4e": [256, 160, 320, 32, 128, 128], "5a": [256, 160, 320, 32, 128, 128], "5b": [384, 192, 384, 48, 128, 128]}


class GoogLeNetFromTable(nn.Module):
    """The course GoogLeNet (torchvision=False) or torchvision's (True), inception widths scaled."""

    def __init__(self, num_classes, width, aux_features, torchvision_layout, aux=True):
        super().__init__()
        tv = torchvision_layout
        conv = tvg.BasicConv2d if tv else BasicConv2d
        rows = {k: [round(c * width) for c in v] for k, v in TABLE.items()}

        def block(c_in, r):
            return tvg.Inception(c_in, *r, conv_block=None) if tv else CourseInception(c_in, *r)

        def out(r):
            return r[0] + r[2] + r[4] + r[5]

        self.conv1 = conv(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = conv(64, 64, kernel_size=1)
        self.conv3 = conv(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        c = 192
        for key in ["3a", "3b"]:
            setattr(self, "inception" + key, block(c, rows[key])); c = out(rows[key])
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        for key in ["4a", "4b", "4c", "4d", "4e"]:
            setattr(self, "inception" + key, block(c, rows[key]))
            if key == "4a" and aux:
                self.aux1 = tvg.InceptionAux(out(rows[key]), num_classes, dropout=0.0) if tv else CourseAux(out(rows[key]), aux_features, num_classes, p=0.0)
            if key == "4d" and aux:
                self.aux2 = tvg.InceptionAux(out(rows[key]), num_classes, dropout=0.0) if tv else CourseAux(out(rows[key]), aux_features, num_classes, p=0.0)
            c = out(rows[key])
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True) if tv else nn.MaxPool2d(3, stride=2, ceil_mode=True)
        for key in ["5a", "5b"]:
            setattr(self, "inception" + key, block(c, rows[key])); c = out(rows[key])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(0.0)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x):
        x = self.maxpool2(self.conv3(self.conv2(self.maxpool1(self.conv1(x)))))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.training and hasattr(self, "aux1") else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.training and hasattr(self, "aux2") else None
        x = self.inception5b(self.inception5a(self.maxpool4(self.inception4e(x))))
        x = self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))
        return (x, [aux1, aux2]) if self.training else x


def small_classifier(model, indices, hidden, num_classes, in_features=None):
    """Replaces the fully connected layers at `indices` of model.classifier (same names)."""
    linears = [model.classifier[i] for i in indices]
    sizes = [in_features or linears[0].in_features, hidden, hidden, num_classes]
    for j, i in enumerate(indices):
        model.classifier[i] = nn.Linear(sizes[j], sizes[j + 1])
    return model


def grey(vit):
    """A vision transformer whose patch convolution reads one channel (Fashion-MNIST)."""
    first = vit.conv_proj
    vit.conv_proj = nn.Conv2d(1, first.out_channels, first.kernel_size, first.stride)
    return vit


def no_dropout(model):
    for m in model.modules():
        if isinstance(m, (nn.Dropout, torchvision.ops.StochasticDepth)):
            m.p = 0.0
    return model


tv = torchvision.models
RESNETS = {"resnet18": tv.resnet18, "resnet34": tv.resnet34, "resnet50": tv.resnet50, "resnet101": tv.resnet101,
           "resnet152": tv.resnet152}
CASES = [
    # name, architecture file, --set, input [C,H,W], batch, constructor
    ("lenet", "lenet", [], [3, 32, 32], 4, lambda: LeNet()),
    ("lenet-b1", "lenet", [], [3, 32, 32], 1, lambda: LeNet()),
    ("alexnet-64", "alexnet", ["num_classes=10", "hidden=64"], [3, 64, 64], 2,
     lambda: small_classifier(tv.alexnet(num_classes=10), [1, 4, 6], 64, 10)),
    ("alexnet-half-96", "alexnet-half", ["num_classes=5", "hidden=64"], [3, 96, 96], 2,
     lambda: small_classifier(AlexNetHalf(num_classes=5), [1, 4, 6], 64, 5, in_features=128 * 2 * 2)),
    ("vgg11-bn-32", "vgg11-bn", ["num_classes=10", "hidden=32"], [3, 32, 32], 3,
     lambda: small_classifier(tv.vgg11_bn(num_classes=10), [0, 3, 6], 32, 10)),
    *[(f"vgg{d}{bn}-32", f"vgg{d}{bn}", ["num_classes=10", "hidden=32"], [3, 32, 32], 2,
       (lambda d=d, bn=bn: small_classifier(getattr(tv, f"vgg{d}{bn.replace('-', '_')}")(num_classes=10), [0, 3, 6], 32, 10)))
      for d in (11, 13, 16, 19) for bn in ("", "-bn") if not (d == 11 and bn == "-bn")],
    ("resnet18-32", "resnet18", ["num_classes=10"], [3, 32, 32], 3, lambda: tv.resnet18(num_classes=10)),
    ("resnet18-64-b1", "resnet18", ["num_classes=10"], [3, 64, 64], 1, lambda: tv.resnet18(num_classes=10)),
    *[(f"{r}-64", r, ["num_classes=10"], [3, 64, 64], 2, (lambda r=r: RESNETS[r](num_classes=10)))
      for r in ("resnet34", "resnet50", "resnet101", "resnet152")],
    ("resnet50-64-b1", "resnet50", ["num_classes=10"], [3, 64, 64], 1, lambda: tv.resnet50(num_classes=10)),
    ("googlenet-96", "googlenet", ["num_classes=10", "width=0.25"], [3, 96, 96], 2,
     lambda: GoogLeNetFromTable(10, 0.25, 128, False)),
    # the course's aux heads pool 5x5 windows, which need an 80x80 input: at 64x64 the network runs without them
    ("googlenet-64", "googlenet", ["num_classes=10", "width=0.25", "aux_logits=false"], [3, 64, 64], 2,
     lambda: GoogLeNetFromTable(10, 0.25, 128, False, aux=False)),
    ("googlenet-torchvision-96", "googlenet-torchvision", ["num_classes=10", "width=0.25"], [3, 96, 96], 2,
     lambda: GoogLeNetFromTable(10, 0.25, 2048, True)),
    ("googlenet-torchvision-64", "googlenet-torchvision", ["num_classes=10", "width=0.25"], [3, 64, 64], 2,
     lambda: GoogLeNetFromTable(10, 0.25, 2048, True)),
    ("googlenet-torchvision-64-b1", "googlenet-torchvision", ["num_classes=10", "width=0.25"], [3, 64, 64], 1,
     lambda: GoogLeNetFromTable(10, 0.25, 2048, True)),
    # the modern convnets at a small input (stochastic depth off on both sides, as dropout)
    ("resnext50-32x4d-64", "resnext50-32x4d", ["num_classes=10"], [3, 64, 64], 2, lambda: tv.resnext50_32x4d(num_classes=10)),
    ("mobilenet-v2-64", "mobilenet-v2", ["num_classes=10", "width_mult=0.5"], [3, 64, 64], 2,
     lambda: tv.mobilenet_v2(num_classes=10, width_mult=0.5)),
    ("mobilenet-v3-large-64", "mobilenet-v3-large", ["num_classes=10"], [3, 64, 64], 2, lambda: tv.mobilenet_v3_large(num_classes=10)),
    ("mobilenet-v3-small-64", "mobilenet-v3-small", ["num_classes=10"], [3, 64, 64], 2, lambda: tv.mobilenet_v3_small(num_classes=10)),
    ("efficientnet-b0-64", "efficientnet-b0", ["num_classes=10"], [3, 64, 64], 2, lambda: tv.efficientnet_b0(num_classes=10)),
    ("regnet-y-400mf-64", "regnet-y-400mf", ["num_classes=10"], [3, 64, 64], 2, lambda: tv.regnet_y_400mf(num_classes=10)),
    ("shufflenet-v2-64", "shufflenet-v2-x1.0", ["num_classes=10", "widths=[24, 48, 96, 192, 1024]"], [3, 64, 64], 2,
     lambda: tv.shufflenet_v2_x0_5(num_classes=10)),
    ("densenet-64", "densenet121", ["num_classes=10", "growth_rate=12", "block_config=[2, 3, 4, 2]"], [3, 64, 64], 2,
     lambda: tv.DenseNet(growth_rate=12, block_config=(2, 3, 4, 2), num_classes=10)),
    ("convnext-64", "convnext-tiny", ["num_classes=10", "widths=[32, 64, 128, 256]", "depths=[1, 2, 2, 1]", "layer_scale=0.5"],
     [3, 64, 64], 2, lambda: ConvNeXt([CNBlockConfig(32, 64, 1), CNBlockConfig(64, 128, 2), CNBlockConfig(128, 256, 2),
                                      CNBlockConfig(256, None, 1)], layer_scale=0.5, num_classes=10)),
    ("vit-32", "vit-b-16", ["num_classes=10", "patch_size=8", "hidden_dim=48", "num_layers=2", "num_heads=3", "mlp_dim=96"],
     [3, 32, 32], 2, lambda: VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=3, hidden_dim=48, mlp_dim=96,
                                               num_classes=10)),
    ("vit-small-fmnist-28", "vit-small-fmnist", ["num_layers=1"], [1, 28, 28], 2, lambda: grey(
        VisionTransformer(image_size=28, patch_size=4, num_layers=1, num_heads=3, hidden_dim=192, mlp_dim=768, num_classes=10))),
    # windows of 4 at 16x16 and 8x8 (shifted by 2, masked) and at 4x4 (the window spans the map: not shifted)
    ("swin-64", "swin-t", ["num_classes=10", "embed_dim=16", "depths=[2, 2, 2]", "num_heads=[2, 4, 8]", "window_size=4"],
     [3, 64, 64], 2, lambda: SwinTransformer(patch_size=[4, 4], embed_dim=16, depths=[2, 2, 2], num_heads=[2, 4, 8],
                                             window_size=[4, 4], num_classes=10)),
]

PICKS = 6
# Gradient tensors up to this size are stored whole; larger ones as a sketch of SKETCH buckets.
WHOLE = 256
SKETCH = 64


def picks(count):
    return sorted({(i * 7919 + 13) % count for i in range(PICKS)})


def sketch_signs(count):
    """+1/-1 for indices 0..<count: the top bit of splitmix64((i+1) * golden) (mirrored in Swift)."""
    with np.errstate(over="ignore"):
        i = np.arange(1, count + 1, dtype=np.uint64)
        z = i * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return np.where((z >> np.uint64(63)) == 0, 1.0, -1.0)


def sketch(values):
    """A count sketch: bucket i % SKETCH gets sign(i) * v_i. For any error vector e the squared
    norm of its sketch estimates |e|^2 without bias, so a wrong entry anywhere shows."""
    v = np.asarray(values, dtype=np.float64).ravel()
    return np.bincount(np.arange(v.size) % SKETCH, weights=v * sketch_signs(v.size), minlength=SKETCH)


# Activations with kinks, and where: an input within float32 rounding of a kink makes the exact
# gradient depend on which side rounding puts it (see ReluMargins).
def hardtanh_bounds(args, kwargs):
    return [float(args[0] if len(args) > 0 else kwargs.get("min_val", -1.0)),
            float(args[1] if len(args) > 1 else kwargs.get("max_val", 1.0))]


# name -> (kinks, the call without `inplace`: an in-place call would overwrite the captured input)
KINKED = {
    "relu": (lambda args, kwargs: [0.0], lambda f, z, args, kwargs: f(z)),
    "hardtanh": (hardtanh_bounds, lambda f, z, args, kwargs: f(z, *hardtanh_bounds(args, kwargs))),
    "hardswish": (lambda args, kwargs: [-3.0, 3.0], lambda f, z, args, kwargs: f(z)),
    "hardsigmoid": (lambda args, kwargs: [-3.0, 3.0], lambda f, z, args, kwargs: f(z)),
}


class ReluMargins:
    """Moves every input of a kinked activation (ReLU, ReLU6, hardswish, hardsigmoid) at least
    `delta` away from its kinks by shifting the per-channel bias that adds into it (a batch-norm or
    convolution/linear bias), so that float32 rounding cannot flip an activation between its sides.
    Without this, one flipped element in a batch-norm population of 8 (ResNet's last stage at batch
    2, 64x64) changes every gradient below it by 1-5 % in any float32 engine
    (scripts/reference/gradient_conditioning.py measures it), and the fixture would compare rounding
    luck instead of arithmetic."""

    def __init__(self, model):
        self.model = model
        self.biases = {n: p for n, p in model.named_parameters() if p.dim() == 1 and n.endswith("bias")}
        self.originals = {name: getattr(F, name) for name in KINKED}

    def _channels(self, z):
        dims = [d for d in range(z.dim()) if d != 1]
        return z.permute(1, *dims).reshape(z.shape[1], -1)

    def _patched(self, wrapper):
        """Runs with every kinked activation replaced by wrapper(name, original, z, kinks)."""
        def make(name):
            original = self.originals[name]

            def patched(z, *args, **kwargs):
                kinks, call = KINKED[name]
                return wrapper(name, lambda v: call(original, v, args, kwargs), z, kinks(args, kwargs))
            return patched
        for name in KINKED:
            setattr(F, name, make(name))

    def _restore(self):
        for name, f in self.originals.items():
            setattr(F, name, f)

    def _map_calls(self, x):
        """For each kinked call in training mode, the bias that adds into its input unchanged."""
        inputs = []

        def capture(name, call, z, kinks):
            inputs.append(z)
            return call(z)
        self._patched(capture)
        try:
            self.model.train()
            self.model(x)
        finally:
            self._restore()
        names, params = list(self.biases), list(self.biases.values())
        mapping = []
        for z in inputs:
            m = torch.randn(z.shape[1], dtype=z.dtype)
            shape = [1, -1] + [1] * (z.dim() - 2)
            grads = torch.autograd.grad((z * m.view(shape)).sum(), params, retain_graph=True, allow_unused=True)
            count = z.numel() // z.shape[1]
            found = None
            for name, g in zip(names, grads):
                if g is not None and g.shape[0] == z.shape[1] and torch.allclose(g, m * count, rtol=1e-9, atol=1e-9):
                    found = name
            mapping.append(found)
        return mapping

    @staticmethod
    def _shift(values, delta, kinks=(0.0,)):
        """The smallest s with |v + s - k| >= delta for every v and kink k."""
        v = np.sort(values)
        lo = np.concatenate([k - v - delta for k in kinks])
        hi = np.concatenate([k - v + delta for k in kinks])  # forbidden intervals for s
        order = np.argsort(lo)
        lo, hi = lo[order], hi[order]
        merged = []
        for a, b in zip(lo, hi):
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        for a, b in merged:
            if a < 0 < b:
                return a if -a < b else b
        return 0.0

    def apply(self, x):
        mapping = self._map_calls(x)
        calls = iter(mapping)
        shifts = {}
        report = {"calls": len(mapping), "shifted_channels": 0, "min_margin": math.inf}

        def shifted(kind, call, z, kinks):
            name = next(calls)
            c = self._channels(z.detach())
            scale = float(c.std())
            per_channel = c.shape[1]
            delta = scale * min(1e-3, 0.25 / per_channel)
            s = torch.zeros(z.shape[1], dtype=z.dtype)
            if name is not None:
                for ch in range(z.shape[1]):
                    s[ch] = self._shift(c[ch].numpy(), delta, kinks)
                if (s != 0).any():
                    shifts[name] = shifts.get(name, torch.zeros_like(s)) + s
                    report["shifted_channels"] += int((s != 0).sum())
                z = z + s.view([1, -1] + [1] * (z.dim() - 2))
            moved = self._channels(z.detach())
            margin = min(float((moved - k).abs().min()) for k in kinks) / scale
            report["min_margin"] = min(report["min_margin"], margin)
            if name is None:
                report.setdefault("unmapped_calls", 0)
                report["unmapped_calls"] += 1
            return call(z)
        self._patched(shifted)
        try:
            with torch.no_grad():
                self.model(x)
        finally:
            self._restore()
        overrides = {}
        with torch.no_grad():
            for name, s in shifts.items():
                p = self.biases[name]
                new = (p + s).float().double()  # what a float32 weights file holds
                changed = torch.nonzero(s).flatten().tolist()
                overrides[name] = [[i, float(new[i])] for i in changed]
                p.copy_(new)
        if not math.isfinite(report["min_margin"]):
            report["min_margin"] = None  # no kinked activation (EfficientNet's SiLU and sigmoid are smooth)
        return overrides, report


def r9(values):
    """Nine significant digits: far below any tolerance, a third of the file size."""
    return [float(f"{v:.9g}") for v in values]


def relative_error(a, ref, scale):
    return float((a - ref).norm() / max(float(ref.norm()), scale))


def run_case(name, arch, sets, shape, batch, make):
    torch.manual_seed(0)
    model = no_dropout(make()).double()
    fill(model, arch)
    buffers = {k: v.clone() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    x = torch.from_numpy(uniform_stream("input:" + name, batch * int(np.prod(shape))).reshape([batch] + shape)).double()
    overrides, margins = ReluMargins(model).apply(x)
    with torch.no_grad():  # the shifting passes moved the running statistics: back to the filled values
        for k, v in model.state_dict().items():
            if (k.endswith("running_mean") or k.endswith("running_var")):
                v.copy_(buffers[k])
    labels = [int(v) for v in (np.arange(batch) * 3 + 1) % 5]
    target = torch.tensor(labels)

    def run(dtype):
        m = no_dropout(make()).to(dtype)
        m.load_state_dict({k: v.to(dtype) if v.is_floating_point() else v for k, v in model.state_dict().items()})
        m.eval()
        with torch.no_grad():
            eval_logits = m(x.to(dtype)).double()
        m.train()
        out = m(x.to(dtype))
        logits, auxes = out if isinstance(out, tuple) else (out, [])
        main = F.cross_entropy(logits, target)
        loss = main + sum(0.3 * F.cross_entropy(a, target) for a in auxes if a is not None)
        m.zero_grad()
        loss.backward()
        grads = {n: p.grad.detach().double().flatten() for n, p in m.named_parameters()}
        running = {n: b.detach().double().flatten() for n, b in m.named_buffers() if n.endswith(("running_mean", "running_var"))}
        return eval_logits, logits.detach().double(), float(loss), float(main), grads, running

    e64, t64, loss64, main64, g64, r64 = run(torch.float64)
    e32, t32, loss32, main32, g32, r32 = run(torch.float32)
    largest = max(float(g.norm()) for g in g64.values())
    floor = 1e-4 * largest  # gradients that are zero in exact arithmetic (a conv bias before batch norm)
    grads = {}
    for pname, g in g64.items():
        entry = {"count": g.numel(), "norm": float(g.norm()), "max_abs": float(g.abs().max()),
                 "picks": [[i, float(f"{float(g[i]):.9g}")] for i in picks(g.numel())],
                 "pytorch_float32_error": relative_error(g32[pname], g, floor)}
        if g.numel() <= WHOLE:
            entry["values"] = r9(g.tolist())
        else:
            s64 = sketch(g.numpy())
            entry["sketch"] = r9(s64.tolist())
            entry["pytorch_float32_sketch_error"] = float(np.linalg.norm(sketch(g32[pname].numpy()) - s64) / max(float(g.norm()), floor))
        grads[pname] = entry
    logit_scale = max(1.0, float(e64.abs().max()))
    return {"name": name, "architecture": arch, "set": sets, "input_shape": [batch] + shape, "labels": labels,
            "bias_overrides": overrides, "relu_margins": margins, "gradient_floor": floor,
            "eval_logits": e64.flatten().tolist(), "train_logits": t64.flatten().tolist(),
            "pytorch_float32_eval_error": float((e32 - e64).abs().max()) / logit_scale,
            "pytorch_float32_train_error": float((t32 - t64).abs().max()) / max(1.0, float(t64.abs().max())),
            "loss": loss64, "main_loss": main64, "pytorch_float32_loss_error": abs(loss32 - loss64) / max(1.0, abs(loss64)),
            "gradients": grads, "running_stats": {k: v[:8].tolist() for k, v in r64.items()},
            "pytorch_float32_running_error": max(float(((r32[k][:8] - v[:8]).abs() / v[:8].abs().clamp(min=1)).max()) for k, v in r64.items())
            if r64 else 0.0}


def main():
    out_dir = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "Fixtures", "engine")
    os.makedirs(out_dir, exist_ok=True)
    only = set(sys.argv[1:])
    for case in CASES:
        if only and case[0] not in only:
            continue
        fixture = run_case(*case)
        fixture["generator"] = "scripts/reference/engine_fixtures.py"
        fixture["torch"] = torch.__version__
        with open(os.path.join(out_dir, case[0] + ".json"), "w") as f:
            json.dump(fixture, f, separators=(",", ":"))
        print(f"{case[0]}: loss {fixture['loss']:.6f}, {len(fixture['gradients'])} gradients", file=sys.stderr)


if __name__ == "__main__":
    main()
