"""What-if: what would the loss have done if the rate had been cut at the end of epoch E?

From checkpoint epoch-E two copies of the run continue for K steps on the batches the run would have seen next
(``epoch_batches(bundle, B, seed, epoch=E)``, then E+1, ...): one at the new rate, one at the old rate.  Same
start, same batches, same optimizer state (momentum buffers included): the only difference is the rate.  So

    observed_drop = mean(old-rate losses) - mean(new-rate losses),   over the last ``window`` of the K steps

where the losses are the minibatch losses taken before each step, like the runner's ``train_loss``; the same
batches on both sides, so batch-to-batch variation largely cancels.  Whatever the old-rate copy still gains in
those steps (the bias term's ongoing fall) cancels too: what is left is the effect of the rate alone, the
quantity the noise-floor model predicts.  The window (default: the last half of the K steps) skips the first
steps, in which the sharp directions relax.

``subset_drop`` gives the same difference measured on a fixed subset of the training data (up to 2048
examples, augmented once when the run augments) at 5 points of the window.  It is *not* the headline figure:
most of the subset was trained on a few steps earlier, and at a high rate recently seen examples (above all
those with noisy labels) sit well below their usual loss, so the old-rate side reads low and the difference
comes out 2-5 times smaller than the drop of the training loss (bench/RESULTS.md).  A minibatch loss, taken
before the step on examples not yet seen this epoch, has no such recency bias.

The probe changes nothing in the run directory; ``lrscope whatif`` (lrscope.jobs.whatif) saves its result under
RUN/probes/.  :func:`cut_rate` is the measurement alone, from any model and optimizer state (the job uses it for
the user's own checkpoint, ``--checkpoint``, where there is no run to predict from).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..console import Progress, quiet
from ..errors import UserError
from ..logs.rundir import list_checkpoints, read_config, read_metrics
from ..validate import check_float, check_int

WHATIF_SCHEMA = "lrscope.whatif/1"


@dataclass
class WhatIf:
    """JSON: lrscope.whatif/1."""

    epoch: int
    lr_from: float
    lr_to: float
    steps: int
    window: int
    loss_before: float
    loss_after: float
    observed_drop: float
    predicted_drop: float | None
    ratio: float | None
    run_train_loss: float
    subset_drop: float
    eval_examples: int
    eval_steps: list[int]
    old_rate_losses: list[float]
    new_rate_losses: list[float]
    method: str = (
        "observed_drop = mean minibatch loss (before each step) over the last `window` of `steps` steps "
        "continued at lr_from, minus the same at lr_to, from the same checkpoint on the same batches; "
        "subset_drop: the same on a fixed training subset at eval_steps (biased low: see the docs)"
    )
    notes: list[str] = field(default_factory=list)
    result_file: str = ""
    checkpoint: str | None = None  # the user's checkpoint it started from (--checkpoint), else None: a run's

    def to_json(self) -> dict:
        doc = {"schema": WHATIF_SCHEMA, **asdict(self)}
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in doc.items()}


def _batches(bundle, batch_size: int, seed: int, first_epoch: int, steps: int) -> list:
    from ..train.data import epoch_batches

    out, epoch = [], first_epoch
    while len(out) < steps:
        for xy in epoch_batches(bundle, batch_size, seed, epoch):
            out.append(xy)
            if len(out) == steps:
                break
        epoch += 1
    return out


EVAL_EXAMPLES = 2048  # size of the fixed evaluation subset of the training data
EVAL_POINTS = 5  # evaluations of that subset inside the window
MAX_STEPS = 100_000  # steps at each rate: a what-if is a short probe, not a second training run
MAX_RATE = 1e3


@torch.no_grad()
def subset_loss(model, loss_fn, x, y, batch_size: int) -> float:
    """Mean loss over (x, y) in training mode, in chunks of the training batch size (batch norm normalises as
    in training); batch-norm buffers are restored afterwards, so the branch's trajectory is not touched.
    """
    buffers = {k: b.clone() for k, b in model.named_buffers()}
    total = 0.0
    for start in range(0, len(y), batch_size):
        total += float(loss_fn(model(x[start : start + batch_size]), y[start : start + batch_size])) * len(
            y[start : start + batch_size]
        )
    for k, b in model.named_buffers():
        b.copy_(buffers[k])
    return total / len(y)


def continue_at(model, optimizer, loss_fn, lr: float, batches, probe=None, probe_at=(),
                progress: Callable[[int, float], None] | None = None) -> tuple:
    """Train ``model`` (in place) one step per batch at constant ``lr``.  Returns (the minibatch losses before
    each step, ``probe(model)`` after each step index in ``probe_at``).  ``progress(steps done, loss)`` after
    every step.
    """
    for group in optimizer.param_groups:
        group["lr"] = float(lr)
    model.train()
    losses, probed = [], []
    for i, (x, y) in enumerate(batches):
        loss = loss_fn(model(x), y)
        losses.append(loss.item())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if probe is not None and i + 1 in probe_at:
            probed.append(probe(model))
        if progress is not None:
            progress(i + 1, losses[-1])
    return np.asarray(losses), np.asarray(probed)


def _copy(model, optimizer, make_optimizer):
    """A deep copy of ``model`` and an optimizer for it (``make_optimizer(copy)``) in ``optimizer``'s state."""
    model = copy.deepcopy(model)
    fresh = make_optimizer(model)
    fresh.load_state_dict(copy.deepcopy(optimizer.state_dict()))
    return model, fresh


