"""The regret table: each column's rate per seed, scored against the grid's best seed-mean accuracy."""

from __future__ import annotations

import functools
import math

import numpy as np

from .grid import case_rates, grid_of, grid_pick, grid_pick_one_seed, loss_band, optimum, seed_mean
from .rules import CONFIRMED, GRID_ONE_SEED, GRID_REFERENCE, REFINED, RULE_NAMES, rate_of
from .tasks import EVERY_TASK, RECIPES, SCHEDULES, SEEDS, key


def misses(row: dict, budget: float = 0.5) -> bool:
    """Whether a scored case's regret lies above the goal's budget by more than two standard errors."""
    return row["regret"] - 2 * row["se"] > budget


def rule_rate(rule, trainings, values, confirmed, rates, t, o, s, seed) -> float:
    """The rate a column of the regret table trains at on ``seed``."""
    if rule == GRID_REFERENCE:
        return grid_pick(trainings, t, o, s, rates, seed)
    if rule == GRID_ONE_SEED:
        return grid_pick_one_seed(trainings, t, o, s, rates, seed)
    if rule in confirmed:
        return confirmed[rule][(t, o, s, seed)]
    return rate_of(values, t, o, s, seed, rule)


def score(trainings, bounds, t, o, s, pick) -> dict:
    """One rule on one (task, recipe): ``pick(seed)`` is the rate it trains at on that seed.  Regret against
    the grid's best seed-mean accuracy (points) and its standard error (the paired per-seed differences
    against the grid-best rate's trainings), loss regret (%), and which seeds lie within 2x of the optimum."""
    rates = case_rates(bounds, t, o, s)
    acc = np.array([seed_mean(trainings, t, o, s, lr, "acc") for lr in rates])
    best_loss = min(seed_mean(trainings, t, o, s, lr, "loss") for lr in rates)
    opt_rate, best_rate = optimum(rates, acc), rates[int(np.argmax(acc))]
    at_best = np.array([trainings[key(t, o, s, seed, best_rate)]["acc"] for seed in SEEDS])
    lrs = [pick(seed) for seed in SEEDS]
    accs = np.array([trainings[key(t, o, s, seed, lr)]["acc"] for seed, lr in zip(SEEDS, lrs, strict=True)])
    losses = [trainings[key(t, o, s, seed, lr)]["loss"] for seed, lr in zip(SEEDS, lrs, strict=True)]
    within = [abs(math.log10(lr / opt_rate)) <= math.log10(2) for lr in lrs]
    return dict(regret=float(acc.max()) - float(accs.mean()),
                se=float(np.std(at_best - accs, ddof=1) / math.sqrt(len(SEEDS))),
                loss_regret=100 * (float(np.mean(losses)) / best_loss - 1), within=int(sum(within)),
                each_within=within)


def print_seed_spread(trainings, bounds, t, o, s):
    """How far one grid rate's final accuracy moves from seed to seed in a case: lowest .. highest, per rate."""
    cells = []
    for lr in case_rates(bounds, t, o, s):
        accs = [trainings[key(t, o, s, seed, lr)]["acc"] for seed in SEEDS]
        cells.append(f"{lr:.3g}: {min(accs):.0f}..{max(accs):.0f}")
    print(f"  {t} {o} {s}, accuracy over the {len(SEEDS)} seeds at each grid rate (%): " + ", ".join(cells))


