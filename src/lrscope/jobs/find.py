"""``lrscope find``: the LR range test on the reference runner's data, model and optimizer; writes
OUT/finder.png, then OUT/finder.json (last, so a finder.json is only ever there for a finished sweep)."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from ..atomic import write_json
from ..console import track
from ..errors import UserError
from ..outputs import check_output_dir
from ..probes.finder import FinderResult, check_sweep_settings, find_lr
from ..train import distributed
from ..train.config import TrainConfig, data_and_model, make_optimizer, seed_everything
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


def find_job(options: dict, out: str | Path, *, start_lr: float = 1e-7, end_lr: float = 10.0,
             num_iter: int = 100, repeats: int = 1) -> FinderResult:
    """The finder for the TrainConfig fields in ``options`` (None = not given); writes OUT/finder.json/.png."""
    out = check_output_dir(out)
    given = {k: v for k, v in options.items() if v is not None}
    for name in ("data", "model"):
        if name not in given:
            raise UserError(f"lrscope find needs --{name}")
    check_sweep_settings(start_lr, end_lr, num_iter, repeats=repeats)
    config = as_train_config(given)
    config.validate()
    result = find_for_config(config, start_lr=start_lr, end_lr=end_lr, num_iter=num_iter, repeats=repeats)
    if distributed.is_main():
        out.mkdir(parents=True, exist_ok=True)
        doc = result.to_json()
        doc["config"] = config.to_dict()
        save_finder_plot(doc, out / "finder.png")
        write_json(out / "finder.json", doc)  # last: a finder.json is only ever there for a finished sweep
    return result
