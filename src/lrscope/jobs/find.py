"""``lrscope find``: the LR range test on the reference runner's data, model and optimizer; writes
OUT/finder.png, then OUT/finder.json (last, so a finder.json is only ever there for a finished sweep).

With ``confirm``, the recipe itself (``schedule`` with ``auto`` where the finder's rate goes, ``epochs``) is
then trained at the finder's rate x 10^d, d in (-1.5, -1, -0.5, 0, +0.5) (and up to two half-decades past
an end while the best run is there), each into OUT/confirm/x<factor>/, and the lowest final validation loss
is kept (:mod:`lrscope.analysis.finder_confirm`); finder.json gains a
``confirm`` block."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from torch import nn

from ..analysis.comparison import summarise_runs
from ..analysis.finder_confirm import CONFIRM_OFFSETS, ConfirmResult, confirm_lr
from ..atomic import write_json
from ..console import track
from ..errors import UserError
from ..outputs import check_output_dir
from ..probes.finder import FinderResult, check_sweep_settings, find_lr
from ..schedules import check_spec, has_auto, parse_schedule
from ..schedules.torch import peak_rate
from ..train import distributed
from ..train.config import TrainConfig, data_and_model, make_optimizer, seed_everything
from ..train.loop import TrainingDiverged, train
from ..train.rng import rng_state, set_rng_state
from ..train.stream import EpochStream
from ..viz.finder import save_finder_plot


def as_train_config(config) -> TrainConfig:
    """``config`` itself, or the TrainConfig of a dict of its fields."""
    if isinstance(config, TrainConfig):
        return config
    if isinstance(config, dict):
        return TrainConfig.from_dict(config)
    raise UserError(f"expected a TrainConfig or a dict of its fields; got {type(config).__name__}")


def find_for_config(config, *, start_lr: float = 1e-7, end_lr: float = 10.0, num_iter: int = 100,
                    repeats: int = 1, label: str = "find") -> FinderResult:
    """:func:`lrscope.probes.finder.find_lr` on the data, initial model and optimizer of ``config``, with a
    progress bar named ``label``."""
    config = as_train_config(config)
    saved = rng_state()
    try:
        seed_everything(config.seed)
        bundle, model = data_and_model(config)
        optimizer = make_optimizer(config, model)
    finally:
        set_rng_state(saved)
    loader = EpochStream(bundle, config.batch_size, config.seed)
    with track(label) as tick:
        return find_lr(model, optimizer, nn.CrossEntropyLoss(), loader, start_lr=start_lr, end_lr=end_lr,
                       num_iter=num_iter, repeats=repeats, seed=config.seed, progress=tick)


CONFIRM_SCHEDULE = "constant(auto)"


def check_confirm_recipe(confirm: bool, schedule: str | None, epochs: int | None,
                         step_unit: str | None = None) -> None:
    """--schedule, --epochs and --step-unit describe the recipe --confirm trains: refused without it, and the
    schedule must say where the finder's rate goes (``auto``)."""
    if not confirm:
        given = [flag for flag, value in (("--schedule", schedule), ("--epochs", epochs), ("--step-unit", step_unit))
                 if value is not None]
        if given:
            raise UserError(f"{' and '.join(given)} set the recipe that --confirm trains; add --confirm, or drop "
                            f"{'them' if len(given) > 1 else 'it'}")
        return
    if schedule is not None:
        if not has_auto(schedule):
            raise UserError(f"--confirm trains the schedule at rates around the finder's: write auto where the "
                            f"finder's rate goes, e.g. 'onecycle(auto, total=10)'; got {schedule!r}")
        check_spec(schedule)  # a spec that does not read is refused before the sweep, not after


def confirm_for_config(config: TrainConfig, result: FinderResult, out: Path, *, schedule: str,
                       offsets: tuple[float, ...] = CONFIRM_OFFSETS) -> ConfirmResult:
    """Train ``config`` with ``schedule`` (its ``auto`` filled from ``result``) at each candidate rate, each
    run into OUT/confirm/x<factor>/; the candidate with the lowest final validation loss is chosen.  The rate
    confirmed is the filled schedule's peak (1cycle's max_lr, a constant's rate); a run that diverges counts
    as a non-finite loss, so it is never chosen."""
    filled = result.fill_auto(schedule)
    base = peak_rate(parse_schedule(filled))
    if not (math.isfinite(base) and base > 0):
        raise UserError(f"--confirm: the schedule {filled!r} never rises above 0; nothing to confirm")
    root = out / "confirm"
    done = []

    def train_at(lr: float) -> dict:
        factor = lr / base
        run_dir = root / f"x{factor:.3g}"
        candidate = dataclasses.replace(config, schedule=filled, lr_scale=config.lr_scale * factor, keep=1)
        tick(len(done), max(len(offsets), len(done) + 1), f"lr {lr:.3g}")  # a run past an end adds one
        done.append(lr)
        try:
            train(candidate, run_dir)
        except TrainingDiverged:
            return {"val_loss": math.nan, "val_acc": None, "run_dir": str(run_dir), "diverged": True}
        row = summarise_runs([run_dir])[0]
        loss = row["final_val_loss"]
        return {"val_loss": math.nan if loss is None else loss, "val_acc": row["final_val_acc"],
                "run_dir": str(run_dir), "diverged": False}

    with track("confirm") as tick:
        try:
            confirmed = confirm_lr(train_at, base, offsets=offsets)
        except ValueError as error:  # every candidate diverged
            raise UserError(f"--confirm: {error}") from None
    return confirmed


def find_job(options: dict, out: str | Path, *, start_lr: float = 1e-7, end_lr: float = 10.0,
             num_iter: int = 100, repeats: int = 1, confirm: bool = False, schedule: str | None = None,
             epochs: int | None = None, step_unit: str | None = None) -> FinderResult:
    """The finder for the TrainConfig fields in ``options`` (None = not given); writes OUT/finder.json/.png.
    With ``confirm``: then the recipe (``schedule``, default constant(auto); ``epochs``; ``step_unit``, what
    the schedule's t counts) at five to seven rates around the finder's (module docstring); the result's
    ``confirmed`` holds what they gave."""
    out = check_output_dir(out)
    given = {k: v for k, v in options.items() if v is not None}
    for name in ("data", "model"):
        if name not in given:
            raise UserError(f"lrscope find needs --{name}")
    check_sweep_settings(start_lr, end_lr, num_iter, repeats=repeats)
    check_confirm_recipe(confirm, schedule, epochs, step_unit)
    if confirm and (out / "confirm").exists():  # its runs would be refused one by one after the sweep
        raise UserError(f"--confirm trains into {out / 'confirm'}, which is already there; lrscope does not "
                        "overwrite runs: give another --out or move it away")
    for name, value in (("epochs", epochs), ("step_unit", step_unit)):
        if value is not None:
            given[name] = value
    config = as_train_config(given)
    config.validate()
    result = find_for_config(config, start_lr=start_lr, end_lr=end_lr, num_iter=num_iter, repeats=repeats)
    if confirm:
        result.confirmed = confirm_for_config(config, result, out, schedule=schedule or CONFIRM_SCHEDULE)
    if distributed.is_main():
        out.mkdir(parents=True, exist_ok=True)
        doc = result.to_json()
        doc["config"] = config.to_dict()
        save_finder_plot(doc, out / "finder.png")
        write_json(out / "finder.json", doc)  # last: a finder.json is only ever there for a finished sweep
    return result
