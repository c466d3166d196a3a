"""The forecast core on the public schedule curves (../shared/data/schedule-curves): fit on one run (or the
paper's three), predict the others at their own logged steps, and time a fit on a 20,000-step log.

Per model (mpl-25, mpl-100), fit set and law: the mean relative error over every target row after the warm-up
(each logged row weighs the same), the worst row, the Spearman rank correlation of predicted and logged final
loss among the 24,000-step runs (constant, cosine, wsd, wsdld; the fitted run included, at its fitted value)
and among the 16,000-step two-stage runs (wsdcon_3/9/18), how often the logged loss lies in the band
(``auto`` only), and the fit's time.  Then the choices the core makes, measured: the rate rebuilt by hold,
interpolate or auto; Tissue's lambda fixed at 0.999 or fitted; auto's one-run choice (the default law, or the
lower held-out error on the run's own tail); the multi-power block size; the acceptance
forecast (wsd_20000_24000 of mpl-100 -> cosine_72000); and the timing (one thread).

    .venv/bin/python bench/bench_forecast_curves.py [--only table,how,lambda,choice,blocks,accept,timing]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # the timing target is one core; set before NumPy loads its BLAS

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from lrscope.analysis.forecast import Curve, fit, forecast, rates_from_schedule, step_rates  # noqa: E402
from lrscope.analysis.forecast.blocks import BLOCK, MAX_BLOCKS  # noqa: E402
from lrscope.analysis.forecast.fit import fit_law  # noqa: E402
from lrscope.analysis.forecast.laws import MultiPowerLaw, TissueLaw  # noqa: E402
from lrscope.errors import UserError  # noqa: E402
from lrscope.schedules import parse_schedule  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("LRSCOPE_SCHEDULE_CURVES", ROOT.parent / "shared" / "data" / "schedule-curves"))
WARMUP = 2160  # the authors' warm-up (the files start after it)
RUNS = ("constant_24000", "constant_72000", "cosine_24000", "cosine_72000", "wsd_20000_24000",
        "wsdld_20000_24000", "wsdcon_3", "wsdcon_9", "wsdcon_18")
H24 = ("constant_24000", "cosine_24000", "wsd_20000_24000", "wsdld_20000_24000")
H16 = ("wsdcon_3", "wsdcon_9", "wsdcon_18")
PAPER = ("cosine_24000", "constant_24000", "wsdcon_9")
FIT_SETS = [(r,) for r in RUNS] + [PAPER]


def load(model: str, run: str, how: str = "auto") -> Curve:
    table = np.genfromtxt(DATA / model / f"{run}.csv", delimiter=",", names=True)
    rates, _ = step_rates(table["step"], table["lr"], how=how, warmup_steps=WARMUP)
    return Curve(table["step"], table["loss"], rates, name=run, warmup_steps=WARMUP)


def scores(fitted, curves: dict[str, Curve], fitted_names: tuple[str, ...], band: bool = False) -> dict:
    """Errors over the targets (the runs not fitted), rank correlations, band coverage."""
    errors, finals, inside = [], {}, []
    for name, c in curves.items():
        keep = c.after_warmup
        if band:
            pred, low, high = forecast(fitted, c.rates, c.step[keep], c.warmup)
        else:
            pred = fitted.predict(c.rates, c.step[keep], c.warmup)
        finals[name] = pred[-1]
        if name in fitted_names:
            continue
        errors.append(np.abs(pred - c.loss[keep]) / c.loss[keep])
        if band:
            inside.append((c.loss[keep] >= low) & (c.loss[keep] <= high))
    errors = np.concatenate(errors)

    def rho(names):
        return spearmanr([finals[n] for n in names], [curves[n].loss[-1] for n in names]).statistic

    return {"mean": errors.mean(), "worst": errors.max(), "rho24": rho(H24), "rho16": rho(H16),
            "cover": np.concatenate(inside).mean() if band else float("nan")}


def run_fit(law: str, chosen: list[Curve]):
    if law == "tissue999":
        return fit_law(chosen, TissueLaw(0.999))
    if law == "tissue-fitted":
        return fit_law(chosen, TissueLaw(None))
    return fit(chosen, law)


def table(models=("mpl-25", "mpl-100"), laws=("auto", "mpl", "tissue", "power"), how: str = "auto",
          fit_sets=FIT_SETS, title: str = "one-run and 3-run fits") -> None:
    print(f"\n## {title} (rates rebuilt with how={how!r})")
    print(f"{'model':8} {'fit on':38} {'law':13} {'mean %':>7} {'worst %':>8} {'rho24':>6} {'rho16':>6} "
          f"{'band':>5} {'fit s':>6}  chosen / note")
    for model in models:
        curves = {r: load(model, r, how) for r in RUNS}
        for names in fit_sets:
            chosen = [curves[n] for n in names]
            for law in laws:
                start = time.perf_counter()
                try:
                    fitted = run_fit(law, chosen)
                except UserError as exc:
                    print(f"{model:8} {','.join(names):38} {law:13} refused: {exc}")
                    continue
                seconds = time.perf_counter() - start
                s = scores(fitted, curves, names, band=law == "auto")
                note = fitted.law if law == "auto" else ""
                if law == "auto" and fitted.heldout_rel_error is not None:
                    note += f" (held-out {100 * fitted.heldout_rel_error:.3f} %)"
                cover = f"{100 * s['cover']:4.0f}%" if law == "auto" else ""
                print(f"{model:8} {','.join(names):38} {law:13} {100 * s['mean']:7.3f} {100 * s['worst']:8.3f} "
                      f"{s['rho24']:6.2f} {s['rho16']:6.2f} {cover:>5} {seconds:6.2f}  {note}")


def choice() -> None:
    print("\n## auto on one run: the default law (sharp -> mpl, smooth -> tissue) or the lower held-out error on the "
          "run's own tail")
    print(f"{'model':8} {'fit on':18} {'mpl %':>7} {'tissue %':>8} {'held-out mpl/tissue %':>22} {'default':>8} "
          f"{'by tail':>8}")
    totals = {"default": 0.0, "tail": 0.0, "best": 0.0}
    right = {"default": 0, "tail": 0}
    count = 0
    for model in ("mpl-25", "mpl-100"):
        curves = {r: load(model, r) for r in RUNS}
        for name in RUNS:
            if name.startswith("constant"):
                continue
            fitted = fit([curves[name]])
            target = {law: scores(f, curves, (name,))["mean"] for law, f in fitted.by_law.items()}
            held = {law: f.heldout_rel_error for law, f in fitted.by_law.items()}
            by_tail = min(held, key=held.get) if None not in held.values() else fitted.law
            best = min(target, key=target.get)
            totals["default"] += target[fitted.law]
            totals["tail"] += target[by_tail]
            totals["best"] += target[best]
            right["default"] += fitted.law == best
            right["tail"] += by_tail == best
            count += 1
            tail = "-" if None in held.values() else f"{100 * held['mpl']:.3f}/{100 * held['tissue']:.3f}"
            print(f"{model:8} {name:18} {100 * target['mpl']:7.3f} {100 * target['tissue']:8.3f} {tail:>22} "
                  f"{fitted.law:>8} {by_tail:>8}")
    print(f"summed mean error over the {count} fits (percentage points): default {100 * totals['default']:.2f} "
          f"({right['default']} right), by the tail {100 * totals['tail']:.2f} ({right['tail']} right), the better "
          f"law each time {100 * totals['best']:.2f}")


def blocks() -> None:
    print(f"\n## multi-power block size (steps per block; 0 = the default rule: {BLOCK}, longer where the drops "
          f"span more than {MAX_BLOCKS} blocks)")
    print(f"{'model':8} {'fit on':18} {'block':>5} {'mean %':>7} {'worst %':>8} {'fit s':>6} "
          f"{'|block - exact| % (same constants, all targets)':>48}")
    for model in ("mpl-25", "mpl-100"):
        curves = {r: load(model, r) for r in RUNS}
        for name in ("wsd_20000_24000", "cosine_24000"):
            for block in (16, 32, 50, 100, 200, 0):
                law = MultiPowerLaw(block or None)
                start = time.perf_counter()
                fitted = fit_law([curves[name]], law)
                seconds = time.perf_counter() - start
                s = scores(fitted, curves, (name,))
                deviation = 0.0
                for c in curves.values():
                    keep = c.after_warmup
                    law.block = block or None
                    ours = fitted.predict(c.rates, c.step[keep], c.warmup)
                    law.block = 1
                    exact = fitted.predict(c.rates, c.step[keep], c.warmup)
                    deviation = max(deviation, float(np.max(np.abs(ours - exact) / exact)))
                law.block = block or None
                print(f"{model:8} {name:18} {block:5d} {100 * s['mean']:7.3f} {100 * s['worst']:8.3f} "
                      f"{seconds:6.2f} {100 * deviation:48.5f}")


def accept() -> None:
    print("\n## acceptance: fit mpl-100/wsd_20000_24000 (auto), forecast mpl-100/cosine_72000 at its own steps")
    source, target = load("mpl-100", "wsd_20000_24000"), load("mpl-100", "cosine_72000")
    fitted = fit([source])
    keep = target.after_warmup
    loss, low, high = forecast(fitted, target.rates, target.step[keep], target.warmup)
    errors = np.abs(loss - target.loss[keep]) / target.loss[keep]
    inside = ((target.loss[keep] >= low) & (target.loss[keep] <= high)).mean()
    print(f"law {fitted.law} ({fitted.choice})")
    print(f"mean relative error {100 * errors.mean():.3f} %, worst {100 * errors.max():.3f} %, final loss "
          f"{loss[-1]:.4f} (logged {target.loss[-1]:.4f}, band {low[-1]:.4f}-{high[-1]:.4f}), "
          f"{100 * inside:.0f} % of rows inside the band")
    # the same through the command line, as a user runs it (its default warm-up assumption, no --warmup)
    import json
    import subprocess
    import sys

    lrscope = Path(sys.executable).with_name("lrscope")
    command = [str(lrscope), "forecast", str(DATA / "mpl-100" / "wsd_20000_24000.csv"), "--to",
               str(DATA / "mpl-100" / "cosine_72000.csv"), "--json"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        print(f"lrscope forecast failed: {done.stderr.strip()}")
        return
    (doc,) = json.loads(done.stdout)["targets"]
    print(f"lrscope forecast {' '.join(command[2:])}: mean relative error {100 * doc['mean_rel_error']:.3f} %, "
          f"worst {100 * doc['max_rel_error']:.3f} %, final loss {doc['final_loss']:.4f} "
          f"(logged {doc['final_logged_loss']:.4f})")


def synthetic_log(every: int, total: int = 20_000, seed: int = 0) -> Curve:
    """A 20,000-step cosine run (1,000 warm-up steps) with the loss of a multi-power law plus 0.5 % noise."""
    schedule = parse_schedule(f"warmup(1000, cosine(3e-4, total={total - 1000}))")
    rates = rates_from_schedule(schedule, total)
    truth = Curve(np.arange(1, total + 1), np.ones(total), rates, warmup_steps=1000)
    law = MultiPowerLaw()
    reference = fit_law([load("mpl-100", "wsd_20000_24000")], law)
    loss = reference.predict(truth.rates, truth.step, 1000)
    loss *= np.exp(np.random.default_rng(seed).normal(0.0, 0.005 if every == 1 else 0.001, total))
    step = np.arange(every, total + 1, every)
    return Curve(step, loss[step - 1], rates, name=f"synthetic every {every}", warmup_steps=1000)


def timing() -> None:
    print("\n## timing: fit a 20,000-step log (auto: both laws, held-out fits included) and forecast 10 targets, "
          "one thread, best of 3")
    targets = [rates_from_schedule(parse_schedule(spec), 20_000) for spec in (
        "warmup(1000, cosine(3e-4, total=19000))", "warmup(1000, constant(3e-4))",
        "warmup(1000, multistep(3e-4, milestones=[9000, 14000]))",
        "warmup(1000, multistep(3e-4, milestones=[15000, 18000]))",
        "warmup(1000, exponential(3e-4, gamma=0.9999))", "warmup(1000, cosine(3e-4, total=25000))",
        "warmup(1000, multistep(3e-4, milestones=[6000], gamma=0.3))",
        "warmup(1000, multistep(3e-4, milestones=[17000], gamma=0.1))",
        "warmup(1000, cosine(3e-4, total=40000))", "warmup(1000, multistep(3e-4, milestones=[12000], gamma=0.5))")]
    steps = np.arange(100, 20_001, 100)
    for every in (100, 1):
        curve = synthetic_log(every)
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            fitted = fit([curve])
            for rates in targets:
                forecast(fitted, rates, steps)
            best = min(best, time.perf_counter() - start)
        print(f"rows every {every:3d} step(s) ({curve.step.size:5d} rows): {best:.2f} s  (law {fitted.law}, fit "
              f"error {100 * fitted.mean_rel_error:.3f} %, held-out "
              f"{'-' if fitted.heldout_rel_error is None else f'{100 * fitted.heldout_rel_error:.3f} %'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="table,how,lambda,choice,blocks,accept,timing")
    parts = parser.parse_args().only.split(",")
    if not DATA.is_dir():
        raise SystemExit(f"schedule curves not found at {DATA} (set LRSCOPE_SCHEDULE_CURVES)")
    if "table" in parts:
        table()
    if "how" in parts:
        one = [("wsd_20000_24000",), ("wsdcon_9",), ("cosine_24000",), PAPER]
        for how in ("auto", "hold", "interpolate"):
            table(laws=("mpl", "tissue"), how=how, fit_sets=one, title="the rate between logged rows")
    if "lambda" in parts:
        table(laws=("tissue999", "tissue-fitted"), title="Tissue's lambda: fixed at 0.999 or fitted",
              fit_sets=[(r,) for r in RUNS if not r.startswith("constant")] + [PAPER])
    if "choice" in parts:
        choice()
    if "blocks" in parts:
        blocks()
    if "accept" in parts:
        accept()
    if "timing" in parts:
        timing()


if __name__ == "__main__":
    main()
