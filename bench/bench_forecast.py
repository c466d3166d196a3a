"""Does the loss-curve law hold at small scale?  Multi-epoch CNN training on the reference runner (issue 18).

The grid: the digits CNN (batch 64, SGD with momentum 0.9, peak rate 0.05, no weight decay) for EPOCHS epochs
(920 steps) under 7 schedules of one budget, each with 3 seeds, on two tasks:

- ``digits``: the clean task.  The training loss goes to ~1e-3 (the net interpolates its 1438 examples); the
  validation loss flattens at ~0.025.
- ``noisy``: 20 % of the training labels flipped (``label_noise=0.2``; validation labels stay clean).  The net
  memorises the wrong labels slowly, and the validation loss rises again while it does: overfitting.

Fit on one run (each of: the 20/30-epoch multistep, the 1-sqrt wsd, the cosine) with each law (auto, the
multi-power law, Tissue's, the power law in steps, and the area law of :mod:`lrscope.analysis.forecast.area`),
predict the 6 others at their own logged steps, for the training loss (the step records; errors measured on epoch
means of the per-step losses against the epoch means of the per-step predictions) and for the validation loss
(the epoch records: the loss after step S's update is the law's row S + 1).  Reported per task, loss, fit run and
law, mean over seeds: the mean and worst relative error over the target rows after each target's warm-up, the mean
|log ratio| and the mean absolute error in nats (honest where the loss is near 0), the mean relative error of the
final loss, the Spearman correlation of predicted and logged final loss over the 7 schedules (the fitted run
included, at its fitted value); for reference the same errors between two seeds of one schedule (split, weights and
batch order all change) and the row-to-row noise of the logs.  Then where the law fails: the final losses target by
target, the validation loss over the last quarter (rising in the log, falling in the law?), 1cycle's warm-up, and
an overfitting term tried on the validation loss (D * S1 added to the annealing laws; not adopted).

Training writes each run's records, compacted (no checkpoints), to bench/results/forecast-small/; a rerun reuses
them (``--retrain`` trains again).  About 5 s a run on one core, 42 runs.

    .venv/bin/python bench/bench_forecast.py [--retrain] [--only train,table,targets,tail,warmup,rise]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # the fits are single-threaded NumPy; keep BLAS off the other core

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from lrscope.analysis.forecast import Curve, fit, rates_from_schedule, warmup_end  # noqa: E402
from lrscope.analysis.forecast.choose import make_law  # noqa: E402
from lrscope.analysis.forecast.fit import fit_law  # noqa: E402
from lrscope.analysis.forecast.laws import Law  # noqa: E402
from lrscope.atomic import write_text  # noqa: E402
from lrscope.errors import UserError  # noqa: E402
from lrscope.schedules import parse_schedule  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / "results" / "forecast-small"
SCHEMA = "lrscope.bench-forecast-small/1"
EPOCHS = 40
STEPS_PER_EPOCH = 23  # digits: 1438 training examples in batches of 64
TOTAL = EPOCHS * STEPS_PER_EPOCH
PEAK = 0.05
SCHEDULES = {
    "constant": f"constant({PEAK})",
    "step-20-30": f"multistep({PEAK}, milestones=[{20 * STEPS_PER_EPOCH}, {30 * STEPS_PER_EPOCH}])",
    "step-30-36": f"multistep({PEAK}, milestones=[{30 * STEPS_PER_EPOCH}, {36 * STEPS_PER_EPOCH}])",
    "cosine": f"cosine({PEAK}, total={TOTAL})",
    "wsd-1sqrt": f"wsd({PEAK}, total={TOTAL}, decay_frac=0.2, decay='1-sqrt')",
    "wsd-linear": f"wsd({PEAK}, total={TOTAL}, decay_frac=0.2)",
    "1cycle": f"onecycle({PEAK}, total={TOTAL})",
}
TASKS = {"digits": 0.0, "noisy": 0.2}  # label noise
SEEDS = (0, 1, 2)
FIT_ON = ("step-20-30", "wsd-1sqrt", "cosine")
LAWS = ("auto", "mpl", "tissue", "power", "area")
ANNEALING_LAWS = ("auto", "mpl", "tissue")
LOSSES = ("train", "val")


def cache_file(task: str, seed: int, name: str) -> Path:
    return CACHE / f"{task}-seed{seed}-{name}.json"


def short(x: float) -> float:
    return float(f"{x:.7g}")  # the losses are float32: 7 digits keep all they hold


def train_run(task: str, seed: int, name: str) -> dict:
    """Train one run into a temporary directory and keep its records, compacted."""
    from lrscope.logs.rundir import read_metrics
    from lrscope.train.config import TrainConfig
    from lrscope.train.loop import train

    config = TrainConfig(data="digits", model="cnn", schedule=SCHEDULES[name], epochs=EPOCHS, batch_size=64,
                         momentum=0.9, seed=seed, step_unit="step", label_noise=TASKS[task], keep=1, threads=1)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        start = time.perf_counter()
        train(config, out)
        seconds = time.perf_counter() - start
        info = json.loads((out / "config.json").read_text())["data_info"]
        steps = sorted(read_metrics(out, "step"), key=lambda r: r["step"])
        epochs = sorted(read_metrics(out, "epoch"), key=lambda r: r["epoch"])
    if info["steps_per_epoch"] != STEPS_PER_EPOCH or len(steps) != TOTAL:
        raise SystemExit(f"{name}: {info['steps_per_epoch']} steps per epoch and {len(steps)} steps; the bench "
                         f"assumes {STEPS_PER_EPOCH} and {TOTAL}")
    rates = rates_from_schedule(parse_schedule(SCHEDULES[name]), TOTAL)
    logged = np.array([r["lr"] for r in steps])
    if not np.allclose(logged, rates, rtol=1e-9, atol=0.0):
        raise SystemExit(f"{name}: the logged rates differ from the schedule's (the step convention changed?)")
    return {"schema": SCHEMA, "task": task, "seed": seed, "name": name, "schedule": SCHEDULES[name],
            "label_noise": TASKS[task], "epochs": EPOCHS, "steps_per_epoch": STEPS_PER_EPOCH,
            "train_seconds": round(seconds, 1),
            "step_loss": [short(r["loss"]) for r in steps],
            "epoch_step": [r["step"] for r in epochs],
            "train_loss": [short(r["train_loss"]) for r in epochs],
            "val_loss": [short(r["val_loss"]) for r in epochs],
            "val_acc": [short(r["val_acc"]) for r in epochs]}


def load_runs(retrain: bool = False, quiet: bool = False) -> dict[tuple[str, int, str], dict]:
    """Every run of the grid, trained where the cache lacks it (or all, with ``retrain``)."""
    runs = {}
    for task in TASKS:
        for seed in SEEDS:
            for name in SCHEDULES:
                path = cache_file(task, seed, name)
                doc = None
                if path.is_file() and not retrain:
                    doc = json.loads(path.read_text())
                    if doc.get("schema") != SCHEMA or doc.get("schedule") != SCHEDULES[name]:
                        doc = None
                if doc is None:
                    doc = train_run(task, seed, name)
                    CACHE.mkdir(parents=True, exist_ok=True)
                    write_text(path, json.dumps(doc, separators=(",", ":")) + "\n")
                    if not quiet:
                        print(f"trained {task} seed {seed} {name} in {doc['train_seconds']} s", file=sys.stderr)
                runs[task, seed, name] = doc
    return runs


def rates_of(name: str, steps: int) -> np.ndarray:
    return rates_from_schedule(parse_schedule(SCHEDULES[name]), steps)


def curve_of(doc: dict, loss: str) -> Curve:
    """The run as the laws see it: every step's batch loss (train), or the loss after each epoch (val: measured
    after step S's update, so it is the law's row S + 1)."""
    if loss == "train":
        return Curve(np.arange(1, TOTAL + 1), doc["step_loss"], rates_of(doc["name"], TOTAL), name=doc["name"])
    step = np.asarray(doc["epoch_step"]) + 1
    return Curve(step, doc["val_loss"], rates_of(doc["name"], int(step[-1])), name=doc["name"])


@dataclass
class Compared:
    """A target's logged and predicted losses at the rows compared (after its warm-up), and the warm-up rows."""

    logged: np.ndarray
    predicted: np.ndarray
    warm_logged: np.ndarray
    warm_predicted: np.ndarray


