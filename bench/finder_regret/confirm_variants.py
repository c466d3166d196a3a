"""``--variants``: the ways of choosing among confirm's runs screened before ConfirmResult.refined was
adopted, and the ways that train more runs on the choosing seed (tried, not adopted)."""

from __future__ import annotations

import functools
import math

import numpy as np

from .cache import ensure_trainings
from .confirm import candidate_losses, on_next_seed
from .grid import case_rates, grid_pick_one_seed, split_half_regret
from .report import score
from .rules import GRID_ONE_SEED
from .tasks import EVERY_TASK, RECIPES, SEEDS, TASKS, key, rounded


def least_squares_vertex(rates, losses, half=2) -> float:
    """Tried, not adopted: the vertex of a least-squares parabola through the best run and up to ``half``
    finite runs each side (log rate), clipped to them; the best run's rate if it does not curve upwards."""
    x, y = np.log10(rates), np.array(losses, float)
    i = int(np.nanargmin(y))
    part = slice(max(0, i - half), i + half + 1)
    xs, ys = x[part][np.isfinite(y[part])], y[part][np.isfinite(y[part])]
    if len(xs) < 3:
        return float(rates[i])
    a, b, _ = np.polyfit(xs, ys, 2)
    return float(10 ** np.clip(-b / (2 * a), xs[0], xs[-1])) if a > 0 else float(rates[i])


def confirm_choices(candidates, trainings, bounds, workers, cached):
    """The ways of choosing among the confirm runs that were screened on TASKS before ConfirmResult.refined
    (the vertex clipped to 0.15 decade) was adopted, each judged on the next seed; then, over every task, the
    case where the refinement gains most over the best run, seed by seed."""
    from lrscope.analysis.finder_confirm import choose_confirmed, refine_rate

    def accs(case, rates):
        return [trainings[key(*case, lr)]["acc"] if trainings[key(*case, lr)]["finite"] else math.nan
                for lr in rates]

    ways = {
        "best run": lambda r, loss, acc: r[choose_confirmed(loss)],
        "vertex, unclipped": lambda r, loss, acc: refine_rate(r, loss, limit=math.inf),
        "vertex, clip 0.10": lambda r, loss, acc: refine_rate(r, loss, limit=0.10),
        "vertex, clip 0.15 (adopted)": lambda r, loss, acc: refine_rate(r, loss, limit=0.15),
        "vertex, clip 0.20": lambda r, loss, acc: refine_rate(r, loss, limit=0.20),
        "log-loss vertex": lambda r, loss, acc: refine_rate(r, list(np.log(loss)), limit=math.inf),
        "accuracy vertex": lambda r, loss, acc: refine_rate(r, [-a for a in acc], limit=math.inf),
        "least squares, 5 runs": lambda r, loss, acc: least_squares_vertex(r, loss),
    }
    both = ("best run", "vertex, clip 0.15 (adopted)")  # the only two also on the held-out tasks

    chosen = {name: {case: rounded(way(rates, candidate_losses(trainings, case, rates), accs(case, rates)))
                     for case, rates in candidates.items() if case[0] in TASKS or name in both}
              for name, way in ways.items()}
    scored = on_next_seed(chosen, trainings, workers, cached, "confirm choices screened")
    rows = {(t, o, s, name): score(trainings, bounds, t, o, s, lambda seed, p=picks, c=(t, o, s): p[(*c, seed)])
            for t in EVERY_TASK for o, s in RECIPES for name, picks in scored.items() if t in TASKS or name in both}
    print("\n## Choosing among the confirm runs: regret (points) of each way, judged on the next seed "
          "(screened on these tasks; the held-out ones came after)\n")
    print("| task | optimizer | schedule | " + " | ".join(ways) + " |")
    print("|" + "---|" * (3 + len(ways)))
    for t in TASKS:
        for o, s in RECIPES:
            print(f"| {t} | {o} | {s} | " + " | ".join(f"{rows[(t, o, s, n)]['regret']:.2f}" for n in ways) + " |")
    for label, field, fmt in (("mean regret", "regret", "{:.2f}"), ("within 2x", "within", "{:.0%}")):
        cells = [np.mean([rows[(t, o, s, n)][field] for t in TASKS for o, s in RECIPES])
                 / (len(SEEDS) if field == "within" else 1) for n in ways]
        print(f"| {label} | | | " + " | ".join(fmt.format(c) for c in cells) + " |")
    gain = {(t, o, s): rows[(t, o, s, both[0])]["regret"] - rows[(t, o, s, both[1])]["regret"]
            for t in EVERY_TASK for o, s in RECIPES}
    t, o, s = max(gain, key=gain.get)
    print(f"\nwhere the refinement gains most over the best run: {t} {o} {s} ({gain[(t, o, s)]:.2f} points); "
          "per seed, the rate the previous seed's runs chose and the accuracy it trains to:")
    for seed in SEEDS:
        best, refined = (scored[n][(t, o, s, seed)] for n in both)
        print(f"- seed {seed}: best run {best:.3g} -> {trainings[key(t, o, s, seed, best)]['acc']:.1f} %; "
              f"refined {refined:.3g} -> {trainings[key(t, o, s, seed, refined)]['acc']:.1f} %")


FINE_STEP = 0.25  # decades: the second stage's runs either side of the best run


