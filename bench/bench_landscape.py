"""Landscape benchmark: lrscope's plane vs loss-landscapes' random_plane vs the floor (plain forward passes).

Run in the anchors environment (it has loss-landscapes):
    ~/.cache/lrscope-anchors/bin/python bench/bench_landscape.py
Prints the figures and ratios: (1) the D1 setting (small CNN, 512 samples of 8x8, 21x21 plane); (2) loop vs
vmap
for a CNN and an MLP on this CPU; (3) a loader of 8 batches: each batch read once for all points vs one full
pass
per point.  Timings interleave the contenders and keep the best of ``REPEATS`` (the machine is shared).
"""

from __future__ import annotations

import copy
import time

import numpy as np
import torch
from torch import nn

import lrscope.probes.landscape as L
from lrscope.probes.directions import parameters_of, random_directions
from lrscope.probes.evaluate import evaluate_points

REPEATS = 3


def best_of(fns: dict, repeats: int = REPEATS) -> dict:
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {k: (min(v), max(v)) for k, v in times.items()}


def cnn():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(128, 10),
    ).eval()


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)).eval()


def part1():
    import loss_landscapes
    import loss_landscapes.metrics

    m, crit = cnn(), nn.CrossEntropyLoss()
    x, y = torch.randn(512, 1, 8, 8), torch.randint(0, 10, (512,))
    metric = loss_landscapes.metrics.Loss(crit, x, y)

    def floor():
        with torch.no_grad():
            for _ in range(441):
                crit(m(x), y).item()

    out = {}
    t = best_of(
        {
            "loss-landscapes": lambda: loss_landscapes.random_plane(
                m, metric, distance=1, steps=21, normalization="filter", deepcopy_model=True
            ),
            "lrscope": lambda: out.setdefault("r", L.plane(m, crit, (x, y), steps=21, span=1.0, seed=0)),
            "floor": floor,
        }
    )
    r = out["r"]
    theta = [p.detach().clone() for p in m.parameters()]
    worst = 0.0
    with torch.no_grad():
        for i, j in [(0, 0), (5, 17), (20, 3), (10, 10), (20, 20)]:
            mm = copy.deepcopy(m)
            for p, t0, u, v in zip(mm.parameters(), theta, *r.directions, strict=True):
                p.copy_(t0 + float(r.x[j]) * u + float(r.y[i]) * v)
            ref = crit(mm(x), y).item()
            worst = max(worst, abs(r.loss[i, j] - ref) / abs(ref))
    ll, us, fl = t["loss-landscapes"][0], t["lrscope"][0], t["floor"][0]
    print(f"1) plane 21x21, CNN, 512 x 1x8x8 (best of {REPEATS}; worst run in brackets)")
    for k, (lo, hi) in t.items():
        print(f"   {k:16s} {lo:6.2f} s  [{hi:6.2f}]")
    print(
        f"   lrscope is {ll / us:.1f}x faster than loss-landscapes and at {us / fl:.3f}x of the floor; "
        f"max rel err vs plain loop {worst:.1e}; mode {r.provenance['evaluation']}"
    )


def part2():
    print(f"2) loop vs threads vs vmap, 21x21 = 441 points, 512 samples (points/s; {torch.get_num_threads()} threads)")
    crit = nn.CrossEntropyLoss()
    x, y = torch.randn(512, 1, 8, 8), torch.randint(0, 10, (512,))
    g = np.linspace(-1, 1, 21)
    coords = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    for name, make in [("CNN", cnn), ("MLP 64-64-10", mlp)]:
        m = make()
        d = random_directions(m, 2, seed=0)
        base = parameters_of(m)
        fns = {
            mode: (
                lambda mode=mode, m=m, b=base, d=d: evaluate_points(m, crit, (x, y), b, d, coords, mode=mode)
            )
            for mode in ("loop", "threads", "vmap", "auto")
        }
        t = best_of(fns, 2)
        chosen = evaluate_points(m, crit, (x, y), base, d, coords, mode="auto").mode
        print(
            f"   {name:14s} loop {441 / t['loop'][0]:8.0f}/s   threads {441 / t['threads'][0]:8.0f}/s   "
            f"vmap {441 / t['vmap'][0]:8.0f}/s   (threads/loop {t['loop'][0] / t['threads'][0]:.2f}x, "
            f"vmap/loop {t['loop'][0] / t['vmap'][0]:.2f}x; auto chose {chosen}, "
            f"{441 / t['auto'][0]:.0f}/s)"
        )


def part3():
    print("3) loader of 8 batches x 128 (CNN), 11x11 plane: each batch read once vs a full pass per point")
    m, crit = cnn(), nn.CrossEntropyLoss()
    ds = torch.utils.data.TensorDataset(torch.randn(1024, 1, 8, 8), torch.randint(0, 10, (1024,)))
    loader = torch.utils.data.DataLoader(ds, batch_size=128, shuffle=False)
    g = np.linspace(-1, 1, 11)
    coords = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    d = random_directions(m, 2, seed=0)
    theta = parameters_of(m)
    reads = {"n": 0}

    class Counting:
        def __iter__(self):
            for b in loader:
                reads["n"] += 1
                yield b

    def per_point():  # tomgoldstein/loss-landscape: set weights, full pass over the loader, next point
        mm = copy.deepcopy(m)
        out = []
        with torch.no_grad():
            for a, b in coords:
                for p, t0, u, v in zip(mm.parameters(), theta, *d, strict=True):
                    p.copy_(t0 + a * u + b * v)
                total, n = 0.0, 0
                for xb, yb in Counting():
                    total += crit(mm(xb), yb).item() * len(yb)
                    n += len(yb)
                out.append(total / n)
        return out

    res = {}
    reads["n"] = 0
    t = best_of(
        {
            "lrscope": lambda: res.setdefault("us", evaluate_points(m, crit, Counting(), theta, d, coords)),
            "per-point passes": lambda: res.setdefault("ref", per_point()),
        },
        2,
    )
    err = np.max(np.abs(res["us"].loss - np.array(res["ref"])) / np.array(res["ref"]))
    us_reads = 8
    print(
        f"   lrscope {t['lrscope'][0]:.2f} s ({us_reads} batch reads);  per-point passes "
        f"{t['per-point passes'][0]:.2f} s ({8 * len(coords)} batch reads);  ratio "
        f"{t['per-point passes'][0] / t['lrscope'][0]:.2f}x; max rel diff {err:.1e}"
    )


if __name__ == "__main__":
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    part1()
    part2()
    part3()