def report(trainings, bounds, values, confirmed, tasks):
    columns = (*RULE_NAMES, CONFIRMED, REFINED, GRID_ONE_SEED, GRID_REFERENCE)
    rows, cases, bands = {}, {r: [] for r in columns}, []
    edges = {s: [] for s in SCHEDULES}  # log10(1 %-band edge / lrscope's rate), per seed
    size = sum(len(case_rates(bounds, t, o, s)) for t in tasks for o, s in RECIPES)
    print(f"\n## Grids (seed-mean validation accuracy, %): {size} rates, {size * len(SEEDS)} trainings\n")
    for t in tasks:
        for o, s in RECIPES:
            rates = case_rates(bounds, t, o, s)
            acc = np.array([seed_mean(trainings, t, o, s, lr, "acc") for lr in rates])
            loss = np.array([seed_mean(trainings, t, o, s, lr, "loss") for lr in rates])
            best_acc, best_loss = float(acc.max()), float(loss.min())
            opt_rate = optimum(rates, acc)
            blo, bmid, bhi = loss_band(rates, loss)
            bands.append(dict(task=t, opt=o, sched=s, low=blo, at=bmid, high=bhi, acc_optimum=opt_rate))
            print(f"{t} {o} {s}: " + " ".join(f"{lr:.3g}:{a:.1f}" for lr, a in zip(rates, acc, strict=True)))
            print(f"    best acc {best_acc:.2f} at ~{opt_rate:.3g}; best loss {best_loss:.4f}; 1% loss band "
                  f"{blo:.3g} .. {bhi:.3g} (-{np.log10(bmid / blo):.2f} / +{np.log10(bhi / bmid):.2f} decades "
                  f"around {bmid:.3g})")
            for seed in SEEDS:
                rate = rate_of(values, t, o, s, seed, "lrscope")
                edges[s].append((math.log10(blo / rate), math.log10(bhi / rate)))
            for rule in columns:
                pick = functools.partial(rule_rate, rule, trainings, values, confirmed, rates, t, o, s)
                row = score(trainings, bounds, t, o, s, pick)
                cases[rule].extend(row.pop("each_within"))
                rows[(t, o, s, rule)] = row
    print("\n## Regret: grid-best seed-mean accuracy minus the accuracy at the rule's suggestion (points), and its"
          " standard error over the seeds (paired with the grid-best rate's trainings); in brackets, how many of"
          f" {len(SEEDS)} seeds lie within 2x of the grid optimum\n")
    header = "| task | optimizer | schedule | " + " | ".join(columns) + " |"
    print(header)
    print("|" + "---|" * (3 + len(columns)))
    for t in tasks:
        for o, s in RECIPES:
            cells = [f"{v['regret']:.2f} ± {v['se']:.2f} ({v['within']})"
                     for v in (rows[(t, o, s, r)] for r in columns)]
            print(f"| {t} | {o} | {s} | " + " | ".join(cells) + " |")
    mean = {r: float(np.mean([v["regret"] for (_, _, _, rr), v in rows.items() if rr == r])) for r in columns}
    worst = {r: float(np.max([v["regret"] for (_, _, _, rr), v in rows.items() if rr == r])) for r in columns}
    lmean = {r: float(np.mean([v["loss_regret"] for (_, _, _, rr), v in rows.items() if rr == r]))
             for r in columns}
    share = {r: float(np.mean(cases[r])) for r in columns}
    print("| **mean regret (points)** | | | " + " | ".join(f"**{mean[r]:.2f}**" for r in columns) + " |")
    for field, value in (("schedule", "constant"), ("schedule", "1cycle"), ("optimizer", "sgd"),
                         ("optimizer", "adamw")):
        index = 2 if field == "schedule" else 1
        part = {r: np.mean([v["regret"] for k, v in rows.items() if k[3] == r and k[index] == value])
                for r in columns}
        print(f"| mean regret, {value} only | | | " + " | ".join(f"{part[r]:.2f}" for r in columns) + " |")
    print("| worst regret (points) | | | " + " | ".join(f"{worst[r]:.2f}" for r in columns) + " |")
    print("| mean loss regret (%) | | | " + " | ".join(f"{lmean[r]:.1f}" for r in columns) + " |")
    print("| within 2x of optimum | | | " + " | ".join(f"{share[r]:.0%}" for r in columns) + " |")
    print("| mean standard error (points) | | | " + " | ".join(
        f"{np.mean([v['se'] for k, v in rows.items() if k[3] == r]):.2f}" for r in columns) + " |")
    widths_lo = [np.log10(b["at"] / b["low"]) for b in bands]
    widths_hi = [np.log10(b["high"] / b["at"]) for b in bands]
    print(f"\n1% loss band around the loss optimum, decades: below median {np.median(widths_lo):.2f} "
          f"(min {min(widths_lo):.2f}), above median {np.median(widths_hi):.2f} (min {min(widths_hi):.2f})")
    from lrscope.analysis.finder_curve import BAND, PEAK_BAND

    for sched, now in (("constant", BAND), ("1cycle", PEAK_BAND)):
        lo = np.array([e[0] for e in edges[sched]])
        hi = np.array([e[1] for e in edges[sched]])
        inside = np.mean((lo >= now[0]) & (hi <= now[1]))
        for q in range(10, -1, -1):  # the narrowest (P_q, P_100-q) pair that holds 80 % of the bands whole
            pair = (np.percentile(lo, q), np.percentile(hi, 100 - q))
            if np.mean((lo >= pair[0]) & (hi <= pair[1])) >= 0.8:
                break
        print(f"1% band around lrscope's {'suggestion' if sched == 'constant' else '1cycle peak'}, log10(edge/rate): "
              f"lower edge 10th percentile {np.percentile(lo, 10):+.2f}, upper edge 90th percentile "
              f"{np.percentile(hi, 90):+.2f}; the finder's band {now[0]:+.2f} .. {now[1]:+.2f} holds the whole "
              f"1% band in {inside:.0%} of {len(lo)} cases")
        print(f"  edges holding 80 % of the cases whole: P{q} {pair[0]:+.2f}, P{100 - q} {pair[1]:+.2f}")

    for rule in ("lrscope", CONFIRMED, REFINED, GRID_ONE_SEED, GRID_REFERENCE):
        over = [(t, o, s) for t in tasks for o, s in RECIPES if misses(rows[(t, o, s, rule)])]
        print(f"\n{rule}: regret above 0.5 by more than two standard errors in {len(over)} of "
              f"{len(tasks) * len(RECIPES)} cases" + (": " + "; ".join(" ".join(c) for c in over) if over else ""))
        if rule == REFINED:
            for case in over:
                print_seed_spread(trainings, bounds, *case)
    for ours in ("lrscope", CONFIRMED, REFINED):
        smallest = mean[ours] <= min(mean[r] for r in RULE_NAMES) + 1e-12
        ok = worst[ours] <= 0.5 and smallest and share[ours] >= 0.8
        print(f"\ngoal for {ours} (worst regret <= 0.5, smallest mean, within 2x >= 80 %): "
              f"{'met' if ok else 'NOT met'}")
    return dict(rows={"|".join(k): v for k, v in rows.items()}, mean=mean, worst=worst, loss_mean=lmean,
                within=share, bands=bands)


