"""wsd(): warm-up-stable-decay, against transformers' get_wsd_schedule (stepped as a torch scheduler) and timm's
WSDLRScheduler maths (timm is not installed beside torch 2.13: its formula is written out from its docstring,
lr = lr_min + (base - lr_min) * decay(frac) with a constant stable phase; against timm 1.0.31's own class, loaded
from its source, the two agreed to 1e-16 on these cases)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lrscope.errors import UserError
from lrscope.schedules import parse_schedule

CASES = [
    dict(lr=0.1, total=100, decay_frac=0.2, decay="linear", warmup=0, min_lr=0.0),
    dict(lr=0.1, total=100, decay_frac=0.2, decay="cosine", warmup=10, min_lr=0.0),
    dict(lr=3e-4, total=240, decay_frac=0.1, decay="1-sqrt", warmup=12, min_lr=3e-5),
    dict(lr=1.0, total=50, decay_frac=1.0, decay="linear", warmup=0, min_lr=0.1),
]


def spec(c):
    return (f"wsd({c['lr']}, total={c['total']}, decay_frac={c['decay_frac']}, decay='{c['decay']}', "
            f"warmup={c['warmup']}, min_lr={c['min_lr']})")


@pytest.mark.parametrize("c", CASES, ids=lambda c: c["decay"])
def test_wsd_matches_transformers_get_wsd_schedule(c):
    transformers = pytest.importorskip("transformers")
    s = parse_schedule(spec(c))
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=c["lr"])
    sched = transformers.get_wsd_schedule(
        opt, num_warmup_steps=c["warmup"], num_decay_steps=round(c["decay_frac"] * c["total"]),
        num_training_steps=c["total"], decay_type=c["decay"], min_lr_ratio=c["min_lr"] / c["lr"])
    got, want = [], []
    for t in range(c["total"] + 5):
        got.append(float(s(t)))
        want.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert got == pytest.approx(want, rel=1e-12, abs=1e-15)


def timm_wsd(t, base, *, t_initial, decay_t, lr_min, warmup_t, warmup_lr_init, decay_fn):
    if t < warmup_t:
        return warmup_lr_init + t * (base - warmup_lr_init) / warmup_t
    t_decay = t - warmup_t - (t_initial - decay_t)
    if t_decay <= 0:
        return base
    frac = min(t_decay / decay_t, 1.0)
    factor = {"linear": 1 - frac, "1-sqrt": 1 - math.sqrt(frac), "cosine": 0.5 * (1 + math.cos(math.pi * frac))}
    return lr_min + (base - lr_min) * factor[decay_fn]


@pytest.mark.parametrize("c", CASES, ids=lambda c: c["decay"])
def test_wsd_matches_timms_wsd_scheduler(c):
    s = parse_schedule(spec(c))
    d = round(c["decay_frac"] * c["total"])
    for t in range(c["total"] + 5):
        want = timm_wsd(t, c["lr"], t_initial=c["total"] - c["warmup"], decay_t=d, lr_min=c["min_lr"],
                        warmup_t=c["warmup"], warmup_lr_init=c["min_lr"], decay_fn=c["decay"])
        assert float(s(t)) == pytest.approx(want, rel=1e-12, abs=1e-15)


def test_wsd_has_no_jumps_and_round_trips():
    s = parse_schedule("wsd(0.1, total=1000, decay='1-sqrt', warmup=50)")
    assert len(s.events(0, 2000)) == 0 and parse_schedule(s.spec) == s
    values = s(np.arange(1200.0))
    assert values.max() == 0.1 and values[-1] == 0.0 and np.all(np.diff(values[950:1001]) <= 0)


@pytest.mark.parametrize("bad, words", [
    ("wsd(0.1, total=100, decay='exp')", "decay must be one of"),
    ("wsd(0.1, total=3, decay_frac=0.1)", "at least 1 step"),
    ("wsd(0.1, total=10, warmup=9)", "do not fit"),
    ("wsd(0.1, total=10, min_lr=0.2)", "min_lr"),
    ("wsd(0.1, total=10, decay_frac=0)", "decay_frac"),
])
def test_bad_wsd_is_one_clear_error(bad, words):
    with pytest.raises(UserError, match=words):
        parse_schedule(bad)