def epoch_means(values: np.ndarray) -> np.ndarray:
    return values.reshape(EPOCHS, STEPS_PER_EPOCH).mean(axis=1)


def compare(predict, curve: Curve, loss: str) -> Compared:
    """``predict(rates, steps, warmup)`` against ``curve``: per-epoch means of the step losses for the training
    loss (an epoch counts as after the warm-up when all its steps are), the rows themselves for validation."""
    warm = curve.warmup
    predicted = predict(curve.rates, curve.step, warm)
    if loss == "train":
        after = epoch_means(curve.step.astype(float)) - (STEPS_PER_EPOCH - 1) / 2 > warm
        logged, predicted = epoch_means(curve.loss), epoch_means(predicted)
    else:
        after = curve.step > warm
        logged = curve.loss
    return Compared(logged[after], predicted[after], logged[~after], predicted[~after])


def errors(c: Compared) -> dict[str, np.ndarray]:
    p = np.maximum(c.predicted, 1e-12)
    return {"rel": np.abs(p - c.logged) / c.logged, "log": np.abs(np.log(p / c.logged)),
            "abs": np.abs(p - c.logged)}


def summarise(compared: dict[str, Compared], finals: dict[str, tuple[float, float]]) -> dict[str, float]:
    """Mean and worst relative error, mean log and absolute error over every target row; Spearman of finals."""
    parts = [errors(c) for c in compared.values()]
    out = {key: np.concatenate([p[key] for p in parts]) for key in ("rel", "log", "abs")}
    predicted, logged = zip(*finals.values(), strict=True)
    # a schedule-blind law predicts one final loss for every run of the budget: no ranking at all
    rho = spearmanr(predicted, logged).statistic if np.ptp(predicted) > 0 else float("nan")
    final = np.mean([abs(c.predicted[-1] / c.logged[-1] - 1) for c in compared.values()])
    return {"mean": float(out["rel"].mean()), "worst": float(out["rel"].max()), "log": float(out["log"].mean()),
            "abs": float(out["abs"].mean()), "final": float(final), "rho": float(rho)}