def overall(*summaries, tasks=None, title="development and held-out tasks together") -> dict:
    """Every case of the given report() summaries together (or those of ``tasks`` only): per column the mean
    and worst regret, the share of seeds within 2x of the optimum and the cases above 0.5 by two standard
    errors; printed as one table."""
    rows = {k: v for summary in summaries for k, v in summary["rows"].items()
            if tasks is None or k.split("|", 1)[0] in tasks}
    columns = list(dict.fromkeys(k.rsplit("|", 1)[1] for k in rows))
    table = {}
    for rule in columns:
        mine = [v for k, v in rows.items() if k.rsplit("|", 1)[1] == rule]
        table[rule] = dict(mean=float(np.mean([v["regret"] for v in mine])),
                           worst=float(np.max([v["regret"] for v in mine])),
                           within=sum(v["within"] for v in mine) / (len(SEEDS) * len(mine)),
                           above=sum(misses(v) for v in mine), cases=len(mine))
    print(f"\n\n# {table[columns[0]]['cases']} cases ({title})\n")
    print("| | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for label, cell in (("mean regret (points)", lambda v: f"{v['mean']:.2f}"),
                        ("worst regret (points)", lambda v: f"{v['worst']:.2f}"),
                        ("within 2x of optimum", lambda v: f"{v['within']:.0%}"),
                        ("cases above 0.5 by two standard errors", lambda v: f"{v['above']}")):
        print(f"| {label} | " + " | ".join(cell(table[r]) for r in columns) + " |")
    return table


def print_optimum_and_bias(trainings, bounds, values, seed_draws=2000):
    """Per (task, recipe) of every task: where the grid's accuracy optimum lies against lrscope's sweep rate
    (log10, against the geometric mean of its per-seed rates), and the upward bias of scoring against the best
    of the grid's noisy seed means, by a seed bootstrap: mean over draws of max_r mean*(acc at r) - max_r
    mean(acc at r).  What a regret can be blamed on: a sweep that misses, or a reference that is noise."""
    rng = np.random.default_rng(0)
    print("\n## Where the grid's optimum lies against lrscope's sweep rate, and the bias of the best seed-mean\n")
    print("| task | optimizer | schedule | log10(optimum / sweep rate) | bias of the best seed-mean (points) |")
    print("|---|---|---|---|---|")
    for t in EVERY_TASK:
        for o, s in RECIPES:
            rates, acc = grid_of(trainings, bounds, t, o, s)
            sweep = np.mean([math.log10(rate_of(values, t, o, s, seed, "lrscope")) for seed in SEEDS])
            print(f"| {t} | {o} | {s} | {math.log10(optimum(rates, acc.mean(axis=0))) - sweep:+.2f} | "
                  f"{best_mean_bias(acc, rng, seed_draws):.2f} |")


def best_mean_bias(acc, rng, draws=2000) -> float:
    """Seed-bootstrap bias of the best seed-mean accuracy (``acc``: seeds x rates): the mean over ``draws``
    resamplings of the seeds of the best resampled mean, minus the best mean itself (points)."""
    acc = np.asarray(acc, float)
    n = len(acc)
    return float(np.mean([acc[rng.integers(0, n, n)].mean(axis=0).max() for _ in range(draws)])
                 - acc.mean(axis=0).max())
