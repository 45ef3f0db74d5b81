#!/usr/bin/env python3
"""Writes Tests/Fixtures/interop/*: PyTorch references for the training pieces.

- optimizers.json: parameters after 3 steps of each torch.optim optimizer from fixed gradients.
- schedules.json: learning rates of CosineAnnealingLR and StepLR per epoch.
- resize.json: F.interpolate(bilinear, align_corners=False) of a small image.
- lenet.safetensors + lenet-input.npy + lenet-logits.npy: a LeNet state_dict saved with
  safetensors.torch.save_file (1 input channel, 10 classes) and its eval logits, to test loading
  PyTorch checkpoints by name.

Usage: pip install torch==2.13.0+cpu safetensors numpy; python3 scripts/reference/training_fixtures.py
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(__file__))
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "Fixtures", "interop")


def optimizers():
    start = [0.5, -1.0, 2.0, 0.0, -0.25]
    grads = [[0.1, -0.2, 0.3, 0.0, 1.0], [-0.5, 0.4, 0.0, 0.2, -0.1], [0.05, 0.05, -0.3, 0.7, 0.2]]
    configs = {
        "sgd": lambda p: torch.optim.SGD([p], lr=0.1),
        "sgd_momentum": lambda p: torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01),
        "sgd_nesterov": lambda p: torch.optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True),
        "adam": lambda p: torch.optim.Adam([p], lr=0.01, weight_decay=0.1),
        "adamw": lambda p: torch.optim.AdamW([p], lr=0.01, weight_decay=0.1),
        "rmsprop": lambda p: torch.optim.RMSprop([p], lr=0.01, weight_decay=0.01),
        "rmsprop_momentum": lambda p: torch.optim.RMSprop([p], lr=0.01, momentum=0.9),
    }
    out = {"start": start, "gradients": grads, "results": {}}
    for name, make in configs.items():
        p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
        opt = make(p)
        for g in grads:
            p.grad = torch.tensor(g, dtype=torch.float64)
            opt.step()
        out["results"][name] = p.detach().tolist()
    return out


def schedules():
    def run(make, epochs=10):
        p = torch.zeros(1, requires_grad=True)
        opt = torch.optim.SGD([p], lr=0.1)
        sched = make(opt)
        lrs = []
        for _ in range(epochs):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return lrs
    return {"cosine": run(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10)),
            "step": run(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5))}


def resize():
    x = torch.arange(2 * 5 * 7, dtype=torch.float32).reshape(1, 2, 5, 7) / 10
    up = F.interpolate(x, size=(9, 11), mode="bilinear", align_corners=False)
    return {"input": x.flatten().tolist(), "shape": [2, 5, 7], "size": [9, 11], "output": up.flatten().tolist()}


def lenet():
    from architecture_fixtures import LeNet
    import torch.nn as nn
    torch.manual_seed(3)
    model = LeNet(num_classes=10)
    model.conv1 = nn.Conv2d(1, 16, 5)
    model.fc1 = nn.Linear(32 * 4 * 4, 120)
    model.eval()
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        y = model(x)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, os.path.join(OUT, "lenet.safetensors"))
    np.save(os.path.join(OUT, "lenet-input.npy"), x.numpy())
    np.save(os.path.join(OUT, "lenet-logits.npy"), y.numpy())


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, f in [("optimizers", optimizers), ("schedules", schedules), ("resize", resize)]:
        with open(os.path.join(OUT, name + ".json"), "w") as fh:
            json.dump(f(), fh)
    lenet()
    print("wrote", sorted(os.listdir(OUT)), file=sys.stderr)


if __name__ == "__main__":
    main()
