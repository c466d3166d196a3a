"""``--variants``: confirm_lr's runs repeated on more than one seed, the choice made on the seeds' mean validation
loss (tried, not adopted).  Where one run's accuracy moves by tens of points from seed to seed (the ViT under
SGD, the BatchNorm conv net at a constant rate), the rate one seed's runs choose is partly that seed's luck,
and the grid search on the other nine seeds loses almost nothing there; the question was whether a second
choosing seed buys most of that.  Measured: it does not (bench/RESULTS.md)."""

from __future__ import annotations

import math

import numpy as np

from .confirm import candidates_on_seeds, on_next_seed
from .grid import case_rates, choosing_seeds, grid_pick_on_seeds, mean_losses
from .report import misses, score
from .rules import REFINED
from .tasks import EVERY_TASK, RECIPES, SEEDS, key, rounded


def seeded_confirm(values, candidates, confirmed, trainings, bounds, workers, cached, counts=(2,)):
    """Regret of ConfirmResult.refined chosen on the mean over 1 and ``counts`` seeds, judged on the next
    seed, on every task; beside it the grid searched on as many seeds (lowest mean validation loss)."""
    from lrscope.analysis.finder_confirm import refine_rate

    chosen = {}
    runs = {"refined, 1 seed": np.mean([len(r) for r in candidates.values()])}
    for count in counts:
        seeded = candidates_on_seeds(values, trainings, workers, cached, count)
        name = f"refined, {count} seeds"
        chosen[name] = {case: rounded(refine_rate(rates, mean_losses(trainings, *case[:3], rates,
                                                                     choosing_seeds(case[3], count))))
                        for case, rates in seeded.items()}
        runs[name] = count * np.mean([len(r) for r in seeded.values()])
    scored = {"refined, 1 seed": confirmed[REFINED],
              **on_next_seed(chosen, trainings, workers, cached,
                             "refined rates chosen on several seeds, each trained on the next seed")}
    for count in (1, *counts):
        name = f"grid, {count} seed{'s' if count > 1 else ''}"
        scored[name] = {(t, o, s, seed): grid_pick_on_seeds(trainings, t, o, s, case_rates(bounds, t, o, s), seed,
                                                            count)
                        for t in EVERY_TASK for o, s in RECIPES for seed in SEEDS}
        runs[name] = count * np.mean([len(case_rates(bounds, t, o, s)) for t in EVERY_TASK for o, s in RECIPES])
    names = list(scored)
    rows = {(t, o, s, n): score(trainings, bounds, t, o, s, lambda seed, p=scored[n], c=(t, o, s): p[(*c, seed)])
            for t in EVERY_TASK for o, s in RECIPES for n in names}
    print("\n## Confirm on more than one seed (tried): the refined rate chosen on the choosing seeds' mean "
          "validation loss, judged on the next seed; beside it the grid searched on as many seeds\n")
    print("| task | optimizer | schedule | " + " | ".join(names) + " |")
    print("|" + "---|" * (3 + len(names)))
    every = [(t, o, s) for t in EVERY_TASK for o, s in RECIPES]
    for c in every:
        print(f"| {' | '.join(c)} | " + " | ".join(
            f"{rows[(*c, n)]['regret']:.2f} ± {rows[(*c, n)]['se']:.2f}" for n in names) + " |")
    summary = {
        "mean regret": lambda n: f"{np.mean([rows[(*c, n)]['regret'] for c in every]):.2f}",
        "worst regret": lambda n: f"{max(rows[(*c, n)]['regret'] for c in every):.2f}",
        "cases above 0.5": lambda n: str(sum(rows[(*c, n)]["regret"] > 0.5 for c in every)),
        "cases above 0.5 by two standard errors": lambda n: str(sum(misses(rows[(*c, n)]) for c in every)),
        "within 2x": lambda n: f"{np.mean([rows[(*c, n)]['within'] for c in every]) / len(SEEDS):.0%}",
    }
    for label, cell in summary.items():
        print(f"| {label} | | | " + " | ".join(cell(n) for n in names) + " |")
    print("| runs per choice | | | " + " | ".join(f"{runs[n]:.1f}" for n in names) + " |")
    for count in counts:
        print_paired_gain(trainings, scored["refined, 1 seed"], scored[f"refined, {count} seeds"], count)
    return rows


def print_paired_gain(trainings, one, more, count):
    """The accuracy ``count`` choosing seeds gain over one, paired (both picks trained on the same next seed):
    over every (case, seed), per case, and with the case that gains most left out; a Wilcoxon signed-rank test
    on the per-case means says whether the gain is more than the luck of which cases moved."""
    from scipy.stats import wilcoxon

    gain = {}
    for case in one:
        gain.setdefault(case[:3], []).append(trainings[key(*case, more[case])]["acc"]
                                             - trainings[key(*case, one[case])]["acc"])
    each = np.array([g for gains in gain.values() for g in gains])
    per_case = {c: float(np.mean(g)) for c, g in gain.items()}
    top = max(per_case, key=per_case.get)
    rest = [v for c, v in per_case.items() if c != top]
    means = np.array(list(per_case.values()))
    print(f"\n{count} choosing seeds against 1, paired on the next seed: {each.mean():+.2f} ± "
          f"{each.std(ddof=1) / math.sqrt(len(each)):.2f} points over {len(each)} (case, seed); per case median "
          f"{np.median(means):+.2f}, better in {int((means > 0).sum())} of {len(means)} cases, worse in "
          f"{int((means < 0).sum())}; without {' '.join(top)} ({per_case[top]:+.2f}) {np.mean(rest):+.2f}; "
          f"Wilcoxon signed-rank over the cases p = {wilcoxon(means).pvalue:.2f}")
