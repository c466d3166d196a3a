"""lrscope.find_lr against torch-lr-finder side by side (the C1 setup), and against fastai's rules.

Run with the anchors environment (it has torch-lr-finder; lrscope is pip-installed there editable):

    ~/.cache/lrscope-anchors/bin/python bench/bench_finder.py [--seeds 20] [--threads 1]

Same model, data, num_iter (100), lr range (1e-6 .. 10) and seeds as
../shared/checks/C1-finder-vs-torch-lr-finder. Both tools run interleaved, seed by seed, in this one process
(the machine is shared: medians, not means). Prints: the wall-time ratio (median over seeds, repeats=1), the
spread of each rule's suggestion across seeds in decades (log10 max/min over groups of 5 seeds, as C1),
whether each tool leaves the model and optimizer exactly as they were, and fastai's valley / slide / minimum
/ steep rules (reimplemented from their description in ../shared/notes/anchors-lr.md) on the very same raw
curves.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import statistics
import time

import numpy as np
import torch
import torch.nn as nn

import lrscope
from lrscope.probes.finder import debiased_ema


def setup():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4096, 1, 8, 8, generator=g)
    w = torch.randn(64, 10, generator=g)
    y = (x.flatten(1) @ w + 2.0 * torch.randn(4096, 10, generator=g)).argmax(1)
    return torch.utils.data.TensorDataset(x, y)


DS = setup()


def model():
    torch.manual_seed(1)
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1),
                         nn.ReLU(), nn.Flatten(), nn.Linear(2048, 10))


def loader(seed):
    return torch.utils.data.DataLoader(DS, batch_size=64, shuffle=True,
                                       generator=torch.Generator().manual_seed(seed))


def same_state(m, opt, sd, od) -> bool:
    return all(torch.equal(sd[k], v) for k, v in m.state_dict().items()) and str(od) == str(opt.state_dict())


def run_tlf(seed):
    from torch_lr_finder import LRFinder

    m = model()
    opt = torch.optim.SGD(m.parameters(), lr=1e-7, momentum=0.9)
    sd, od = copy.deepcopy(m.state_dict()), copy.deepcopy(opt.state_dict())
    finder = LRFinder(m, opt, nn.CrossEntropyLoss())
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        t = time.perf_counter()
        finder.range_test(loader(seed), start_lr=1e-6, end_lr=10, num_iter=100)
        dt = time.perf_counter() - t
    lrs, losses = np.array(finder.history["lr"]), np.array(finder.history["loss"])
    s = float(lrs[10:-5][np.gradient(losses[10:-5]).argmin()])  # its plot()'s suggestion rule
    restored_without_reset = same_state(m, opt, sd, od)
    finder.reset()
    restored_after_reset = same_state(m, opt, sd, od)
    return dict(dt=dt, s=s, restored=restored_without_reset, restored_reset=restored_after_reset)


def run_ours(seed, repeats=1):
    m = model()
    opt = torch.optim.SGD(m.parameters(), lr=1e-7, momentum=0.9)
    sd, od = copy.deepcopy(m.state_dict()), copy.deepcopy(opt.state_dict())
    t = time.perf_counter()
    r = lrscope.find_lr(m, opt, nn.CrossEntropyLoss(), loader(seed), start_lr=1e-6, end_lr=10, num_iter=100,
                        repeats=repeats, seed=seed)
    dt = time.perf_counter() - t
    return dict(dt=dt, result=r, restored=same_state(m, opt, sd, od))


# ---------------------------------------------------------------- fastai's rules, from their description


def fastai_curve(lrs, raw, num_it=100):
    """fastai's Recorder: debiased EMA (beta 0.98); suggestions skip num_it//10 first and 5 last points."""
    smooth = debiased_ema(raw, 0.98)
    lo, hi = num_it // 10, len(raw) - 5
    lr, loss = lrs[lo:hi], smooth[lo:hi]
    bad = np.flatnonzero(~np.isfinite(loss))
    if bad.size:
        lr, loss = lr[: bad[0]], loss[: bad[0]]
    return lr, loss