def second_stage_choices(candidates, trainings, bounds, workers, cached):
    """Tried, not adopted: ways that spend more runs on the choosing seed after confirm's 5-7, each judged on
    the next seed against the adopted refined rate and a one-seed grid search.

    - refined, checked: train the refined rate too and keep it only if its validation loss beats the best
      run's (one more run wherever the two differ);
    - fine, lowest: train the best run's rate x 10^(+-FINE_STEP) and keep the lowest of the three;
    - fine, vertex clip 0.10: refine_rate over all the runs, fine ones included, clipped to 0.10 decade.
    """
    from lrscope.analysis.finder_confirm import choose_confirmed, refine_rate

    cases = {case: rates for case, rates in candidates.items() if case[0] in TASKS}

    def loss(case, lr):
        row = trainings[key(*case, lr)]
        return row["loss"] if row["finite"] else math.nan

    def lowest(case, rates):
        return rates[choose_confirmed([loss(case, lr) for lr in rates])]

    best = {case: lowest(case, rates) for case, rates in cases.items()}
    refined = {case: rounded(refine_rate(rates, candidate_losses(trainings, case, rates)))
               for case, rates in cases.items()}
    fine = {case: [rounded(b * 10 ** -FINE_STEP), b, rounded(b * 10 ** FINE_STEP)] for case, b in best.items()}
    ensure_trainings([(*case, lr) for case in cases for lr in {refined[case], *fine[case]}], trainings, workers,
                     cached, "second-stage runs on the choosing seed")

    def with_fine(case):
        rates = sorted({*cases[case], *fine[case]})
        return rates, [loss(case, lr) for lr in rates]

    ways = {
        "confirmed, refined (adopted)": lambda case: refined[case],
        "refined, checked": lambda case: lowest(case, sorted({best[case], refined[case]})),
        "fine, lowest": lambda case: lowest(case, fine[case]),
        "fine, vertex clip 0.10": lambda case: refine_rate(*with_fine(case), limit=0.10),
    }
    chosen = {name: {case: rounded(way(case)) for case in cases} for name, way in ways.items()}
    scored = on_next_seed(chosen, trainings, workers, cached, "second-stage choices on the next seed")
    rows = {}
    for t in TASKS:
        for o, s in RECIPES:
            for name, picks in scored.items():
                rows[(t, o, s, name)] = score(trainings, bounds, t, o, s,
                                              lambda seed, p=picks, c=(t, o, s): p[(*c, seed)])
            rates = case_rates(bounds, t, o, s)
            rows[(t, o, s, GRID_ONE_SEED)] = score(
                trainings, bounds, t, o, s, functools.partial(grid_pick_one_seed, trainings, t, o, s, rates))
    names = (*ways, GRID_ONE_SEED)
    halves = {(t, o, s): split_half_regret(trainings, t, o, s, case_rates(bounds, t, o, s))
              for t in TASKS for o, s in RECIPES}
    runs = {"confirmed, refined (adopted)": np.mean([len(r) for r in cases.values()]),
            "refined, checked": np.mean([len(r) + (refined[c] not in r) for c, r in cases.items()]),
            "fine, lowest": np.mean([len({*r, *fine[c]}) for c, r in cases.items()]),
            GRID_ONE_SEED: np.mean([len(case_rates(bounds, t, o, s)) for t, o, s, _ in cases])}
    runs["fine, vertex clip 0.10"] = runs["fine, lowest"]
    print("\n## Training more on the choosing seed (tried, not adopted): regret (points), judged on the next seed\n")
    print("| task | optimizer | schedule | " + " | ".join(names) + " | grid, half the seeds |")
    print("|" + "---|" * (4 + len(names)))
    for t in TASKS:
        for o, s in RECIPES:
            print(f"| {t} | {o} | {s} | " + " | ".join(
                f"{rows[(t, o, s, n)]['regret']:.2f} ± {rows[(t, o, s, n)]['se']:.2f}" for n in names)
                + f" | {halves[(t, o, s)]:.2f} |")
    every = [(t, o, s) for t in TASKS for o, s in RECIPES]
    summary = {
        "mean regret": lambda n: f"{np.mean([rows[(*c, n)]['regret'] for c in every]):.2f}",
        "worst regret": lambda n: f"{max(rows[(*c, n)]['regret'] for c in every):.2f}",
        "cases above 0.5": lambda n: str(sum(rows[(*c, n)]["regret"] > 0.5 for c in every)),
        "within 2x": lambda n: f"{np.mean([rows[(*c, n)]['within'] for c in every]) / len(SEEDS):.0%}",
        "runs per choice": lambda n: f"{runs[n]:.1f}",
    }
    half_cells = {"mean regret": f"{np.mean(list(halves.values())):.2f}", "worst regret": f"{max(halves.values()):.2f}",
                  "cases above 0.5": str(sum(v > 0.5 for v in halves.values())), "within 2x": "",
                  "runs per choice": f"{runs[GRID_ONE_SEED] * len(SEEDS) // 2:.0f}"}
    for label, cell in summary.items():
        print(f"| {label} | | | " + " | ".join(cell(n) for n in names) + f" | {half_cells[label]} |")
    print("\ngrid, half the seeds: the grid's best mean accuracy over five seeds, scored on the other five, averaged"
          f" over all {math.comb(len(SEEDS), len(SEEDS) // 2)} splits (no standard error: the splits share seeds)")
