"""Curvature benchmark: lrscope's Lanczos top eigenvalue vs PyHessian's power iteration (the D2 setting).

Run in the anchors environment (it has PyHessian):
    ~/.cache/lrscope-anchors/bin/python bench/bench_curvature.py
Prints HVP counts, wall time (best of ``REPEATS``, interleaved) and the error against the converged value, for
several seeds of both tools.
"""

from __future__ import annotations

import importlib
import time
import warnings

import torch
from torch import nn

import lrscope.probes.curvature as C

PH = importlib.import_module("pyhessian.hessian")
REPEATS = 3
warnings.filterwarnings("ignore")


def main():
    torch.manual_seed(0)
    m = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.Tanh(),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.Tanh(),
        nn.Flatten(),
        nn.Linear(1024, 10),
    ).eval()
    x, y = torch.randn(256, 1, 8, 8), torch.randint(0, 10, (256,))
    crit = nn.CrossEntropyLoss()
    count = {"n": 0}
    orig = PH.hessian_vector_product

    def counting(*a, **k):
        count["n"] += 1
        return orig(*a, **k)

    PH.hessian_vector_product = counting
    ref = C.top_eigenvalues(m, crit, (x, y), k=1, tol=1e-12, max_iter=200).values[0]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; converged top eigenvalue {ref:.6f}")
    print("seed   PyHessian: value  err      HVPs  best s  | lrscope: value  err      HVPs  best s")
    for seed in range(4):
        ph_t, us_t = [], []
        for _ in range(REPEATS):
            count["n"] = 0
            torch.manual_seed(seed)
            t = time.perf_counter()
            h = PH.hessian(m, crit, data=(x, y), cuda=False)
            ph = h.eigenvalues(maxIter=100, tol=1e-3, top_n=1)[0][0]
            ph_t.append(time.perf_counter() - t)
            n_ph = count["n"]
            t = time.perf_counter()
            r = C.top_eigenvalues(m, crit, (x, y), k=1, tol=1e-3, seed=seed)
            us_t.append(time.perf_counter() - t)
        print(
            f"{seed:4d}   {ph:15.5f}  {abs(ph - ref) / ref:.1e}  {n_ph:4d}  {min(ph_t):6.2f}  | "
            f"{r.values[0]:13.5f}  {abs(r.values[0] - ref) / ref:.1e}  {r.hvp_count:4d}  {min(us_t):6.2f}   "
            f"(HVPs {n_ph / r.hvp_count:.1f}x fewer, wall {min(ph_t) / min(us_t):.1f}x less)"
        )


if __name__ == "__main__":
    main()
