#!/usr/bin/env python3
"""ArchLab against PyTorch on this CPU: training and eval throughput of the workloads of issue 6,
alternating the two in one run, and writes reports/performance.md and reports/performance.svg.

Each measurement runs in its own process (so peak RSS is per workload): ArchLab through
`archlab bench --format json`, PyTorch through this script's `--torch` mode (torch.set_num_threads,
SGD momentum 0.9, cross-entropy, random data, 10 classes; torchvision's models, the course LeNet).
The sgemm peak is the best of `archlab sgemm` (n=2048: oneDNN, OpenBLAS with its own threads,
OpenBLAS split by ArchLab), the same denominator for every column.

ArchLab is measured twice in the same run: as shipped (convolutions and GEMMs on oneDNN) and with
`ARCHLAB_CONV=openblas ARCHLAB_GEMM=openblas` (im2col + OpenBLAS sgemm, the engine before oneDNN,
OpenBLAS kernels as the environment configures them). reports/performance-baseline.json (the
first measurement, before the optimization work of issue 6) gives the "baseline" column.

Usage: make bench   (builds release; needs pip install torch==2.13.0+cpu torchvision==0.28.0 pillow)
       python3 bench/compare_pytorch.py [--seconds 10] [--rounds 3] [--threads 2] [--only lenet-cifar,...] [--merge]
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
ARCHLAB = os.path.join(ROOT, ".build", "release", "archlab")

WORKLOADS = [
    # name, architecture file, input, batch, torch constructor
    ("lenet-cifar", "architectures/lenet.yaml", "3x32x32", 64, "lenet"),
    ("googlenet-96", "architectures/googlenet-torchvision.yaml", "3x96x96", 32, "googlenet"),
    ("resnet18-64", "architectures/resnet18.yaml", "3x64x64", 32, "resnet18"),
    ("vgg11-64", "architectures/vgg11.yaml", "3x64x64", 16, "vgg11"),
    ("alexnet-224", "architectures/alexnet.yaml", "3x224x224", 16, "alexnet"),
    ("mobilenet-v2-64", "architectures/mobilenet-v2.yaml", "3x64x64", 32, "mobilenet_v2"),
    ("convnext-tiny-64", "architectures/convnext-tiny.yaml", "3x64x64", 16, "convnext_tiny"),
    ("vit-small-32", "architectures/vit-small-fmnist.yaml", "3x32x32", 64, "vit_small"),
    ("swin-t-64", "architectures/swin-t.yaml", "3x64x64", 8, "swin_t_window2"),
    # where PyTorch is strongest (large maps, big GEMMs); batch 32 for peak memory
    ("resnet50-224", "architectures/resnet50.yaml", "3x224x224", 16, "resnet50"),
    ("resnet50-224-b32", "architectures/resnet50.yaml", "3x224x224", 32, "resnet50"),
]
# --set overrides for a workload's architecture file (what its torch constructor builds)
SETS = {"swin_t_window2": ["window_size=2"]}


def cpu_model():
    """The CPU's model name and clock from /proc/cpuinfo (a VM's host can change between runs)."""
    try:
        with open("/proc/cpuinfo") as f:
            info = {key.strip(): value for key, value in (line.split(":", 1) for line in f if ":" in line)}
        return f"{info['model name'].strip()} at {float(info['cpu MHz']):.0f} MHz"
    except (OSError, KeyError, ValueError):
        import platform
        return platform.processor() or platform.machine()


def torch_model(kind):
    import torch
    import torch.library
    import torch.nn as nn
    torch.library.register_fake = lambda *a, **k: (lambda f: f)
    import torchvision
    sys.path.insert(0, os.path.join(ROOT, "scripts", "reference"))
    from architecture_fixtures import LeNet
    if kind == "lenet":
        return LeNet(num_classes=10)
    if kind == "vit_small":  # architectures/vit-small-fmnist.yaml at 3x32x32: 64 patches of 4x4
        from torchvision.models.vision_transformer import VisionTransformer
        return VisionTransformer(image_size=32, patch_size=4, num_layers=6, num_heads=3, hidden_dim=192, mlp_dim=768, num_classes=10)
    if kind == "swin_t_window2":  # swin_t with 2x2 windows, which tile the 16, 8, 4 and 2 maps of a 64x64 input
        from torchvision.models.swin_transformer import SwinTransformer
        return SwinTransformer(patch_size=[4, 4], embed_dim=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24], window_size=[2, 2],
                               stochastic_depth_prob=0.2, num_classes=10)
    if kind == "googlenet":
        return torchvision.models.googlenet(num_classes=10, aux_logits=True, init_weights=True)
    return getattr(torchvision.models, kind)(num_classes=10)


def run_torch(kind, shape, batch, mode, seconds, threads, precision="float32"):
    """Images per second and peak RSS; precision bf16 is PyTorch's CPU autocast to bfloat16."""
    import contextlib
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = torch_model(kind)
    x = torch.rand(batch, *shape)
    y = torch.randint(0, 10, (batch,))
    opt = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)

    def autocast():
        return torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()

    def step():
        if mode == "train":
            model.train()
            with autocast():  # the loss too: autocast runs cross-entropy in float32
                out = model(x)
                if isinstance(out, tuple):  # GoogLeNet with aux heads: logits, aux2, aux1
                    loss = F.cross_entropy(out[0], y) + 0.3 * (F.cross_entropy(out[1], y) + F.cross_entropy(out[2], y))
                else:
                    loss = F.cross_entropy(out, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        else:
            model.eval()
            with torch.no_grad(), autocast():
                model(x)

    for _ in range(2):
        step()
    steps, start = 0, time.perf_counter()
    while steps < 3 or time.perf_counter() - start < seconds:
        step()
        steps += 1
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"images_per_second": steps * batch / elapsed, "peak_rss_bytes": peak}


