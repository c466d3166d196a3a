"""The report's sections from results other commands write: gradient noise and drop predictions (step records,
probes/predict-*.json, probes/whatif-*.json), the LR range test (finder.json), schedules compared
(compare.json), and the loss landscape and sharpness (probes/*.npz, sharpness columns, probes/*.json).
"""

from __future__ import annotations

import html

import numpy as np

from ..logs.runlog import path_label
from ..viz.finder import plot_finder
from ..viz.report_figures import plane_figure, series_figure
from ..viz.svg import to_svg
from .read import ResultFile, RunResults
from .section import Section, guarded
from .text import fmt, name_of, num


def _kind(found: ResultFile) -> str:
    """What a probes/*.json holds: its schema's kind ("lrscope.predict/1" -> predict), else its name's stem."""
    doc = found.doc
    if isinstance(doc, dict) and isinstance(doc.get("schema"), str) and doc["schema"].startswith("lrscope."):
        return doc["schema"].split(".", 1)[1].split("/", 1)[0]
    return found.path.stem.split("-", 1)[0].split("_", 1)[0].lower()


@guarded("noise", "Gradient noise and drop predictions")
def noise_section(run: RunResults, missing: list[str]) -> Section | None:
    steps = run.steps
    rows = len(next(iter(steps.values()))) if steps else 0
    noisy = np.zeros(rows, dtype=bool)
    for key in ("noise_trace", "b_simple"):
        if key in steps:
            noisy |= np.isfinite(steps[key])
    figs, tables, notes = [], [], []
    if noisy.any():
        cols = {
            k: steps[k][noisy]
            for k in ("step", "noise_trace", "grad_sq", "b_simple", "lr")
            if k in steps and np.isfinite(steps[k][noisy]).any()
        }
        x = cols.get("step", np.arange(int(noisy.sum()), dtype=float))
        series = {k: cols[k] for k in ("noise_trace", "grad_sq") if k in cols}
        names = {"noise_trace": "tr(Σ)", "grad_sq": "|G|²"}
        figs.append(
            series_figure(
                x,
                {names[k]: v for k, v in series.items()},
                xlabel="step",
                ylabel="gradient noise",
                lr=cols.get("lr"),
            )
        )
        if "b_simple" in cols:
            figs.append(
                series_figure(
                    x,
                    {"B_simple = tr(Σ)/|G|²": cols["b_simple"]},
                    xlabel="step",
                    ylabel="simple noise scale",
                    lr=cols.get("lr"),
                )
            )
    predictions, whatifs = [], []
    for found in run.probe_docs:
        if found.error is not None:
            notes.append(found.error)
            continue
        kind = _kind(found)
        if kind == "predict":
            predictions.append(found.doc)
        elif kind == "whatif":
            whatifs.append(found.doc)
    if predictions:
        tables.append(
            {
                "caption": "predicted drops (noise floor: ΔL = (α₁ − α₂) tr(Σ) / (4B(1 − β)))",
                "head": ["epoch", "rate", "loss now", "predicted drop", "band", "predicted after"],
                "rows": [
                    [
                        fmt(p.get("epoch")),
                        f"{fmt(p.get('lr_from'))} → {fmt(p.get('lr_to'))}",
                        fmt(p.get("loss_now")),
                        fmt(p.get("predicted_drop")),
                        fmt(p.get("band")),
                        fmt(p.get("predicted_loss_after")),
                    ]
                    for p in predictions
                ],
            }
        )
    if whatifs:
        tables.append(
            {
                "caption": "what-if: the decay tried from a checkpoint",
                "head": [
                    "epoch",
                    "rate",
                    "steps",
                    "loss before",
                    "loss after",
                    "observed drop",
                    "predicted drop",
                ],
                "rows": [
                    [
                        fmt(w.get("epoch")),
                        f"{fmt(w.get('lr_from'))} → {fmt(w.get('lr_to'))}",
                        fmt(w.get("steps")),
                        fmt(w.get("loss_before")),
                        fmt(w.get("loss_after")),
                        fmt(w.get("observed_drop")),
                        fmt(w.get("predicted_drop")),
                    ]
                    for w in whatifs
                ],
            }
        )
    if not (figs or tables or notes):
        missing.append(
            "gradient noise: no measurements (train with --noise-every K) and no predict/whatif results"
        )
        return None
    lead = (
        "SGD at a constant rate α bounces at an excess loss of about α·tr(Σ)/(4B(1−β)) (the noise floor); "
        "cutting the rate removes most of it within a few steps, which is the cliff in the loss curve."
    )
    return Section(
        "noise", "Gradient noise and drop predictions", lead=lead, figures=[to_svg(f) for f in figs],
        tables=tables, notes=notes,
    )


