"""``lrscope.confirm_lr`` as the bench runs it: the candidate rates per seed, and the confirmed and refined
rates, each judged on the next seed."""

from __future__ import annotations

import numpy as np

from .cache import ensure_trainings
from .grid import choosing_seeds, mean_losses
from .rules import CONFIRMED, REFINED, rate_of
from .tasks import EVERY_TASK, HELD_OUT, RECIPES, SEEDS, TASKS, rounded


def confirm_candidates(values, trainings, workers, cached) -> dict:
    """Per (task, optimizer, schedule, seed): the rates :func:`lrscope.confirm_lr` trains around lrscope's
    rate on that seed (CONFIRM_OFFSETS, then up to CONFIRM_EXTEND more half-decades past an end while the best
    sits there), each trained, in rounds of every case's next rate as confirm_lr would ask for it."""
    candidates = candidates_on_seeds(values, trainings, workers, cached, 1)
    for label, tasks in (("tasks", TASKS), ("held-out tasks", HELD_OUT)):
        sizes = [len(rates) for case, rates in candidates.items() if case[0] in tasks]
        print(f"\nconfirm runs per (case, seed), {label}: mean {np.mean(sizes):.2f}; "
              + ", ".join(f"{n} runs: {c}" for n, c in enumerate(np.bincount(sizes)) if c)
              + f"; {sum(sizes)} in all over {len(sizes)}")
    return candidates


def candidates_on_seeds(values, trainings, workers, cached, count) -> dict:
    """:func:`confirm_candidates`' rates, each trained on ``count`` choosing seeds (the case's seed and the
    ones before it, :func:`choosing_seeds`), the steps past an end decided on their mean validation loss."""
    from lrscope.analysis.finder_confirm import CONFIRM_EXTEND, beyond_end, confirm_rates

    candidates = {(t, o, s, seed): [rounded(r) for r in confirm_rates(rate_of(values, t, o, s, seed, "lrscope"))]
                  for t in EVERY_TASK for o, s in RECIPES for seed in SEEDS}
    runs = "confirm candidates" if count == 1 else f"confirm runs on {count} seeds"

    def train(pairs, what):
        ensure_trainings([(t, o, s, other, lr) for (t, o, s, seed), lr in pairs
                          for other in choosing_seeds(seed, count)], trainings, workers, cached, what)

    train([(case, lr) for case, rates in candidates.items() for lr in rates], runs)
    for _ in range(CONFIRM_EXTEND):
        more = {case: beyond_end(rates, mean_losses(trainings, *case[:3], rates, choosing_seeds(case[3], count)))
                for case, rates in candidates.items()}
        more = {case: rounded(lr) for case, lr in more.items() if lr is not None}
        train(list(more.items()), f"{runs} past an end")
        for case, lr in more.items():
            candidates[case] = sorted([*candidates[case], lr])
    return candidates


def candidate_losses(trainings, case, rates) -> list[float]:
    """The validation loss of each candidate's training on the case's seed (nan where it diverged), as
    confirm_lr sees them."""
    return mean_losses(trainings, *case[:3], rates, [case[3]])


def on_next_seed(chosen: dict, trainings, workers, cached, what) -> dict:
    """{name: {case: rate}} chosen on each seed's runs -> the same, each seed now holding the rate its
    *previous* seed chose, trained on it: judging a choice on a seed that did not make it keeps it honest (the
    same runs would otherwise both select and score it)."""
    scored = {name: {(t, o, s, seed): picks[(t, o, s, SEEDS[i - 1])]
                     for (t, o, s, seed) in picks for i in [SEEDS.index(seed)]}
              for name, picks in chosen.items()}
    ensure_trainings([(*case, lr) for picks in scored.values() for case, lr in picks.items()], trainings,
                     workers, cached, what)
    return scored


def confirmed_rates(candidates, trainings, workers, cached) -> dict:
    """{CONFIRMED: rates, REFINED: rates} per (task, optimizer, schedule, seed), judged on the next seed: the
    best run's rate (the lowest validation loss) and ConfirmResult.refined (the loss parabola's vertex, at
    most 0.15 decade from it)."""
    from lrscope.analysis.finder_confirm import choose_confirmed, refine_rate

    chosen = {CONFIRMED: {}, REFINED: {}}
    for case, rates in candidates.items():
        losses = candidate_losses(trainings, case, rates)
        chosen[CONFIRMED][case] = rates[choose_confirmed(losses)]
        chosen[REFINED][case] = rounded(refine_rate(rates, losses))
    return on_next_seed(chosen, trainings, workers, cached, "confirmed rates, each trained on the next seed")