@dataclass
class Trial:
    """One fit (task, seed, loss, fit run, law) and what it predicts for every run of the grid."""

    task: str
    seed: int
    loss: str
    source: str
    law: str
    chosen: str
    fit_error: float
    compared: dict[str, Compared]  # every run, the fitted one included
    seconds: float

    def scores(self) -> dict[str, float]:
        targets = {n: c for n, c in self.compared.items() if n != self.source}
        finals = {n: (float(c.predicted[-1]), float(c.logged[-1])) for n, c in self.compared.items()}
        return summarise(targets, finals)


def run_trial(runs, task: str, seed: int, loss: str, source: str, law: str) -> Trial | str:
    curves = {name: curve_of(runs[task, seed, name], loss) for name in SCHEDULES}
    start = time.perf_counter()
    try:
        fitted = fit([curves[source]], law, loss_kind=loss)
    except UserError as exc:
        return f"refused: {exc}"
    seconds = time.perf_counter() - start
    compared = {name: compare(fitted.predict, c, loss) for name, c in curves.items()}
    return Trial(task, seed, loss, source, law, fitted.law, fitted.mean_rel_error, compared, seconds)


def seed_floor(runs, task: str, loss: str) -> dict[str, float]:
    """The errors of one seed's run read as the prediction of another seed's run of the same schedule (every
    ordered pair of seeds); the finals for the rank correlation: the first seed's against the second's."""
    compared, finals = {}, {}
    for name in SCHEDULES:
        for a in SEEDS:
            for b in SEEDS:
                if a != b:
                    target, other = curve_of(runs[task, a, name], loss), curve_of(runs[task, b, name], loss)
                    compared[name, a, b] = compare(lambda r, s, w, o=other: o.loss, target, loss)
        pair = compared[name, SEEDS[0], SEEDS[1]]
        finals[name] = (float(pair.predicted[-1]), float(pair.logged[-1]))
    return summarise(compared, finals)