@guarded("finder", "Learning-rate range test")
def finder_section(found: ResultFile, missing: list[str]) -> Section | None:
    """finder.json (``lrscope.finder/1``): the range test's picture, the suggestion and the range."""
    doc = found.doc
    if found.error is not None:
        return Section("finder", "Learning-rate range test", notes=[found.error])
    if doc is None:
        missing.append("LR range test: no finder.json (run `lrscope find --data D --model M --out DIR`)")
        return None
    figs, items, notes = [], [], []
    sweeps = doc.get("sweeps")
    if isinstance(sweeps, list) and sweeps and all(isinstance(s, dict) for s in sweeps):
        try:
            ax = plot_finder(doc)
            figs.append(to_svg(ax.figure))
        except Exception as error:  # noqa: BLE001 - the numbers are still worth showing
            notes.append(f"the range test could not be drawn ({type(error).__name__}: {error})")
    suggestion = num(doc.get("suggestion"))
    bounds = doc.get("range")
    if suggestion is not None:
        items.append(f"Suggested learning rate: {fmt(suggestion)}.")
    if isinstance(bounds, (list, tuple)) and len(bounds) == 2:
        items.append(
            f"Range for cyclical or 1cycle schedules: {fmt(num(bounds[0]))} to {fmt(num(bounds[1]))}."
        )
    if isinstance(doc.get("suggestions"), dict):
        items.append(
            "Other rules: " + ", ".join(f"{k} {fmt(num(v))}" for k, v in doc["suggestions"].items()) + "."
        )
    if num(doc.get("spread_decades")) is not None:
        items.append(f"Spread of the suggestion across repeats: {fmt(doc['spread_decades'])} decades.")
    lead = (
        "Leslie Smith's LR range test: the rate grows each step while the loss is recorded; a good rate sits "
        f"where the loss falls fastest, before it blows up. From {html.escape(name_of(found.path))}."
    )
    return Section("finder", "Learning-rate range test", lead=lead, figures=figs, items=items, notes=notes)


@guarded("compare", "Schedules compared")
def compare_section(found: ResultFile, missing: list[str]) -> Section | None:
    """compare.json (``lrscope.compare/1``): one row per schedule trained."""
    if found.error is not None:
        return Section("compare", "Schedules compared", notes=[found.error])
    doc = found.doc
    if doc is None:
        missing.append("schedule comparison: no compare.json (run `lrscope compare SPEC... --out DIR`)")
        return None
    rows = doc.get("runs") or doc.get("rows") or doc.get("table") if isinstance(doc, dict) else doc
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        return Section("compare", "Schedules compared", notes=[f"{name_of(found.path)} holds no table of runs"])
    head = []
    for r in rows:
        head.extend(k for k, v in r.items() if k not in head and not isinstance(v, (dict, list)))
    return Section(
        "compare",
        "Schedules compared",
        lead=f"Each schedule trained at the same budget and seed ({html.escape(name_of(found.path))}).",
        tables=[
            {
                "caption": "",
                "head": [h.replace("_", " ") for h in head],
                "rows": [[fmt(r.get(h)) for h in head] for r in rows],
            }
        ],
    )


@guarded("landscape", "Loss landscape and sharpness")
def landscape_section(run: RunResults, missing: list[str]) -> Section | None:
    figs, tables, notes = [], [], []
    for found in run.probe_arrays:
        if found.error is not None:
            notes.append(found.error)
            continue
        path, arrays = found.path, found.arrays
        loss = arrays.get("loss")
        if loss is None:
            continue
        if loss.ndim == 2 and "x" in arrays and "y" in arrays:
            path_xy = arrays.get("path")
            figs.append(
                plane_figure(arrays["x"], arrays["y"], loss, title=path_label(path.stem), path=path_xy)
            )
        elif loss.ndim == 1:
            x = arrays.get("x", arrays.get("alpha", np.arange(loss.size)))
            figs.append(
                series_figure(
                    x,
                    {path_label(path.stem): loss},
                    xlabel="distance along the direction",
                    ylabel="loss",
                    log_y=False,
                )
            )
    epochs, steps = run.epochs, run.steps
    for source, cols, xname in ((steps, steps, "step"), (epochs, epochs, "epoch")):
        key = next((k for k in ("sharpness", "top_eigenvalue", "lambda_max", "eig_max") if k in source), None)
        if key and np.isfinite(cols[key]).any():
            mask = np.isfinite(cols[key])
            x = cols.get(xname, np.arange(len(cols[key]), dtype=float))[mask]
            lr = cols.get("lr")
            ref = {"2 / learning rate": 2.0 / lr[mask]} if lr is not None else None
            figs.append(
                series_figure(
                    x,
                    {"top Hessian eigenvalue": cols[key][mask]},
                    xlabel=xname,
                    ylabel="sharpness",
                    log_y=True,
                    hlines=ref,
                )
            )
            break
    for found in run.probe_docs:
        if found.error is not None:
            notes.append(found.error)
            continue
        doc = found.doc
        if _kind(found) in ("landscape", "sharpness", "curvature", "eigenvalues") and isinstance(doc, dict):
            rows = [
                [k, fmt(v)]
                for k, v in doc.items()
                if not isinstance(v, (dict, list)) or (isinstance(v, list) and len(v) <= 8)
            ]
            tables.append({"caption": name_of(found.path), "head": ["field", "value"], "rows": rows})
    if not (figs or tables or notes):
        missing.append(
            "landscape and sharpness: no probes (run `lrscope landscape RUN` or `lrscope sharpness RUN`)"
        )
        return None
    lead = (
        "The loss surface around the weights (filter-normalised random directions) and the sharpness against "
        "the edge-of-stability limit 2/learning rate."
    )
    return Section(
        "landscape", "Loss landscape and sharpness", lead=lead, figures=[to_svg(f) for f in figs],
        tables=tables, notes=notes,
    )
