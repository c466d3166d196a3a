"""The LR range test on the reference runner's data and models, ``auto`` rates in schedule specs, and
``lrscope compare``: several schedules trained at the same budget and seed, side by side.

``auto`` in a schedule spec means "run the range test first (same data, model, optimizer, batch size and
seed as the run) and put its answer here".  Which answer depends on the parameter the word stands for:

- ``max_lr`` (onecycle's peak, triangular's top): the range's upper bound (where 90 % of the loss drop is
  done);
- ``base_lr`` and ``min_lr`` (triangular's bottom, a floor): the range's lower bound (10 % of the drop);
- any other rate (constant, step, multistep, cosine, ...'s ``lr``; linear's ``start``): the suggestion.

So ``onecycle(auto, total=60)`` becomes ``onecycle(0.31, total=60)`` and ``triangular(auto, auto, 8)``
becomes ``triangular(0.012, 0.31, 8)`` (numbers for illustration).  The comparison's core is reusable (the
Ray sweep uses it): :func:`summarise_runs` turns run directories into table rows, :func:`write_comparison`
writes ``compare.json`` (schema ``lrscope.compare/1``), ``compare.md`` and ``compare.png``.
"""

from __future__ import annotations

import ast
import dataclasses
import math
import re
from pathlib import Path
from typing import Any

from ..atomic import write_json, write_text
from ..errors import UserError

COMPARE_SCHEMA = "lrscope.compare/1"
_HIGH = {"max_lr"}
_LOW = {"base_lr", "min_lr"}


# ---------------------------------------------------------------- the finder on a TrainConfig


class EpochStream:
    """A re-iterable loader of the runner's data: pass k is ``epoch_batches(bundle, batch_size, seed, k)``."""

    def __init__(self, bundle, batch_size: int, seed: int):
        self.bundle, self.batch_size, self.seed, self.epoch = bundle, batch_size, seed, 0

    def __iter__(self):
        from .loop import epoch_batches

        epoch = self.epoch
        self.epoch += 1
        return iter(epoch_batches(self.bundle, self.batch_size, self.seed, epoch))

    def __len__(self) -> int:
        return math.ceil(self.bundle.n_train / self.batch_size)


def _config(config) -> Any:
    from .loop import TrainConfig

    if isinstance(config, TrainConfig):
        return config
    if isinstance(config, dict):
        return TrainConfig.from_dict(config)
    raise UserError(f"expected a TrainConfig or a dict of its fields; got {type(config).__name__}")


def find_for_config(config, *, start_lr: float = 1e-7, end_lr: float = 10.0, num_iter: int = 100,
                    repeats: int = 1):
    """:func:`lrscope.probes.finder.find_lr` on the data, initial model and optimizer of ``config``."""
    from torch import nn

    from ..probes.finder import find_lr
    from .loop import data_and_model, make_optimizer, seed_everything
    from .rng import rng_state, set_rng_state

    config = _config(config)
    saved = rng_state()
    try:
        seed_everything(config.seed)
        bundle, model = data_and_model(config)
        optimizer = make_optimizer(config, model)
    finally:
        set_rng_state(saved)
    loader = EpochStream(bundle, config.batch_size, config.seed)
    return find_lr(model, optimizer, nn.CrossEntropyLoss(), loader, start_lr=start_lr, end_lr=end_lr,
                   num_iter=num_iter, repeats=repeats, seed=config.seed)


def find_command(options: dict, out: str | Path, *, start_lr: float = 1e-7, end_lr: float = 10.0,
                 num_iter: int = 100, repeats: int = 1):
    """``lrscope find``: the finder for the TrainConfig fields in ``options``; writes OUT/finder.json/.png."""
    from ..viz.finder import save_finder_plot

    given = {k: v for k, v in options.items() if v is not None}
    for name in ("data", "model"):
        if name not in given:
            raise UserError(f"lrscope find needs --{name}")
    from ..probes.finder import check_sweep_settings

    check_sweep_settings(start_lr, end_lr, num_iter, repeats=repeats)
    config = _config(given)
    config.validate()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a directory")
    result = find_for_config(config, start_lr=start_lr, end_lr=end_lr, num_iter=num_iter, repeats=repeats)
    if _is_main_rank():
        out.mkdir(parents=True, exist_ok=True)
        doc = result.to_json()
        doc["config"] = config.to_dict()
        save_finder_plot(doc, out / "finder.png")
        write_json(out / "finder.json", doc)  # last: a finder.json is only ever there for a finished sweep
    return result


def _is_main_rank() -> bool:
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


# ---------------------------------------------------------------- auto


def _parse(spec: str) -> ast.Expression:
    try:
        return ast.parse(spec.strip(), mode="eval")
    except SyntaxError as error:
        raise UserError(f"cannot parse schedule spec {spec!r}: {error.msg}") from None


