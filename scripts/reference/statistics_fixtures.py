#!/usr/bin/env python3
"""Writes Tests/Fixtures/statistics.json: SciPy's answers for the statistics ArchLab's reports
print (Sources/ArchSweep/Statistics.swift), checked by Tests/ArchSweepTests/StatisticsTests.swift.

Cases include n = 2, identical values (zero variance), a constant nonzero difference, samples
with missing seeds (the paired test uses the shared ones) and accuracies like real sweeps'.
Usage: pip install scipy numpy; python3 scripts/reference/statistics_fixtures.py
"""
import json
import math
import os

import numpy as np
import scipy
from scipy import stats


def num(x):
    x = float(x)
    return None if math.isnan(x) else ("inf" if x == math.inf else ("-inf" if x == -math.inf else x))


def summary(values):
    v = np.asarray(values, dtype=np.float64)
    n = len(v)
    out = {"values": list(map(float, v)), "n": n, "mean": float(v.mean())}
    if n > 1:
        s = float(v.std(ddof=1))
        h = float(stats.t.ppf(0.975, n - 1)) * s / math.sqrt(n)
        out.update({"std": s, "low": out["mean"] - h, "high": out["mean"] + h})
    return out


def paired(a, b):
    r = stats.ttest_rel(a, b)
    d = np.asarray(a) - np.asarray(b)
    out = {"a": list(map(float, a)), "b": list(map(float, b)), "t": num(r.statistic), "p": num(r.pvalue), "df": len(a) - 1,
           "difference": float(d.mean())}
    if d.std(ddof=1) > 0:
        ci = r.confidence_interval(0.95)
        out.update({"low": float(ci.low), "high": float(ci.high)})
    return out


def welch(a, b):
    r = stats.ttest_ind(a, b, equal_var=False)
    out = {"a": list(map(float, a)), "b": list(map(float, b)), "t": num(r.statistic), "p": num(r.pvalue), "df": num(r.df),
           "difference": float(np.mean(a) - np.mean(b))}
    if not math.isnan(float(r.df)):
        ci = r.confidence_interval(0.95)
        out.update({"low": float(ci.low), "high": float(ci.high)})
    return out


def holm_adjust(p):
    """Holm's step-down adjustment (the definition statsmodels' multipletests(method='holm') uses)."""
    p = np.asarray(p, dtype=np.float64)
    order = np.argsort(p)
    m = len(p)
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return list(map(float, adjusted))


def main():
    rng = np.random.default_rng(7)
    quantiles = [{"p": p, "df": df, "t": float(stats.t.ppf(p, df))}
                 for df in (1, 2, 3, 4, 5, 9, 29, 100, 2.5, 7.3) for p in (0.5, 0.8, 0.9, 0.975, 0.995, 0.025)]
    cdfs = [{"t": t, "df": df, "cdf": float(stats.t.cdf(t, df))}
            for df in (1, 2, 3, 4, 9, 30, 3.7) for t in (-12.0, -2.5, -0.3, 0.0, 0.7, 1.96, 4.0, 40.0)]
    samples = [[0.9012], [0.9012, 0.9034], [0.9, 0.9, 0.9], [0.8889, 0.8711, 0.8950, 0.9001],
               list(rng.normal(0.9, 0.01, 6)), list(rng.normal(0.6, 0.1, 10))]
    base = [0.9012, 0.8977, 0.9050, 0.8991, 0.9023]
    paired_cases = [
        (base[:2], [0.8990, 0.8981]),                               # n = 2
        (base, [b - 0.004 + e for b, e in zip(base, rng.normal(0, 0.002, 5))]),
        (base[:3], base[:3]),                                        # identical: zero variance, zero difference
        (base[:3], [b - 0.01 for b in base[:3]]),                    # constant nonzero difference
        (list(rng.normal(0.6, 0.1, 10)), list(rng.normal(0.62, 0.1, 10))),
    ]
    welch_cases = [
        (base, [0.8870, 0.8901, 0.8855]),
        (base[:2], [0.8990, 0.8981]),
        ([0.9, 0.9, 0.9], [0.9, 0.9]),                               # both zero variance, same mean
        ([0.9, 0.9, 0.9], [0.8, 0.8]),                               # both zero variance, different means
        (list(rng.normal(0.6, 0.1, 7)), list(rng.normal(0.55, 0.02, 4))),
    ]
    holm_cases = [[0.01, 0.04, 0.03, 0.2], [0.001, 0.5], [0.049], [0.02, 0.02, 0.02]]
    fixture = {
        "generator": "scripts/reference/statistics_fixtures.py", "scipy": scipy.__version__,
        "t_quantiles": quantiles, "t_cdfs": cdfs,
        "summaries": [summary(s) for s in samples],
        "paired": [paired(a, b) for a, b in paired_cases],
        "welch": [welch(a, b) for a, b in welch_cases],
        "holm": [{"p": p, "adjusted": holm_adjust(p)} for p in holm_cases],
    }
    path = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "Fixtures", "statistics.json")
    with open(path, "w") as f:
        json.dump(fixture, f, indent=1)


if __name__ == "__main__":
    main()