def row_noise(runs, task: str, loss: str) -> float:
    """The row-to-row noise of the compared rows, as a relative error: the robust scatter of consecutive
    differences of log loss over sqrt(2), the median over runs (the part of a row's error no smooth law can
    remove)."""
    noise = []
    for (t, _, _), doc in runs.items():
        if t == task:
            c = compare(lambda r, s, w: np.ones(s.size), curve_of(doc, loss), loss)
            noise.append(1.4826 * np.median(np.abs(np.diff(np.log(c.logged)))) / np.sqrt(2))
    return float(np.median(noise))


def mean_scores(trials: list[Trial]) -> dict[str, float]:
    scores = [t.scores() for t in trials]
    out = {key: float(np.mean([s[key] for s in scores])) for key in ("mean", "log", "abs", "final", "rho")}
    out["worst"] = float(max(s["worst"] for s in scores))
    out["rho_min"] = float(min(s["rho"] for s in scores))
    return out


HEADER = (f"{'task':7} {'loss':5} {'fit on':11} {'law':7} {'mean %':>8} {'worst %':>9} {'|log|':>6} "
          f"{'abs nats':>9} {'final %':>8} {'rho':>5} {'rho min':>7} {'fit %':>6}  chosen")


def row(task, loss, source, law, s, fit_error=float("nan"), chosen="") -> str:
    return (f"{task:7} {loss:5} {source:11} {law:7} {100 * s['mean']:8.1f} {100 * s['worst']:9.0f} "
            f"{s['log']:6.3f} {s['abs']:9.4f} {100 * s['final']:8.1f} {s['rho']:5.2f} "
            f"{s.get('rho_min', float('nan')):7.2f} {100 * fit_error:6.1f}  {chosen}")


def table(runs, laws=LAWS) -> dict:
    print(f"\n## fit on one run, predict the other 6 (mean over seeds {', '.join(map(str, SEEDS))}; worst and "
          f"rho min over seeds; fit % = the law's error on its own run)")
    print(HEADER)
    all_trials = {}
    for task in TASKS:
        for loss in LOSSES:
            print(row(task, loss, "(seeds)", "-", seed_floor(runs, task, loss)))
            print(f"{task:7} {loss:5} {'(noise)':11} {'-':7} {100 * row_noise(runs, task, loss):8.1f}")
            for source in FIT_ON:
                for law in laws:
                    trials = [run_trial(runs, task, seed, loss, source, law) for seed in SEEDS]
                    refused = [t for t in trials if isinstance(t, str)]
                    if refused:
                        print(f"{task:7} {loss:5} {source:11} {law:7} {refused[0]}")
                        continue
                    all_trials[task, loss, source, law] = trials
                    chosen = ",".join(sorted({t.chosen for t in trials})) if law == "auto" else ""
                    print(row(task, loss, source, law, mean_scores(trials),
                              float(np.mean([t.fit_error for t in trials])), chosen))
    return all_trials