def fastai_valley(lr, loss):
    """Longest decreasing subsequence (O(n^2)); the point start + L//3 + L//6 along it."""
    n = len(loss)
    lds = [1] * n
    max_start = max_end = 0
    for i in range(1, n):
        for j in range(i):
            if loss[i] < loss[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    length = max_end - max_start
    return float(lr[max_start + length // 3 + length // 6])


def fastai_slide(lr, loss, lr_diff=15, thresh=0.005):
    """np.gradient over point index; from the end walk left until two gradients lr_diff apart agree."""
    grad = np.gradient(loss)
    r = len(grad) - 1
    left = r - lr_diff
    while left >= 0 and abs(grad[r] - grad[left]) > thresh:
        r -= 1
        left -= 1
    return float(lr[max(left, 0)])


def fastai_minimum(lr, loss):
    return float(lr[int(np.argmin(loss))] / 10)


def fastai_steep(lr, loss):
    return float(lr[int(np.argmin(np.gradient(loss, np.log(lr))))])


FASTAI = {"valley": fastai_valley, "slide": fastai_slide, "minimum": fastai_minimum, "steep": fastai_steep}


def decades(values) -> float:
    return float(np.log10(max(values) / min(values)))


def group_spreads(values, size=5):
    return [decades(values[i:i + size]) for i in range(0, len(values) - size + 1, size)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default, as C1)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    seeds = list(range(args.seeds))
    rows = {}
    for seed in seeds:
        if seed % 2:  # alternate who goes first
            theirs, ours = run_tlf(seed), run_ours(seed)
        else:
            ours, theirs = run_ours(seed), run_tlf(seed)
        ours3 = run_ours(seed, repeats=3)
        rows[seed] = (theirs, ours, ours3)
        print(f"seed {seed:2d}: torch-lr-finder {theirs['dt']:.3f}s -> {theirs['s']:.3g};  "
              f"lrscope {ours['dt']:.3f}s -> {ours['result'].suggestion:.3g};  "
              f"repeats=3 {ours3['dt']:.3f}s -> {ours3['result'].suggestion:.3g} "
              f"(spread {ours3['result'].spread:.2f})", flush=True)

    first5 = seeds[:5]
    def median_time(which, among):
        return statistics.median(rows[s][which]["dt"] for s in among)

    ratio5 = median_time(1, first5) / median_time(0, first5)
    ratio = median_time(1, seeds) / median_time(0, seeds)
    print()
    print(f"wall time ratio lrscope/torch-lr-finder, repeats=1: {ratio5:.2f} (seeds 0-4, as C1), "
          f"{ratio:.2f} (all {len(seeds)} seeds; medians {median_time(1, seeds):.3f}s"
          f" vs {median_time(0, seeds):.3f}s)")
    ours_ok = all(rows[s][1]["restored"] and rows[s][2]["restored"] for s in seeds)
    print(f"model+optimizer restored bitwise: lrscope {ours_ok}; "
          f"torch-lr-finder without reset() {all(rows[s][0]['restored'] for s in seeds)}, "
          f"after reset() {all(rows[s][0]['restored_reset'] for s in seeds)}")

    table = {"torch-lr-finder argmin(np.gradient)": [rows[s][0]["s"] for s in seeds],
             "lrscope suggestion, repeats=1": [rows[s][1]["result"].suggestion for s in seeds],
             "lrscope suggestion, repeats=3": [rows[s][2]["result"].suggestion for s in seeds]}
    for rule in ("steepest", "midpoint", "valley", "minimum_over_10"):
        table[f"lrscope rule {rule} (repeats=1)"] = [rows[s][1]["result"].suggestions[rule] for s in seeds]
    for name, fn in FASTAI.items():
        values = []
        for s in seeds:
            r = rows[s][1]["result"]
            values.append(fn(*fastai_curve(r.lrs, r.losses)))
        table[f"fastai {name} (same curves)"] = values
    lows = [rows[s][1]["result"].range[0] for s in seeds]
    highs = [rows[s][1]["result"].range[1] for s in seeds]
    table["lrscope range low (repeats=1)"] = lows
    table["lrscope range high (repeats=1)"] = highs
    print()
    print("| rule | median lr | spread seeds 0-4 (decades) | spread per group of 5: median / max |")
    print("|---|---|---|---|")
    for name, values in table.items():
        spreads = group_spreads(values)
        print(f"| {name} | {10 ** np.median(np.log10(values)):.3g} | {decades(values[:5]):.2f} | "
              f"{np.median(spreads):.2f} / {max(spreads):.2f} |")
    centre = 10 ** np.median(np.log10(table["lrscope suggestion, repeats=1"]))
    inside = np.mean([rows[s][1]["result"].interval[0] <= centre <= rows[s][1]["result"].interval[1]
                      for s in seeds])
    print(f"\nshare of single sweeps whose 90% noise interval holds the median suggestion: {inside:.0%}")


if __name__ == "__main__":
    main()