def _auto_roles(tree: ast.AST) -> dict[int, str]:
    """{id(node): the parameter it stands for} for every ``auto`` name in a parsed spec."""
    from ..schedules.spec import SCHEDULES

    found = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        cls = SCHEDULES.get(node.func.id)
        names = [f.name for f in dataclasses.fields(cls)] if cls is not None else []
        for i, arg in enumerate(node.args):
            if isinstance(arg, ast.Name) and arg.id == "auto":
                found[id(arg)] = names[i] if i < len(names) else "lr"
        for kw in node.keywords:
            if isinstance(kw.value, ast.Name) and kw.value.id == "auto":
                found[id(kw.value)] = kw.arg or "lr"
    return found


def has_auto(spec: str) -> bool:
    return bool(re.search(r"\bauto\b", spec or ""))


def fill_auto(spec: str, suggestion: float, low: float, high: float) -> str:
    """Replace each ``auto`` by the finder's number for that parameter (see the module docstring)."""
    tree = _parse(spec)
    roles = _auto_roles(tree)

    class Fill(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name):
            if node.id != "auto":
                return node
            role = roles.get(id(node), "lr")
            value = high if role in _HIGH else low if role in _LOW else suggestion
            return ast.copy_location(ast.Constant(float(f"{value:.3g}")), node)

    return ast.unparse(Fill().visit(tree))


def resolve_auto(spec: str, config, *, result=None) -> str:
    """``spec`` with every ``auto`` replaced by a number from a range test on ``config``'s run (the train CLI
    calls this when the word appears).  Returns the spec text unchanged when there is no ``auto``."""
    if not has_auto(spec):
        return spec
    from ..console import note

    config = _config(config)
    if result is None:
        result = find_for_config(dataclasses.replace(config, schedule="constant(0.1)"))
    low, high = result.range
    filled = fill_auto(spec, result.suggestion, low, high)
    from ..schedules import parse_schedule

    parse_schedule(filled)
    if _is_main_rank():
        note(f"auto: range test suggests {result.suggestion:.3g}, range {low:.3g} .. {high:.3g}; "
             f"schedule {filled}")
    return filled


# ---------------------------------------------------------------- compare


def run_name(spec: str) -> str:
    """A safe directory name from a spec: ``onecycle(0.4, total=60)`` -> ``onecycle-0.4-total-60``."""
    name = re.sub(r"[^A-Za-z0-9.]+", "-", spec).strip("-.")
    return (name or "run")[:80]


def compare(specs: list[str], *, data: str, model: str, epochs: int, out: str | Path, seed: int = 0,
            target_acc: float | None = None, **fields: Any) -> list[dict]:
    """Train every schedule in ``specs`` with the same data, model, epochs, seed and other ``fields``; one run
    directory each under ``out``; then write the comparison.  Returns the table rows."""
    from .loop import TrainConfig, train

    if not specs:
        raise UserError("lrscope compare needs at least one schedule spec")
    if target_acc is not None and not 0.0 < target_acc <= 1.0:
        raise UserError(f"--target-acc must be a fraction in (0, 1]; got {target_acc}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a directory")
    base = TrainConfig.from_dict({k: v for k, v in fields.items() if v is not None})
    base = dataclasses.replace(base, data=data, model=model, epochs=int(epochs), seed=int(seed))
    names: list[str] = []
    for spec in specs:
        name = run_name(spec)
        while name in names:
            name += "-2"
        names.append(name)
    configs = []
    found = None  # one range test serves every ``auto`` spec: they share data, model, optimizer and seed
    for spec in specs:
        if has_auto(spec) and found is None:
            found = find_for_config(base)
        filled = resolve_auto(spec, base, result=found) if has_auto(spec) else spec
        config = dataclasses.replace(base, schedule=filled)
        config.validate()
        configs.append(config)
    out.mkdir(parents=True, exist_ok=True)
    run_dirs = []
    for name, config in zip(names, configs, strict=True):
        run_dir = out / name
        train(config, run_dir, resume=run_dir.exists())
        run_dirs.append(run_dir)
    rows = summarise_runs(run_dirs, target_acc=target_acc)
    for row, spec in zip(rows, specs, strict=True):
        row["spec"] = spec
    write_comparison(out, rows, target_acc=target_acc)
    return rows


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
    from ..logs.rundir import finite_or_none, read_config, read_metrics, require_run_dir

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


def write_comparison(out_dir: str | Path, rows: list[dict],
                     target_acc: float | None = None) -> dict[str, Path]:
    """Write OUT/compare.json (schema lrscope.compare/1), OUT/compare.md and OUT/compare.png."""
    from ..viz.finder import save_comparison_plot

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc = {"schema": COMPARE_SCHEMA, "target_acc": target_acc, "runs": rows}
    paths = {
        "json": write_json(out / "compare.json", doc),
        "md": write_text(out / "compare.md", comparison_table(rows, target_acc)),
        "png": save_comparison_plot(rows, out / "compare.png", target_acc=target_acc),
    }
    return paths
