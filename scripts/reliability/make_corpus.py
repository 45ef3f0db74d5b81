#!/usr/bin/env python3
"""Writes the malformed-input corpus of issue 7 into Tests/Fixtures/malformed/: broken architecture
files (architectures/) and broken experiment files (experiments/). Every file must give a located
error (file:line:column) or a clean usage error; Tests/ArchSweepTests/MalformedCorpusTests.swift
loads each one in-process and scripts/reliability/run.py runs each through the CLI with a time
and memory limit. Deterministic: rerunning rewrites the same files.

Usage: python3 scripts/reliability/make_corpus.py
"""
import os
import random
import shutil

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "malformed")

LENET = """name: lenet
input: [3, 32, 32]
params:
  num_classes: 10
layers:
  - {name: conv1, op: conv2d, out: 16, kernel: 5}
  - {name: relu1, op: relu}
  - {name: pool1, op: maxpool2d, kernel: 2, stride: 2}
  - {name: conv2, op: conv2d, out: 32, kernel: 5}
  - {name: relu2, op: relu}
  - {name: pool2, op: maxpool2d, kernel: 2, stride: 2}
  - {name: flatten, op: flatten}
  - {name: fc1, op: linear, out: 120}
  - {name: fc3, op: linear, out: $num_classes}
"""

TEMPLATE = """name: blocks
input: [3, 32, 32]
params:
  num_classes: 10
templates:
  basic_conv:
    params: {out: int, kernel: int}
    layers:
      - {name: conv, op: conv2d, out: $out, kernel: $kernel, padding: "${kernel // 2}"}
      - {name: relu, op: relu}
layers:
  - {name: stem, use: basic_conv, out: 8, kernel: 3}
  - {name: pool, op: adaptive_avgpool2d, size: 1}
  - {name: flatten, op: flatten}
  - {name: fc, op: linear, out: $num_classes}
"""