def targets(all_trials, source: str = "step-20-30", law: str = "auto", seed: int = SEEDS[0]) -> None:
    tail = EPOCHS // 4
    print(f"\n## target by target: fit on {source} ({law}, seed {seed}); final loss logged and predicted, and the "
          f"change over the last {tail} epochs (logged / predicted)")
    print(f"{'task':7} {'loss':5} {'target':11} {'final':>9} {'predicted':>9} {'error %':>8} {'min (epoch)':>15} "
          f"{'last-' + str(tail) + ' change':>24}")
    for task in TASKS:
        for loss in LOSSES:
            trial = next(t for t in all_trials[task, loss, source, law] if t.seed == seed)
            for name, c in trial.compared.items():
                first = EPOCHS - c.logged.size + 1  # epoch of the first compared row
                low = int(np.argmin(c.logged))
                d_log = c.logged[-1] - c.logged[-tail - 1]
                d_pred = c.predicted[-1] - c.predicted[-tail - 1]
                mark = "  <- rises, law falls" if d_log > 0 > d_pred else ""
                mark = "  (fitted)" if name == source else mark
                print(f"{task:7} {loss:5} {name:11} {c.logged[-1]:9.4g} {c.predicted[-1]:9.4g} "
                      f"{100 * (c.predicted[-1] / c.logged[-1] - 1):+8.0f} {c.logged[low]:9.4g} ({low + first:2d}) "
                      f"{d_log:+11.4f} / {d_pred:+9.4f}{mark}")


def tails(all_trials, laws=("auto", "area")) -> dict:
    """How often the validation loss rises over the last quarter (no law here can predict a rise under a rate
    that never increases: every term falls as the area grows and the rate falls), and by how much."""
    tail = EPOCHS // 4
    print(f"\n## validation loss over the last {tail} epochs (all seeds and fit runs, the fitted run left out): "
          f"how often it rises, and the mean change where it does, logged / predicted")
    counts = {}
    for task in TASKS:
        for law in laws:
            changes = []
            for source in FIT_ON:
                for trial in all_trials.get((task, "val", source, law), []):
                    changes += [(c.logged[-1] - c.logged[-tail - 1], c.predicted[-1] - c.predicted[-tail - 1])
                                for name, c in trial.compared.items() if name != source]
            rising = [(d, p) for d, p in changes if d > 0]
            wrong = sum(p < 0 for _, p in rising)
            counts[task, law] = (wrong, len(rising))
            logged = np.mean([d for d, _ in rising]) if rising else float("nan")
            predicted = np.mean([p for _, p in rising]) if rising else float("nan")
            print(f"{task:7} {law:7} rises in {len(rising)} of {len(changes)} target runs, by {logged:+.4f} nats "
                  f"on average; the law predicts {predicted:+.4f} there (a fall in {wrong} of them)")
    return counts


def warmup_rows(all_trials, laws=LAWS) -> None:
    print("\n## 1cycle: its warm-up (rows before the peak rate, not fitted by any law) against the rows after it "
          "(mean relative error %, mean over seeds and fit runs)")
    warm = warmup_end(rates_of("1cycle", TOTAL))
    print(f"(the peak is reached at step {warm}, epoch {warm / STEPS_PER_EPOCH:.1f})")
    print(f"{'task':7} {'loss':5} {'law':7} {'warm-up %':>10} {'after %':>8}")
    for task in TASKS:
        for loss in LOSSES:
            for law in laws:
                inside, after = [], []
                for source in FIT_ON:
                    for trial in all_trials.get((task, loss, source, law), []):
                        c = trial.compared["1cycle"]
                        inside.append(np.mean(np.abs(c.warm_predicted / c.warm_logged - 1)))
                        after.append(np.mean(np.abs(c.predicted / c.logged - 1)))
                if inside:
                    print(f"{task:7} {loss:5} {law:7} {100 * np.mean(inside):10.1f} {100 * np.mean(after):8.1f}")


