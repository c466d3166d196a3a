"""Several runs side by side: one row per run directory, and the rows as a Markdown table (no torch).

:func:`summarise_runs` reads each run's config.json and epoch records into a row (final and best validation
accuracy and loss, epochs to a target accuracy, the curves for plots); :func:`comparison_table` formats the
rows; :func:`comparison_document` is ``compare.json``'s document (schema ``lrscope.compare/1``).  ``lrscope
compare`` and ``lrscope sweep`` both tabulate their runs this way.
"""

from __future__ import annotations

import re

from ..logs.rundir import finite_or_none, read_config, read_metrics, require_run_dir

COMPARE_SCHEMA = "lrscope.compare/1"


def run_name(spec: str) -> str:
    """A safe directory name from a spec: ``onecycle(0.4, total=60)`` -> ``onecycle-0.4-total-60``."""
    name = re.sub(r"[^A-Za-z0-9.]+", "-", spec).strip("-.")
    return (name or "run")[:80]


def _first_reach(epochs: list, accs: list, target: float | None) -> int | None:
    if target is None:
        return None
    for epoch, acc in zip(epochs, accs, strict=True):
        if acc is not None and acc >= target:
            return int(epoch)
    return None


def summarise_runs(run_dirs, target_acc: float | None = None) -> list[dict]:
    """One row per run directory: final and best validation accuracy and loss, epochs to ``target_acc``, and
    the per-epoch curves (epoch, lr, train_loss, val_loss, val_acc) for plots."""
    rows = []
    for run_dir in run_dirs:
        run_dir = require_run_dir(run_dir)
        config = read_config(run_dir)
        records = sorted(read_metrics(run_dir, "epoch"), key=lambda r: r.get("epoch", 0))
        curves = {key: [finite_or_none(r.get(key)) for r in records]
                  for key in ("epoch", "lr", "train_loss", "val_loss", "val_acc")}
        accs = [a for a in curves["val_acc"] if a is not None]
        losses = [v for v in curves["val_loss"] if v is not None]
        best_i = max(range(len(records)), key=lambda i: curves["val_acc"][i] or -1.0) if accs else None
        rows.append({
            "name": run_dir.name,
            "run_dir": str(run_dir),
            "schedule": config.get("schedule"),
            "epochs": len(records),
            "final_val_acc": curves["val_acc"][-1] if records else None,
            "best_val_acc": max(accs) if accs else None,
            "best_epoch": int(curves["epoch"][best_i]) if best_i is not None else None,
            "final_val_loss": curves["val_loss"][-1] if records else None,
            "best_val_loss": min(losses) if losses else None,
            "final_train_loss": curves["train_loss"][-1] if records else None,
            "epochs_to_target": _first_reach(curves["epoch"], curves["val_acc"], target_acc),
            "curves": curves,
        })
    return rows


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def comparison_table(rows: list[dict], target_acc: float | None = None) -> str:
    """The rows as a Markdown table."""
    target = f"epochs to {target_acc:.1%}" if target_acc is not None else "epochs to target"
    head = ["schedule", "epochs", "final val acc", "best val acc (epoch)", "final val loss", "best val loss",
            target]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        best = f"{_fmt(row['best_val_acc'])} ({_fmt(row['best_epoch'])})"
        reach = _fmt(row["epochs_to_target"]) if target_acc is not None else "-"
        spec, used = row.get("spec") or row.get("schedule"), row.get("schedule")
        name = f"`{spec}`" if not used or used == spec else f"`{spec}` = `{used}`"
        cells = [name, _fmt(row["epochs"]), _fmt(row["final_val_acc"]),
                 best, _fmt(row["final_val_loss"]), _fmt(row["best_val_loss"]), reach]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def comparison_document(rows: list[dict], target_acc: float | None = None) -> dict:
    """``compare.json``: ``{"schema": "lrscope.compare/1", "target_acc", "runs": rows}``."""
    return {"schema": COMPARE_SCHEMA, "target_acc": target_acc, "runs": rows}
