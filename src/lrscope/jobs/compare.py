"""``lrscope compare``: several schedules trained at the same budget and seed, side by side.

One run directory per spec under OUT (named by :func:`lrscope.analysis.comparison.run_name`), then
OUT/compare.json (schema ``lrscope.compare/1``), OUT/compare.md and OUT/compare.png.  Specs with ``auto`` share
one range test (:mod:`lrscope.jobs.auto`): they share data, model, optimizer and seed.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ..analysis.comparison import comparison_document, comparison_table, run_name, summarise_runs
from ..atomic import write_json, write_text
from ..console import track
from ..errors import UserError
from ..outputs import check_output_dir
from ..probes.hooks import hooks_for
from ..schedules import check_spec, has_auto
from ..train.config import TrainConfig
from ..train.loop import train
from ..viz.compare import save_comparison_plot
from .auto import resolve_auto
from .find import find_for_config


def compare_job(specs: list[str], *, data: str, model: str, epochs: int, out: str | Path, seed: int = 0,
                target_acc: float | None = None, **fields: Any) -> list[dict]:
    """Train every schedule in ``specs`` with the same data, model, epochs, seed and other ``fields``; one run
    directory each under ``out``; then write the comparison.  Returns the table rows."""
    out = check_output_dir(out)
    if not specs:
        raise UserError("lrscope compare needs at least one schedule spec")
    if target_acc is not None and not 0.0 < target_acc <= 1.0:
        raise UserError(f"--target-acc must be a fraction in (0, 1]; got {target_acc}")
    base = TrainConfig.from_dict({k: v for k, v in fields.items() if v is not None})
    base = dataclasses.replace(base, data=data, model=model, epochs=int(epochs), seed=int(seed))
    names: list[str] = []
    for spec in specs:
        name = run_name(spec)
        while name in names:
            name += "-2"
        names.append(name)
    for spec in specs:  # every spec read before the range test and the first training, not one by one
        check_spec(spec)
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
        with track(f"compare {len(run_dirs) + 1}/{len(configs)}: {name}") as tick:
            train(config, run_dir, resume=run_dir.exists(), hooks=hooks_for(config), progress=tick)
        run_dirs.append(run_dir)
    rows = summarise_runs(run_dirs, target_acc=target_acc)
    for row, spec in zip(rows, specs, strict=True):
        row["spec"] = spec
    write_comparison(out, rows, target_acc=target_acc)
    return rows


def write_comparison(out_dir: str | Path, rows: list[dict],
                     target_acc: float | None = None) -> dict[str, Path]:
    """Write OUT/compare.json (schema lrscope.compare/1), OUT/compare.md and OUT/compare.png."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return {
        "json": write_json(out / "compare.json", comparison_document(rows, target_acc)),
        "md": write_text(out / "compare.md", comparison_table(rows, target_acc)),
        "png": save_comparison_plot(rows, out / "compare.png", target_acc=target_acc),
    }