class WithRise(Law):
    """An experiment, not a law of the package: ``base`` plus D * S1, a validation loss that rises with the area
    under the rate as the net memorises its training set (D >= 0, fitted with the base law's linear constants)."""

    def __init__(self, base: Law):
        self.base = base
        self.name, self.title = f"{base.name}+rise", f"{base.title} plus D * S1"
        self.names, self.linear = (*base.names, "D"), (*base.linear, len(base.names))

    def bounds(self, y_max):
        lower, upper = self.base.bounds(y_max)
        return np.append(lower, 0.0), np.append(upper, 1e3 * y_max)

    def features(self, run):
        return self.base.features(run), run.s1

    def value(self, theta, f):
        return self.base.value(theta[:-1], f[0]) + theta[-1] * f[1]

    def jacobian(self, theta, f):
        return self.value_and_jacobian(theta, f)[1]

    def value_and_jacobian(self, theta, f):
        value, J = self.base.value_and_jacobian(theta[:-1], f[0])
        return value + theta[-1] * f[1], np.column_stack([J, f[1]])

    def grid(self):
        return self.base.grid()

    def basis(self, point, f):
        return np.column_stack([self.base.basis(point, f[0]), f[1]])

    def assemble(self, linear, point):
        return np.append(self.base.assemble(linear[:-1], point), linear[-1])

    def user_params(self, theta, scale):
        return {**self.base.user_params(theta[:-1], scale), "D (fit units)": float(theta[-1])}

    def release(self):
        self.base.release()


def rise(runs, all_trials) -> None:
    print("\n## an overfitting term, tried: the annealing laws plus D * S1 on the validation loss (not adopted: "
          "see RESULTS.md); the plain law's row above each")
    print(HEADER)
    for task in TASKS:
        for source in FIT_ON:
            for name in ("mpl", "tissue"):
                plain = all_trials[task, "val", source, name]
                print(row(task, "val", source, name, mean_scores(plain), float(np.mean([t.fit_error for t in plain]))))
                trials = []
                for seed in SEEDS:
                    curves = {n: curve_of(runs[task, seed, n], "val") for n in SCHEDULES}
                    law = WithRise(make_law(name, [curves[source]]))
                    fitted = fit_law([curves[source]], law, loss_kind="val")
                    compared = {n: compare(fitted.predict, c, "val") for n, c in curves.items()}
                    trials.append(Trial(task, seed, "val", source, law.name, law.name, fitted.mean_rel_error,
                                        compared, 0.0))
                print(row(task, "val", source, f"{name}+D", mean_scores(trials),
                          float(np.mean([t.fit_error for t in trials]))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--retrain", action="store_true", help="train every run again (replaces the cache)")
    parser.add_argument("--only", default="train,table,targets,tail,warmup,rise")
    args = parser.parse_args()
    parts = args.only.split(",")
    runs = load_runs(retrain=args.retrain)
    if parts == ["train"]:
        return
    all_trials = table(runs)
    if "targets" in parts:
        targets(all_trials)
    counts = tails(all_trials) if "tail" in parts else {}
    if "warmup" in parts:
        warmup_rows(all_trials)
    if "rise" in parts:
        rise(runs, all_trials)
    summary = []
    for task in TASKS:
        for loss in LOSSES:
            scored = {(source, law): mean_scores(t) for (ta, lo, source, law), t in all_trials.items()
                      if (ta, lo) == (task, loss)}
            best = {law: min((s["mean"], s["rho"]) for (_, la), s in scored.items() if la == law) for law in LAWS}
            annealing = min(best[law] for law in ANNEALING_LAWS)
            area, power = best["area"], best["power"]
            summary.append(f"{task} {loss} {100 * annealing[0]:.0f} % (rho {annealing[1]:.2f}) / area "
                           f"{100 * area[0]:.0f} % ({area[1]:.2f}) / power {100 * power[0]:.0f} %")
    wrong = sum(w for (_, law), (w, _) in counts.items() if law == "auto")
    rises = sum(r for (_, law), (_, r) in counts.items() if law == "auto")
    print(f"\nsummary (best fit run, mean relative error on the other 6 schedules; annealing laws / area law / power "
          f"in steps): {'; '.join(summary)}; validation loss rising over the last quarter while auto predicts a "
          f"fall: {wrong} of {rises} target runs")


if __name__ == "__main__":
    main()