def arch_files():
    files = {}
    # values that are wrong for `out` of conv1 (a positive int)
    for i, bad in enumerate(["three", "3.5", "[1, 2]", "{a: 1}", "-4", "0", "yes", "no", "010", "0o7x", "1e400",
                             "99999999999999999999999", "null", "~", "''", "!!binary aGVsbG8=", "\"16\"", ".inf", ".nan", "1_000"]):
        files[f"conv-out-{i:02d}.yaml"] = LENET.replace("out: 16, kernel: 5}", f"out: {bad}, kernel: 5}}", 1)
    for i, bad in enumerate(["0", "-1", "[0, 3]", "[3]", "[3, 3, 3]", "big", "40", "true", "3.0001", "[2, -2]"]):
        files[f"conv-kernel-{i:02d}.yaml"] = LENET.replace("out: 16, kernel: 5}", f"out: 16, kernel: {bad}}}", 1)
    for i, bad in enumerate(["0", "-2", "[1, 0]", "half", "on", "[3, 3, 3]"]):
        files[f"pool-stride-{i:02d}.yaml"] = LENET.replace("kernel: 2, stride: 2}", f"kernel: 2, stride: {bad}}}", 1)
    # typos in keys and op names
    for i, (a, b) in enumerate([("op: conv2d", "op: conv2"), ("op: relu", "op: Relu"), ("kernel: 5", "kernal: 5"), ("out: 120", "outs: 120"),
                                ("layers:", "layer:"), ("input:", "inputs:"), ("params:", "parms:"), ("name: lenet", "nmae: lenet"),
                                ("op: maxpool2d", "op: max_pool"), ("op: flatten", "op: flaten"), ("$num_classes", "$num_clases"),
                                ("stride: 2", "strides: 2")]):
        files[f"typo-{i:02d}.yaml"] = LENET.replace(a, b, 1)
    # input shapes
    for i, bad in enumerate(["[3, 32]", "[3, 4, 4]", "[0, 32, 32]", "[3, -32, 32]", "three", "[3, 32, 32, 32]", "[3, 100000000000, 100000000000]", "{c: 3}"]):
        files[f"input-{i:02d}.yaml"] = LENET.replace("input: [3, 32, 32]", f"input: {bad}", 1)
    # duplicates
    files["dup-top-key.yaml"] = LENET + "name: again\n"
    files["dup-layer-key.yaml"] = LENET.replace("{name: conv1, op: conv2d,", "{name: conv1, op: conv2d, op: relu,", 1)
    files["dup-layer-name.yaml"] = LENET.replace("name: conv2", "name: conv1", 1)
    files["dup-param.yaml"] = LENET.replace("  num_classes: 10\n", "  num_classes: 10\n  num_classes: 11\n", 1)
    # YAML 1.1 booleans and octals
    for i, v in enumerate(["no", "yes", "on", "off", "y", "n", "NO", "Off"]):
        files[f"yaml11-bias-{i}.yaml"] = LENET.replace("out: 32, kernel: 5}", f"out: 32, kernel: 5, bias: {v}}}", 1)
    files["yaml11-octal-classes.yaml"] = LENET.replace("num_classes: 10", "num_classes: 012", 1)
    files["yaml11-sexagesimal.yaml"] = LENET.replace("num_classes: 10", "num_classes: 1:30", 1)
    # alias bombs
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for k in "bcdefghi":
        prev = chr(ord(k) - 1)
        bomb += f"{k}: &{k} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
    files["alias-bomb.yaml"] = bomb + LENET
    files["alias-bomb-in-layers.yaml"] = LENET.replace("layers:\n", "x: &x [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\ny: &y [*x, *x, *x, *x, *x, *x, *x, *x, *x, *x]\n"
                                                       "z: &z [*y, *y, *y, *y, *y, *y, *y, *y, *y, *y]\nw: &w [*z, *z, *z, *z, *z, *z, *z, *z, *z, *z]\n"
                                                       "v: [*w, *w, *w, *w, *w, *w, *w, *w, *w, *w, *w, *w, *w, *w, *w, *w, *w, *w, *w, *w, *w, *w]\nlayers:\n", 1)
    files["alias-undefined.yaml"] = LENET.replace("out: 120", "out: *nothing", 1)
    # deep nesting
    files["deep-flow-10000.yaml"] = "name: deep\nlayers: " + "[" * 10000 + "]" * 10000 + "\n"
    files["deep-block-10000.yaml"] = "name: deep\n" + "".join(" " * i + "a:\n" for i in range(0, 2000)) + " " * 2000 + "b: 1\n"
    files["deep-map-flow-5000.yaml"] = "name: deep\nlayers: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n"
    # binary garbage, encodings, empty
    rnd = random.Random(7)
    for i in range(6):
        files[f"garbage-{i}.yaml"] = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 4096)))
    files["nul-bytes.yaml"] = b"name: lenet\x00\x00\ninput: [3, 32, 32]\n"
    files["invalid-utf8.yaml"] = LENET.encode().replace(b"lenet", b"len\xff\xfet", 1)
    files["utf16.yaml"] = LENET.encode("utf-16")
    files["empty.yaml"] = ""
    files["only-comments.yaml"] = "# nothing here\n# at all\n"
    files["only-document-marker.yaml"] = "---\n...\n"
    files["two-documents.yaml"] = LENET + "---\n" + LENET
    files["scalar-document.yaml"] = "lenet\n"
    files["list-document.yaml"] = "- lenet\n- 3\n"
    files["tabs.yaml"] = LENET.replace("  - {name: conv1", "\t- {name: conv1", 1)
    files["unterminated-flow.yaml"] = LENET.replace("kernel: 5}\n", "kernel: 5\n", 1)
    files["unterminated-string.yaml"] = LENET.replace("name: lenet", "name: \"lenet", 1)
    files["bad-indent.yaml"] = LENET.replace("  num_classes: 10", "   num_classes: 10\n  other: 1", 1)
    files["very-long-line.yaml"] = LENET.replace("name: lenet", "name: " + "x" * 200000, 1) + "zzz: [\n"
    # structure
    files["layers-mapping.yaml"] = "name: lenet\ninput: [3, 32, 32]\nlayers: {conv1: {op: conv2d}}\n"
    files["layers-empty.yaml"] = "name: lenet\ninput: [3, 32, 32]\nlayers: []\n"
    files["layer-scalar.yaml"] = LENET.replace("  - {name: relu1, op: relu}", "  - relu", 1)
    files["no-layers.yaml"] = "name: lenet\ninput: [3, 32, 32]\n"
    files["no-input.yaml"] = LENET.replace("input: [3, 32, 32]\n", "", 1)
    files["name-not-a-string.yaml"] = LENET.replace("name: lenet\n", "name: [lenet]\n", 1)
    files["op-missing.yaml"] = LENET.replace("{name: relu1, op: relu}", "{name: relu1}", 1)
    files["linear-before-flatten.yaml"] = LENET.replace("  - {name: flatten, op: flatten}\n", "", 1)
    files["flatten-twice-then-conv.yaml"] = LENET.replace("  - {name: fc1, op: linear, out: 120}", "  - {name: c, op: conv2d, out: 4, kernel: 1}", 1)
    files["classes-zero.yaml"] = LENET.replace("num_classes: 10", "num_classes: 0", 1)
    files["classes-negative.yaml"] = LENET.replace("num_classes: 10", "num_classes: -10", 1)
    files["collapse-by-pool.yaml"] = LENET.replace("kernel: 2, stride: 2}", "kernel: 40, stride: 2}", 1)
    files["padding-too-large.yaml"] = LENET.replace("kernel: 2, stride: 2}", "kernel: 2, stride: 2, padding: 2}", 1)
    files["groups-not-dividing.yaml"] = LENET.replace("out: 32, kernel: 5}", "out: 32, kernel: 5, groups: 3}", 1)
    files["dropout-p-one.yaml"] = LENET.replace("  - {name: flatten, op: flatten}", "  - {name: flatten, op: flatten}\n  - {name: drop, op: dropout, p: 1.0}", 1)
    # expressions
    for i, e in enumerate(["${num_classes / 0}", "${undefined * 2}", "${num_classes", "${}", "${num_classes ** 99999}", "${'a' + 1}",
                           "${num_classes // 0}", "${9223372036854775807 + 1}"]):
        files[f"expression-{i}.yaml"] = LENET.replace("$num_classes", e, 1)
    # templates
    files["template-unknown.yaml"] = TEMPLATE.replace("use: basic_conv", "use: basic_cnov", 1)
    files["template-missing-param.yaml"] = TEMPLATE.replace(", out: 8, kernel: 3}", ", out: 8}", 1)
    files["template-extra-param.yaml"] = TEMPLATE.replace(", out: 8, kernel: 3}", ", out: 8, kernel: 3, width: 2}", 1)
    files["template-wrong-type.yaml"] = TEMPLATE.replace(", out: 8, kernel: 3}", ", out: eight, kernel: 3}", 1)
    files["template-recursive.yaml"] = TEMPLATE.replace("      - {name: relu, op: relu}", "      - {name: again, use: basic_conv, out: 1, kernel: 1}", 1)
    files["template-param-type-unknown.yaml"] = TEMPLATE.replace("{out: int, kernel: int}", "{out: integer, kernel: int}", 1)
    # extends
    files["extends-self.yaml"] = "extends: extends-self.yaml\n" + LENET
    files["extends-cycle-a.yaml"] = "extends: extends-cycle-b.yaml\nname: a\n"
    files["extends-cycle-b.yaml"] = "extends: extends-cycle-a.yaml\nname: b\n"
    files["extends-missing.yaml"] = "extends: no-such-file.yaml\nname: a\n"
    files["extends-directory.yaml"] = "extends: .\nname: a\n"
    files["extends-garbage.yaml"] = "extends: garbage-0.yaml\nname: a\n"
    files["set-unknown-path.yaml"] = "extends: ../../../../architectures/lenet.yaml\nset:\n  layers.conv9.out: 3\n"
    files["set-wrong-type.yaml"] = "extends: ../../../../architectures/lenet.yaml\nset:\n  layers.conv1.out: many\n"
    return files