def archlab_env(overrides):
    env = dict(os.environ)
    env.update(overrides or {})
    return env


def run_archlab(args, overrides):
    return json.loads(subprocess.run([ARCHLAB] + args, cwd=ROOT, check=True, capture_output=True, text=True, env=archlab_env(overrides)).stdout)


def round_seconds(seconds, rounds):
    """Timed seconds of each PyTorch / ArchLab run when `seconds` are split over `rounds`."""
    return max(3.0, seconds / rounds)


def measure(arch, shape, batch, kind, mode, seconds, threads, configurations, rounds):
    """PyTorch and ArchLab as shipped alternating `rounds` times (seconds / rounds each), then each
    other kernel setting once: this machine's speed drifts by 20 % and more between minutes, so
    one pair of runs can put either side ahead; the paired ratios of the rounds show how far."""
    def torch_run(s):
        return json.loads(subprocess.run([sys.executable, __file__, "--torch", kind, shape, str(batch), mode, str(s), str(threads)],
                                         check=True, capture_output=True, text=True).stdout)

    def ours_run(s, overrides):
        return run_archlab(["bench", arch, "--input", shape, "--batch", str(batch), "--classes", "10", "--mode", mode,
                            "--seconds", str(s), "--threads", str(threads), "--format", "json"]
                           + [arg for value in SETS.get(kind, []) for arg in ("--set", value)], overrides)

    share = round_seconds(seconds, rounds)
    pairs = []
    for _ in range(rounds):
        pairs.append((torch_run(share), ours_run(share, configurations[0][1])))
    ratios = sorted(o["images_per_second"] / t["images_per_second"] for t, o in pairs)
    # the round whose ratio is the median stands for the row (its img/s, GFLOP/s and profile)
    median = statistics.median(ratios)
    torch, shipped = min(pairs, key=lambda p: abs(p[1]["images_per_second"] / p[0]["images_per_second"] - median))
    torch = dict(torch, peak_rss_bytes=max(t["peak_rss_bytes"] for t, _ in pairs), round_images_per_second=[t["images_per_second"] for t, _ in pairs])
    shipped = dict(shipped, peak_rss_bytes=max(o["peak_rss_bytes"] for _, o in pairs), round_images_per_second=[o["images_per_second"] for _, o in pairs])
    ours = {configurations[0][0]: shipped}
    ours.update({label: ours_run(seconds, overrides) for label, overrides in configurations[1:]})
    return ours, torch, {"ratios": ratios}


