"""The multi-power law's sum over past rate drops, aggregated into blocks of steps so it is one matrix expression.

The loss-drop term of Luo et al. 2025 (arXiv:2503.12811) is a sum over every step k whose rate fell:

    LD(t) = B * sum_k (eta_{k-1} - eta_k) * G(eta_k^-gamma * S_k(t)),   S_k(t) = sum_{tau=k..t} eta_tau,

a Python loop over steps for each row, or a (rows x steps) matrix.  Here the drops after the warm-up are summed
per block of ``block`` consecutive steps, cut also at every row to evaluate (so a block lies wholly before or
after each row), and each block stands at its drops' centre of mass k (weights |drop|), with the rate and the
area S1(k-1) read there (linear interpolation between steps).  A block holding one drop (a step schedule) is
therefore exact; a smooth decay is represented to second order in the block length.  Blocks without a drop are
left out, so a step schedule costs a handful of columns.  bench/bench_forecast_curves.py measures the block size's
effect on the errors; tests hold the blocks to the exact per-step sum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BLOCK = 50  # steps per block (16-200 measured: with blocks cut at the rows, the error hardly moves; bench/RESULTS.md)
MAX_BLOCKS = 128  # a smooth decay over a long run gets longer blocks, so its cost stays bounded
RATE_FLOOR = 1e-12  # eta_k^-gamma at a zero rate: its S_k(t) is 0 too, so the block contributes G(0) = 0


@dataclass(frozen=True)
class Blocks:
    """Aggregated drops: ``drop`` (K,), the rate after them ``rate`` (K,) and the area before them ``area``
    (K,), in the units of the rates and areas given."""

    drop: np.ndarray
    rate: np.ndarray
    area: np.ndarray


def step_drops(rates: np.ndarray, warmup: int) -> tuple[np.ndarray, np.ndarray]:
    """The steps k after the warm-up (k >= 2) and their drops rates[k-2] - rates[k-1] (eta_{k-1} - eta_k)."""
    k = np.arange(max(warmup + 1, 2), rates.size + 1)
    return k, rates[k - 2] - rates[k - 1]


def block_length(first: int, last: int, block: int | None = None) -> int:
    """Steps per block for drops spanning steps first..last: ``block`` when given, else BLOCK, or as many as
    keep the blocks to MAX_BLOCKS."""
    if block is not None:
        return max(int(block), 1)
    return max(BLOCK, -(-(last - first + 1) // MAX_BLOCKS))


def drop_blocks(rates: np.ndarray, cumulative: np.ndarray, warmup: int, block: int | None = None,
                cuts: np.ndarray | None = None) -> Blocks:
    """Blocks of drops from ``rates`` (per step) and ``cumulative`` (= cumsum(rates)) after ``warmup``
    (``block`` steps each; None: :func:`block_length`), none of them across a step in ``cuts`` (a block
    ends at each of those steps: the rows to evaluate, so no block holds drops both before and after a row)."""
    k, d = step_drops(rates, warmup)
    keep = d != 0
    k, d = k[keep], d[keep]
    if k.size == 0:
        empty = np.zeros(0)
        return Blocks(empty, empty, empty)
    group = (k - k[0]) // block_length(int(k[0]), int(k[-1]), block)
    new = np.diff(group) != 0
    if cuts is not None and len(cuts):
        new |= np.diff(np.searchsorted(np.asarray(cuts), k, side="left")) != 0
    starts = np.concatenate([[0], np.nonzero(new)[0] + 1])
    weight = np.abs(d)
    total = np.add.reduceat(d, starts)
    centre = np.add.reduceat(weight * k, starts) / np.add.reduceat(weight, starts)
    steps = np.arange(1, rates.size + 1, dtype=np.float64)
    rate = np.interp(centre, steps, rates)
    area_before = np.interp(centre - 1, np.concatenate([[0.0], steps]), np.concatenate([[0.0], cumulative]))
    return Blocks(total, np.maximum(rate, RATE_FLOOR), area_before)


def exact_loss_drop(rates: np.ndarray, warmup: int, rows: np.ndarray, B: float, C: float, beta: float,
                    gamma: float) -> np.ndarray:
    """The per-step sum LD(t) at 1-based steps ``rows``, by the definition (for tests and measurements)."""
    k, d = step_drops(rates, warmup)
    cumulative = np.cumsum(rates)
    out = np.zeros(len(rows))
    for i, t in enumerate(np.asarray(rows, dtype=np.int64)):
        use = k <= t
        area = cumulative[t - 1] - cumulative[k[use] - 2]  # sum of rates over steps k..t
        x = np.maximum(rates[k[use] - 1], RATE_FLOOR) ** -gamma * area
        out[i] = B * np.sum(d[use] * (1 - (C * x + 1) ** -beta))
    return out
