"""``lrscope predict RUN --to LR [--at EPOCH]``: the noise-floor prediction of the loss's drop at a decay, from
the gradient noise a run recorded (:func:`lrscope.analysis.noise_floor.predict_decay`)."""

from __future__ import annotations

from ..analysis.noise_floor import Prediction, predict_decay
from ..errors import UserError
from ..logs.rundir import list_checkpoints, read_config, read_metrics, require_run_dir
from ..validate import check_float, check_int, is_number


def predict_job(run_dir, lr_to: float, epoch: int | None = None) -> Prediction:
    """The prediction for a decay to ``lr_to`` after ``epoch`` completed epochs (default: the last checkpoint,
    or the last epoch recorded when the run keeps no checkpoints)."""
    run_dir = require_run_dir(run_dir)
    lr_to = check_float("--to", lr_to, low=0.0, low_open=True, high=1e6)
    epoch_records = read_metrics(run_dir, "epoch")
    if not epoch_records:
        raise UserError(f"{run_dir} has no epoch records in its metrics.jsonl; nothing to predict from")
    if epoch is None:
        saved = [e for e in list_checkpoints(run_dir) if e >= 1]
        epoch = saved[-1] if saved else max(int(r["epoch"]) for r in epoch_records if is_number(r.get("epoch")))
    else:
        epoch = check_int("--at (completed epochs)", epoch, low=1)
    config = read_config(run_dir)
    if not config:
        raise UserError(
            f"{run_dir} has no config.json; the prediction needs the run's batch size and momentum"
        )
    return predict_decay(epoch_records, read_metrics(run_dir, "step"), config, lr_to, epoch)

