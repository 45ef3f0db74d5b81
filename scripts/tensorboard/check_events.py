#!/usr/bin/env python3
"""Reads ArchLab's TensorBoard event files with TensorBoard's own EventAccumulator and checks them
against the run's metrics.json: every per-epoch scalar at the step that ends its epoch with the
recorded value, the per-step scalars, and the settings and network text.

    pip install tensorboard
    python3 scripts/tensorboard/check_events.py EVENTS_DIR RUN_DIR [--resumed-after N]

Exits 1 with the differences, 0 with a one-line summary.
"""
import argparse
import json
import math
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("events")
    parser.add_argument("run")
    args = parser.parse_args()
    acc = EventAccumulator(args.events, size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    metrics = json.load(open(args.run + "/metrics.json"))
    scalars = acc.Tags()["scalars"]
    problems = []
    steps_per_epoch = None
    for name in ["step/loss", "step/lr", "step/images_per_second"]:
        if name not in scalars:
            problems.append(f"no scalar {name}")
    step_events = acc.Scalars("step/loss") if "step/loss" in scalars else []
    steps = [e.step for e in step_events]
    if steps != sorted(set(steps)):
        problems.append(f"step/loss steps repeat or go back: {steps[:20]}...")
    expected = {"accuracy/train": "train_accuracy", "accuracy/validation": "validation_accuracy", "accuracy/test": "test_accuracy",
                "loss/train": "train_loss", "loss/validation": "validation_loss", "loss/test": "test_loss", "epoch/lr": "lr",
                "epoch/number": "epoch"}
    epochs = metrics["epochs"]
    numbers = acc.Scalars("epoch/number") if "epoch/number" in scalars else []
    if len(numbers) != len(epochs):
        problems.append(f"{len(numbers)} epoch events for {len(epochs)} epochs in metrics.json")
    if numbers:
        steps_per_epoch = numbers[0].step // int(numbers[0].value)
    for tag, key in expected.items():
        if key not in epochs[0] or epochs[0][key] is None:
            continue
        events = acc.Scalars(tag) if tag in scalars else []
        if len(events) != len(epochs):
            problems.append(f"{tag}: {len(events)} events, {len(epochs)} epochs")
            continue
        for event, epoch in zip(events, epochs):
            want = epoch[key]
            if event.step != epoch["epoch"] * steps_per_epoch:
                problems.append(f"{tag}: epoch {epoch['epoch']} at step {event.step}, expected {epoch['epoch'] * steps_per_epoch}")
            if not math.isclose(event.value, want, rel_tol=1e-6, abs_tol=1e-7):
                problems.append(f"{tag}: epoch {epoch['epoch']} value {event.value}, metrics.json {want}")
    if step_events and steps_per_epoch:
        last = step_events[-1].step
        if last != len(epochs) * steps_per_epoch:
            problems.append(f"last step/loss at step {last}, expected {len(epochs) * steps_per_epoch}")
    tensors = acc.Tags()["tensors"]
    for tag in ["settings", "network"]:
        if tag not in tensors:
            problems.append(f"no text {tag}")
    if "network" in tensors:
        text = acc.Tensors("network")[0].tensor_proto.string_val[0].decode()
        if str(metrics["params"]) not in text.replace(",", ""):
            problems.append("the network text lacks the parameter count")
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print(f"ok: {len(epochs)} epochs x {len(expected)} epoch scalars, {len(step_events)} step events "
          f"(steps {steps[0]}..{steps[-1]}), text {', '.join(t for t in tensors)}")


if __name__ == "__main__":
    main()
