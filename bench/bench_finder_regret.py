"""The LR finder judged by what it is for: regret of training at each rule's suggestion against a grid search.

Run (the project's own environment is enough; every rule is applied to the same recorded curves):

    .venv/bin/python bench/bench_finder_regret.py            # train what the cache lacks, print the tables
    .venv/bin/python bench/bench_finder_regret.py --jobs 2   # two worker processes (one torch thread each)
    .venv/bin/python bench/bench_finder_regret.py --cached   # tables from the cache only; never trains
    .venv/bin/python bench/bench_finder_regret.py --cached --variants   # and the rule variants tried

Tasks (all generated or bundled, nothing downloaded; each small enough for a CPU):

- ``digits-cnn``: scikit-learn's 8x8 digits (1437 train / 360 val), lrscope's reference ``cnn``, batch 64;
- ``synthetic-mlp``: lrscope's Gaussian clusters (8000 / 2000, 32 dims, 10 classes), its ``mlp``, batch 128;
- ``shapes-bncnn``: a generated 16x16 image task (10 random smooth textures, shifted, rescaled and noised;
  4000 / 2000) and a three-layer conv net with BatchNorm, batch 128;
- ``digits-resnet20``: the digits with lrscope's ``resnet20`` (BatchNorm, residual), batch 64;
- ``synthetic-bnmlp``: the Gaussian clusters with the ``mlp`` plus BatchNorm after each hidden layer, batch 128.
  This task was added after the BatchNorm rule was chosen on the other four, to test it on data it had not seen.

Held-out tasks (``HELD_OUT``), added after the confirm rules (the extension past an end, the refined rate) were
chosen on the five above, and reported in their own tables, so the figures the rules were chosen on stay
apart from the test of them:

- ``digits-mlp``: the digits with lrscope's ``mlp``, batch 64, 8 epochs;
- ``shapes-cnn``: the shapes task with the three-layer conv net without BatchNorm, batch 128, 6 epochs;
- ``digits-vit`` (added later, with the next one, for normalisations no other task has): the digits with a
  small vision transformer (2x2 patches, width 32, 2 pre-norm encoder layers of 2 heads, LayerNorm, mean pool),
  batch 64, 8 epochs;
- ``synthetic-lnmlp``: the Gaussian clusters with the ``mlp`` plus LayerNorm after each hidden layer, batch 128,
  6 epochs.

Recipes: {SGD momentum 0.9 + weight decay 5e-4, AdamW weight decay 0.05} x {constant rate, 1cycle}
(lrscope's ``onecycle(max_lr, total)``: 30 % cosine rise from max_lr/25, cosine fall to max_lr/2.5e5, momentum
or beta1 cycled 0.95 -> 0.85 -> 0.95), a fixed number of epochs per task.

Grid: peak rates ``centre * sqrt(3)**k``, at least 9 values, widened until the seed-mean best accuracy lies
two points inside the grid; seeds 0-9 (model init and data order), the same seeds for the finder sweeps
and the trainings at the suggestions (paired).

Finder: one sweep per (task, optimizer, seed) with lrscope.find_lr, 1e-7 .. 10 over 100 steps, recorded with
a loose divergence stop (100x); each rule then reads the curve its own tool would have recorded, cut at that
tool's divergence stop:

- lrscope: ``suggest`` on the curve cut where the debiased EMA (0.98) passes 4x its best (find_lr's default),
  told whether the model has BatchNorm as find_lr would see it; the suggestion for the constant recipe, the
  range's upper bound (what ``auto`` fills in) for 1cycle's max_lr;
- lrscope before: the rule lrscope used before this bench (``combined``, the geometric mean of the steepest
  slope and the midpoint crossing, and the range's top where 90 % of the drop is done);
- torch-lr-finder: EMA 0.05 without bias correction, stop at 5x best, ``argmin(np.gradient(loss[10:-5]))``;
- Lightning: debiased EMA 0.98, stop at 4x, ``argmin(gradient(loss[10:-1], lr))`` (against linear lr);
- fastai: debiased EMA 0.98, stop at 4x, skip 10 first / 5 last points; valley, steep, minimum/10, slide.

Regret (per task and recipe): the grid's best seed-mean validation accuracy minus the seed-mean accuracy of the
trainings at the rule's per-seed suggestions (points); loss regret likewise, relative to the best seed-mean
validation loss.  "Within 2x": the suggestion lies within a factor 2 of the grid optimum (the vertex of a
parabola through the best seed-mean accuracy and its two neighbours, in log lr).  A training whose loss is not
finite counts at chance accuracy and at ln(classes) loss.  The last two columns are no rules but grid searches,
to measure the rules against.  "grid, one seed": the grid rate with the lowest validation loss on the previous
seed alone, judged on the next, as the confirmed rates are: a search with confirm's data (one seed, chosen by
validation loss) and about twice its runs.  "grid, other seeds": for each seed, the grid rate that is best on
the other nine, judged on that seed: the floor of what this many seeds can resolve.  Each regret carries its
standard error: the standard deviation of the paired per-seed differences (the grid-best rate's training
minus the suggestion's) over sqrt(seeds).  It leaves out the upward bias of taking the best of the grid's
noisy means; the one-seed grid search shows how large picking on noisy runs can make that bias.

``--variants`` adds: the rule variants tried, trained at their own suggestions; where each grid optimum lies
against the turn; the gradient noise scale at initialisation; the training-set and validation loss at the
optimum and at lrscope's suggestion, before and after a settle at a tenth of the rate (``fit_gap``: overfitting
against the noise floor); and two rules built on short one-epoch trials at six rates around the turn
(``trial_picks``, cached in trials.jsonl), scored from the grid; and the ways of choosing among confirm's runs
screened before ConfirmResult.refined was adopted (``confirm_choices``), each trained on the next seed; and
ways that train more runs on the choosing seed (``second_stage_choices``: the refined rate trained and kept only
if it beats the best run, or two runs a quarter decade either side of the best), tried and not adopted;
and confirm's runs repeated on two choosing seeds, the refined rate taken from their mean validation loss
(``seeded_confirm``, the seed before the choosing one, never the next, which scores the choice), beside a
grid searched on as many seeds, with the paired gain over one seed and a signed-rank test: tried, not adopted;
and per case where the grid's optimum lies against lrscope's sweep rate, and the upward bias of scoring against
the best of the grid's noisy seed means (a seed bootstrap: ``print_optimum_and_bias``).

After the held-out tables, two summaries: every case (development and held-out) together, and the tasks
added last (``ADDED_LAST``) on their own: per column the mean and worst regret, the share within 2x and the
cases above 0.5 by two standard errors.

The 1 %-band: on the seed-mean validation loss against log lr (linearly interpolated), the rates whose loss
is within 1 % (relative) of the best; its edges are printed in decades around the loss optimum.

The code is in bench/finder_regret/, a module per part: ``tasks`` (data, models, recipes, seeds),
``training`` (one training, one sweep), ``cache``, ``rules`` (every tool's rule), ``grid`` (the grid and the
grid searches measured against), ``confirm`` (confirm_lr's runs), ``report`` (the regret table), and for
``--variants`` ``variants``, ``trials``, ``confirm_variants`` and ``confirm_seeds``.

Results are cached in bench/results/finder-regret/ (sweeps.json, trainings.jsonl.gz): a rerun trains only what is
missing, so a changed rule costs only the trainings at its new suggestions.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_finder (fastai's rules) and finder_regret/
from finder_regret.cache import CACHE, ensure_sweeps, ensure_trainings, load_cache  # noqa: E402
from finder_regret.confirm import confirm_candidates, confirmed_rates  # noqa: E402
from finder_regret.confirm_seeds import seeded_confirm  # noqa: E402
from finder_regret.confirm_variants import confirm_choices, second_stage_choices  # noqa: E402
from finder_regret.grid import settle_grid  # noqa: E402
from finder_regret.report import overall, print_optimum_and_bias, report  # noqa: E402
from finder_regret.rules import RULE_NAMES, rate_of, rule_values  # noqa: E402
from finder_regret.tasks import ADDED_LAST, EVERY_TASK, HELD_OUT, RECIPES, SEEDS, TASKS, task_batchnorm  # noqa: E402
from finder_regret.variants import variants  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--cached", action="store_true", help="print from the cache; train nothing")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    parser.add_argument("--variants", action="store_true",
                        help="also train and score the lrscope rule variants that chose the rule")
    args = parser.parse_args(argv)
    CACHE.mkdir(parents=True, exist_ok=True)
    sweeps, trainings = load_cache()
    ensure_sweeps(sweeps, args.jobs, args.cached)
    bounds = settle_grid(trainings, args.jobs, args.cached)

    values = {k: rule_values(v, task_batchnorm(k.split("|")[0])) for k, v in sweeps.items()}
    jobs = []
    for t in EVERY_TASK:
        for o, s in RECIPES:
            for seed in SEEDS:
                for rule in RULE_NAMES:
                    jobs.append((t, o, s, seed, rate_of(values, t, o, s, seed, rule)))
    ensure_trainings(jobs, trainings, args.jobs, args.cached, "suggestions")
    candidates = confirm_candidates(values, trainings, args.jobs, args.cached)
    confirmed = confirmed_rates(candidates, trainings, args.jobs, args.cached)

    summary = report(trainings, bounds, values, confirmed, TASKS)
    print(f"\n\n# Held-out tasks ({', '.join(HELD_OUT)}): added after the confirm rules were chosen")
    summary["held_out"] = report(trainings, bounds, values, confirmed, HELD_OUT)
    summary["all"] = overall(summary, summary["held_out"])
    summary["added_last"] = overall(summary["held_out"], tasks=ADDED_LAST, title=f"the held-out tasks added last: "
                                    f"{', '.join(ADDED_LAST)}")
    if args.variants:
        variants(sweeps, trainings, bounds, args.jobs, args.cached)
        confirm_choices(candidates, trainings, bounds, args.jobs, args.cached)
        second_stage_choices(candidates, trainings, bounds, args.jobs, args.cached)
        seeded_confirm(values, candidates, confirmed, trainings, bounds, args.jobs, args.cached)
        print_optimum_and_bias(trainings, bounds, values)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))



if __name__ == "__main__":
    main()