def svg(rows):
    width, bar = 640, 18
    height = 40 + len(rows) * 2 * (bar + 6) + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
           '<text x="10" y="18">ArchLab / PyTorch throughput ratio (1.0 = parity)</text>']
    top = max([2.5] + [max(r["train_ratio"], r["eval_ratio"]) * 1.1 for r in rows])
    x0 = 150
    scale = (width - x0 - 20) / top
    y = 36
    for r in rows:
        for mode, color in (("train", "#1f77b4"), ("eval", "#ff7f0e")):
            v = r[mode + "_ratio"]
            out.append(f'<text x="10" y="{y + 13}">{r["name"]} {mode}</text>')
            out.append(f'<rect x="{x0}" y="{y}" width="{v * scale:.1f}" height="{bar}" fill="{color}"/>')
            out.append(f'<text x="{x0 + v * scale + 4:.1f}" y="{y + 13}">{v:.2f}x</text>')
            y += bar + 6
    out.append(f'<line x1="{x0 + scale:.1f}" x2="{x0 + scale:.1f}" y1="30" y2="{y}" stroke="#d62728" stroke-dasharray="4 3"/>')
    out.append("</svg>")
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--rounds", type=int, default=3, help="PyTorch / ArchLab alternations per workload and mode (--seconds split between them)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--only", default="", help="comma-separated workload names (and `data-pipeline` for the JPEG pipeline, `sweep` for the sweep's overhead)")
    p.add_argument("--merge", action="store_true",
                   help="with --only: keep reports/performance.json's other workloads and sections, measured in its earlier run")
    p.add_argument("--torch", nargs="+", help="kind shape batch mode seconds threads [precision]: one PyTorch measurement, as JSON")
    a = p.parse_args()
    if a.torch:
        kind, shape, batch, mode, seconds, threads = a.torch[:6]
        precision = a.torch[6] if len(a.torch) > 6 else "float32"
        print(json.dumps(run_torch(kind, [int(v) for v in shape.split("x")], int(batch), mode, float(seconds), int(threads), precision)))
        return
    configured = os.environ.get("OPENBLAS_CORETYPE")
    configurations = [("shipped", None), ("openblas", {"ARCHLAB_CONV": "openblas", "ARCHLAB_GEMM": "openblas"})]
    labels = {"shipped": "ArchLab (oneDNN)",
              "openblas": f"ArchLab on OpenBLAS ({configured + ' kernels' if configured else 'default kernels'})"}
    sgemm = run_archlab(["sgemm", "--n", "2048", "--threads", str(a.threads), "--format", "json"], None)
    peak = sgemm["gflops_per_second"]
    peaks = {label: peak for label, _ in configurations}
    baseline = {}
    try:
        with open(os.path.join(ROOT, "reports", "performance-baseline.json")) as f:
            baseline = {w["name"]: w for w in json.load(f)["workloads"]}
    except OSError:
        pass
    rows = []
    for name, arch, shape, batch, kind in WORKLOADS:
        if a.only and name not in a.only.split(","):
            continue
        row = {"name": name, "input": shape, "batch": batch}
        for mode in ("train", "eval"):
            ours, theirs, paired = measure(arch, shape, batch, kind, mode, a.seconds, a.threads, configurations, a.rounds)
            row[mode] = {"torch": theirs, "archlab": ours, "paired": paired}
            text = ", ".join(f"archlab[{label}] {o['images_per_second']:.1f}" for label, o in ours.items())
            print(f"{name} {mode}: torch {theirs['images_per_second']:.1f} img/s, {text}", file=sys.stderr)
        rows.append(row)
    pipeline = None
    if not a.only or "data-pipeline" in a.only.split(","):
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import data_pipeline
        pipeline = data_pipeline.measure(os.path.join(ROOT, ".bench", "photos"), passes=2, repeats=3, threads=a.threads)
    sweep = None
    if not a.only or "sweep" in a.only.split(","):
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import sweep_overhead
        sweep = sweep_overhead.measure()
    merged = []
    if a.merge and a.only:
        with open(os.path.join(ROOT, "reports", "performance.json")) as f:
            earlier = json.load(f)
        measured = {r["name"] for r in rows}
        if not measured:  # no workload measured now: the kept rows' percentages use their run's sgemm peak
            sgemm = earlier["sgemm"]
            peak = sgemm["gflops_per_second"]
            peaks = {label: peak for label, _ in configurations}
        order = [w[0] for w in WORKLOADS]
        kept = [r for r in earlier["workloads"] if r["name"] not in measured]
        rows = sorted(rows + kept, key=lambda r: order.index(r["name"]) if r["name"] in order else len(order))
        merged = [r["name"] for r in rows if r["name"] not in measured]
        if pipeline is None and earlier.get("data_pipeline"):
            pipeline = earlier["data_pipeline"]
            merged.append("the JPEG pipeline")
        if sweep is None and earlier.get("sweep"):
            sweep = earlier["sweep"]
            merged.append("the sweep")
    import platform
    import torch

    def ratio(r, mode, label):
        paired = r[mode].get("paired")  # runs from before the rounds have one pair
        if paired and label == configurations[0][0]:
            return statistics.median(paired["ratios"])
        return r[mode]["archlab"][label]["images_per_second"] / r[mode]["torch"]["images_per_second"]

    def ratio_text(r, mode, label):
        paired = r[mode].get("paired")
        spread = f" ({paired['ratios'][0]:.2f}–{paired['ratios'][-1]:.2f})" if paired and label == configurations[0][0] and len(paired["ratios"]) > 1 else ""
        return f"{ratio(r, mode, label):.2f}{spread}"

    def before(r, mode):
        b = baseline.get(r["name"])
        return f"{b[mode + '_ratio']:.2f}" if b else "-"

    peak_text = (f"{peak:.1f} GFLOP/s (oneDNN {sgemm['onednn_gflops_per_second']:.1f}, OpenBLAS {sgemm['openblas_gflops_per_second']:.1f} "
                 f"with its {sgemm['openblas_core']} kernels and threads, {sgemm['openblas_split_gflops_per_second']:.1f} split by ArchLab)")
    lines = ["# Performance: ArchLab against PyTorch on this machine", "",
             "Generated by `bench/compare_pytorch.py` (`make bench`); nothing here is typed by hand.", "",
             f"Machine: {platform.node()}, {os.cpu_count()} cores, {cpu_model()}, {a.threads} threads for both; "
             f"PyTorch {torch.__version__}; PyTorch and ArchLab as shipped alternate {a.rounds} times per workload and mode, "
             f"{round_seconds(a.seconds, a.rounds):.1f} s of timed steps each after warm-up: the ratio is the median of the {a.rounds} paired ratios, "
             "the lowest and highest in brackets, and the img/s columns are the median round's. "
             f"The OpenBLAS column is one run of {a.seconds:.0f} s. "
             f"sgemm peak (n={sgemm['n']}, {a.threads} threads, the best measured): {peak_text}. Figures drift on a shared machine: compare ratios from one run."
             + (f" This report merges a later run of {a.only} into an earlier run's {', '.join(merged)} (`--merge`); every ratio still comes from side-by-side measurements within one run"
                + ("" if all(r["train"].get("paired") for r in rows) else ", and a ratio without brackets from a single pair of runs, as the earlier run measured") + "." if merged else ""), "",
             "ArchLab as shipped runs convolutions and GEMMs on oneDNN (Debian's libdnnl 2.6, JIT kernels for the CPU at hand, "
             "blocked layouts reordered inside the plan's workspace). The second ArchLab column is the same binary with "
             "`ARCHLAB_CONV=openblas ARCHLAB_GEMM=openblas`: im2col + OpenBLAS sgemm, the engine before oneDNN"
             + (f", with the environment's `OPENBLAS_CORETYPE={configured}`." if configured else "."), ""]
    for mode, title in (("train", "Training"), ("eval", "Evaluation")):
        head = f"| workload | input | batch | PyTorch img/s |"
        rule = "|---|---|--:|--:|"
        for label, _ in configurations:
            head += f" {labels[label]} img/s | ratio | GFLOP/s | % of sgemm peak |"
            rule += "--:|--:|--:|--:|"
        head += " ratio at baseline |"
        rule += "--:|"
        lines += [f"## {title}", "", head, rule]
        for r in rows:
            line = f"| {r['name']} | {r['input']} | {r['batch']} | {r[mode]['torch']['images_per_second']:.1f} |"
            for label, _ in configurations:
                o = r[mode]["archlab"][label]
                line += f" {o['images_per_second']:.1f} | {ratio_text(r, mode, label)} | {o['gflops_per_second']:.1f} | {o['gflops_per_second'] / peaks[label] * 100:.0f}% |"
            lines.append(line + f" {before(r, mode)} |")
        lines.append("")
    lines += ["## Peak memory (RSS, MiB)", "", "| workload | train ArchLab | train PyTorch | eval ArchLab | eval PyTorch |", "|---|--:|--:|--:|--:|"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['train']['archlab']['shipped']['peak_rss_bytes'] / 2**20:.0f} | {r['train']['torch']['peak_rss_bytes'] / 2**20:.0f} | "
                     f"{r['eval']['archlab']['shipped']['peak_rss_bytes'] / 2**20:.0f} | {r['eval']['torch']['peak_rss_bytes'] / 2**20:.0f} |")
    if pipeline:
        ips = pipeline["images_per_second"]
        lines += ["", "## The JPEG training pipeline", "",
                  f"`bench/data_pipeline.py`: {pipeline['photos']} photos of 500x375 (quality 90, cut from real photographs by `bench/photos.py`), "
                  "decoded, RandomResizedCrop(224), flipped and normalized, in batches of 32: torchvision's ImageFolder + PIL + transforms with a "
                  f"DataLoader of {a.threads} workers against `archlab data bench --random-resized-crop` with {a.threads} threads. "
                  f"Median of {pipeline['repeats']} alternating runs of {pipeline['passes']} passes each, after a warm-up pass.", "",
                  "| pipeline | img/s | runs |", "|---|--:|---|",
                  f"| torchvision | {ips['torchvision']:.0f} | {', '.join(f'{v:.0f}' for v in pipeline['runs']['torchvision'])} |",
                  f"| ArchLab | {ips['archlab']:.0f} | {', '.join(f'{v:.0f}' for v in pipeline['runs']['archlab'])} |", "",
                  f"ArchLab / torchvision: **{pipeline['ratio']:.2f}x**."]
    if sweep:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import sweep_overhead
        lines += [""] + sweep_overhead.markdown(sweep)
    lines += ["", "## Where ArchLab's training time goes", "", "Per step, from `archlab bench` as shipped:", ""]
    for r in rows:
        shipped = r["train"]["archlab"]["shipped"]
        parts = [f"{o['op']} {1000 * (o['forward_seconds_per_step'] + o['backward_seconds_per_step']):.1f} ms" for o in shipped["ops"][:5]]
        if "optimizer_seconds_per_step" in shipped:  # runs from before the field lack it
            parts.append(f"optimizer (zeroing and update) {1000 * shipped['optimizer_seconds_per_step']:.1f} ms")
        lines.append(f"- {r['name']}: " + ", ".join(parts))
    for r in rows:
        for mode in ("train", "eval"):
            r[mode + "_ratio"] = ratio(r, mode, "shipped")
    lines += ["", "![ratios](performance.svg)", "", "The plot shows ArchLab as shipped.", ""]
    with open(os.path.join(ROOT, "reports", "performance.md"), "w") as f:
        f.write("\n".join(lines))
    with open(os.path.join(ROOT, "reports", "performance.svg"), "w") as f:
        f.write(svg(rows))
    with open(os.path.join(ROOT, "reports", "performance.json"), "w") as f:
        json.dump({"sgemm": sgemm, "configurations": dict(configurations), "threads": a.threads, "seconds": a.seconds, "workloads": rows,
                   "data_pipeline": pipeline, "sweep": sweep}, f, indent=1)
    print("wrote reports/performance.md", file=sys.stderr)


if __name__ == "__main__":
    main()