def check_cut(to_lr: float, steps: int, window: int | None) -> tuple[float, int, int]:
    """(``--to``, ``--steps``, ``--window``) checked (the window defaults to half the steps)."""
    steps = check_int("--steps", steps, low=2, high=MAX_STEPS)
    window = max(1, steps // 2) if window is None else check_int("--window", window, low=1, high=steps)
    to_lr = check_float("--to", to_lr, low=0.0, low_open=True, high=MAX_RATE)
    return to_lr, steps, window


def whatif(
    run_dir: str | Path,
    to_lr: float,
    at_epoch: int | None = None,
    steps: int = 50,
    window: int | None = None,
    *,
    model: str | None = None,
    data: str | None = None,
    progress: Progress = quiet,
) -> WhatIf:
    """Cut the rate to ``to_lr`` after ``at_epoch`` completed epochs (default: the last checkpoint) and measure;
    nothing is written (saving the result is the job's, lrscope.jobs.whatif).  ``model``/``data``: the
    ``--model``/``--data`` the user gave (a run built by a factory needs them: :func:`lrscope.train.restore.load_run`).
    """
    from ..train.config import make_optimizer
    from ..train.restore import load_run

    to_lr, steps, window = check_cut(to_lr, steps, window)
    at_epoch = None if at_epoch is None else check_int("--at", at_epoch, low=0)
    from ..logs.rundir import require_run_dir

    require_run_dir(run_dir)
    if not list_checkpoints(run_dir):
        raise UserError(
            f"{run_dir} has no checkpoints (RUN/checkpoints/epoch-NNNN.pt); whatif restarts the run from "
            "one: `lrscope train` writes one every epoch (keep them all with --keep 0)"
        )
    run = load_run(run_dir, epoch=at_epoch, model=model, data=data)
    epoch_rows = {int(r["epoch"]): r for r in read_metrics(run_dir, "epoch") if "epoch" in r}
    lr_from = float(epoch_rows[run.epoch]["lr"]) if run.epoch in epoch_rows else float(run.lr)
    result = cut_rate(run.model, run.optimizer, lambda m: make_optimizer(run.config, m), run.loss_fn, run.bundle,
                      batch_size=run.config.batch_size, seed=run.config.seed, epoch=run.epoch, lr_from=lr_from,
                      to_lr=to_lr, steps=steps, window=window, progress=progress)
    result.run_train_loss = float(epoch_rows.get(run.epoch, {}).get("train_loss", math.nan))
    try:
        from ..analysis.noise_floor import predict_decay

        prediction = predict_decay(
            list(epoch_rows.values()),
            read_metrics(run_dir, "step"),
            read_config(run_dir),
            float(to_lr),
            run.epoch,
        )
        result.predicted_drop = prediction.predicted_drop
        observed = result.observed_drop
        result.ratio = result.predicted_drop / observed if observed > 0 else None
    except UserError as error:
        result.notes.append(f"no prediction: {error}")
    return result


def cut_rate(model, optimizer, make_optimizer, loss_fn, bundle, *, batch_size: int, seed: int, epoch: int,
             lr_from: float, to_lr: float, steps: int, window: int, start: str | None = None,
             progress: Progress = quiet) -> WhatIf:
    """The what-if measurement itself, from ``model`` in ``optimizer``'s state (both left untouched: each rate
    trains a copy, ``make_optimizer(copy)`` building its optimizer) on the batches of (``seed``, ``epoch``) on.
    No prediction: ``predicted_drop`` and ``ratio`` are None, ``run_train_loss`` NaN (the caller fills them).
    ``start`` names the starting point in messages (default: epoch ``epoch``).  ``progress(steps done, 2 *
    steps, status)`` after every step of the two branches."""
    if to_lr >= lr_from:
        raise UserError(
            f"--to {to_lr:g} is not below the rate of {start or f'epoch {epoch}'} ({lr_from:g}); the noise-floor "
            "model predicts the effect of decays, not of increases"
        )
    batches = _batches(bundle, batch_size, seed, epoch, steps)
    n_eval = min(bundle.n_train, EVAL_EXAMPLES)
    pick = torch.randperm(bundle.n_train, generator=torch.Generator().manual_seed(0))[:n_eval]
    eval_x, eval_y = bundle.train_x[pick], bundle.train_y[pick]
    if bundle.augment:  # the run optimises the augmented loss: measure that one (one fixed draw)
        from ..train.data import augment_batch

        flip = bundle.is_image and bundle.input_shape[0] == 3
        eval_x = augment_batch(eval_x, torch.Generator().manual_seed(1), flip=flip)

    def probe(net):
        return subset_loss(net, loss_fn, eval_x, eval_y, batch_size)

    probe_at = sorted(
        {int(v) for v in np.linspace(steps - window + 1, steps, min(EVAL_POINTS, window)).round()}
    )

    def ticks(offset: int, lr: float):
        return lambda i, loss: progress(offset + i, 2 * steps, f"lr {lr:g}: loss {loss:.3g}")

    with torch.random.fork_rng(devices=[]):
        net, opt = _copy(model, optimizer, make_optimizer)
        old, old_eval = continue_at(net, opt, loss_fn, lr_from, batches, probe, probe_at, progress=ticks(0, lr_from))
        net, opt = _copy(model, optimizer, make_optimizer)
        new, new_eval = continue_at(net, opt, loss_fn, float(to_lr), batches, probe, probe_at,
                                    progress=ticks(steps, float(to_lr)))
    before, after = float(old[-window:].mean()), float(new[-window:].mean())
    return WhatIf(
        epoch=epoch,
        lr_from=lr_from,
        lr_to=float(to_lr),
        steps=steps,
        window=window,
        loss_before=before,
        loss_after=after,
        observed_drop=before - after,
        predicted_drop=None,
        ratio=None,
        subset_drop=float(old_eval.mean() - new_eval.mean()),
        eval_examples=n_eval,
        eval_steps=probe_at,
        run_train_loss=math.nan,
        old_rate_losses=old.tolist(),
        new_rate_losses=new.tolist(),
    )