EXPERIMENT = """name: exp
architecture: ../../../../architectures/lenet.yaml
training:
  data: fashion-mnist
  epochs: 1
  batch_size: 32
  lr: 0.05
  limit_train: 100
  limit_test: 100
seeds: [0, 1]
strategy: grid
axes:
  layers.fc1.out: [60, 120]
"""


def experiment_files():
    files = {}
    for i, (a, b) in enumerate([("architecture:", "architecure:"), ("training:", "trainig:"), ("seeds:", "seed:"), ("axes:", "axis:"),
                                ("strategy: grid", "strategy: gird"), ("epochs: 1", "epoch: 1"), ("lr: 0.05", "learning_rate: 0.05"),
                                ("layers.fc1.out", "layers.fc9.out"), ("layers.fc1.out", "layers.fc1.outs"), ("data: fashion-mnist", "data: fashion-minst")]):
        files[f"typo-{i:02d}.yaml"] = EXPERIMENT.replace(a, b, 1)
    for i, (a, b) in enumerate([("epochs: 1", "epochs: one"), ("epochs: 1", "epochs: -1"), ("epochs: 1", "epochs: 0"), ("lr: 0.05", "lr: fast"),
                                ("lr: 0.05", "lr: -1"), ("batch_size: 32", "batch_size: 0"), ("batch_size: 32", "batch_size: 1.5"),
                                ("seeds: [0, 1]", "seeds: zero"), ("seeds: [0, 1]", "seeds: [0, -1]"), ("seeds: [0, 1]", "seeds: []"),
                                ("seeds: [0, 1]", "seeds: [0, 0]"), ("[60, 120]", "[]"), ("[60, 120]", "60"), ("[60, 120]", "[sixty, 120]"),
                                ("[60, 120]", "[0, 120]"), ("[60, 120]", "[60, 60]"), ("limit_train: 100", "limit_train: 0"),
                                ("epochs: 1", "epochs: 010"), ("epochs: 1", "epochs: yes"), ("strategy: grid", "strategy: [grid]")]):
        files[f"value-{i:02d}.yaml"] = EXPERIMENT.replace(a, b, 1)
    files["architecture-missing-file.yaml"] = EXPERIMENT.replace("lenet.yaml", "lenett.yaml", 1)
    files["architecture-garbage.yaml"] = EXPERIMENT.replace("../../../../architectures/lenet.yaml", "../architectures/garbage-0.yaml", 1)
    files["no-architecture.yaml"] = EXPERIMENT.replace("architecture: ../../../../architectures/lenet.yaml\n", "", 1)
    files["zip-unequal.yaml"] = EXPERIMENT.replace("strategy: grid", "strategy: zip", 1) + "  layers.fc2.out: [10, 20, 30]\n"
    files["ablation-baseline-unknown-axis.yaml"] = EXPERIMENT.replace("strategy: grid", "strategy: ablation\nbaseline: {layers.fc7.out: 61}", 1)
    files["variants-not-mapping.yaml"] = EXPERIMENT.replace("strategy: grid", "strategy: variants", 1).replace("axes:\n  layers.fc1.out: [60, 120]\n", "variants: [a, b]\n", 1)
    files["impossible-shape.yaml"] = EXPERIMENT.replace("layers.fc1.out: [60, 120]", "layers.conv1.kernel: [5, 40]", 1)
    files["zero-width.yaml"] = EXPERIMENT.replace("layers.fc1.out: [60, 120]", "layers.conv1.out: [0, 16]", 1)
    files["dup-key.yaml"] = EXPERIMENT + "seeds: [2]\n"
    files["dup-axis.yaml"] = EXPERIMENT + "  layers.fc1.out: [30]\n"
    files["extends-cycle-a.yaml"] = "extends: extends-cycle-b.yaml\nname: a\n"
    files["extends-cycle-b.yaml"] = "extends: extends-cycle-a.yaml\nname: b\n"
    files["extends-self.yaml"] = "extends: extends-self.yaml\n" + EXPERIMENT
    files["alias-bomb.yaml"] = ("a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                                "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                                "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n") + EXPERIMENT
    files["deep-nesting.yaml"] = "name: deep\naxes: " + "[" * 10000 + "]" * 10000 + "\n"
    rnd = random.Random(11)
    for i in range(4):
        files[f"garbage-{i}.yaml"] = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 2048)))
    files["empty.yaml"] = ""
    files["scalar.yaml"] = "exp\n"
    files["training-list.yaml"] = EXPERIMENT.replace("training:\n", "training: [1, 2]\nx:\n", 1)
    files["set-bad-path.yaml"] = EXPERIMENT + "set:\n  layers.nothing.out: 3\n"
    files["axis-training-unknown.yaml"] = EXPERIMENT.replace("layers.fc1.out: [60, 120]", "training.speed: [1, 2]", 1)
    files["yaml11-bool-flip.yaml"] = EXPERIMENT.replace("  lr: 0.05\n", "  lr: 0.05\n  flip: on\n", 1)
    return files


def main():
    for kind, files in (("architectures", arch_files()), ("experiments", experiment_files())):
        folder = os.path.join(OUT, kind)
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        for name, content in files.items():
            with open(os.path.join(folder, name), "wb") as f:
                f.write(content if isinstance(content, bytes) else content.encode())
        print(f"{kind}: {len(files)} files")


if __name__ == "__main__":
    main()
