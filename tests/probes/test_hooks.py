"""The probes a training config asks for, built as hooks for the loop, and resumed with their state."""

from __future__ import annotations

from lrscope.logs.rundir import read_metrics
from lrscope.probes.curvature import SharpnessHook
from lrscope.probes.hooks import hooks_for
from lrscope.probes.noise import NoiseHook
from lrscope.train.config import TrainConfig
from lrscope.train.loop import train

NOISY = dict(data="synthetic:n=240,dim=8,classes=3", model="mlp", schedule="multistep(0.1, milestones=[2])",
             batch_size=32, threads=1, noise_every=4)


def test_hooks_for_builds_the_probes_a_config_asks_for():
    assert hooks_for(TrainConfig()) == []
    noise, sharpness = hooks_for(TrainConfig(noise_every=3, sharpness_every=5))
    assert isinstance(noise, NoiseHook) and noise.every == 3
    assert isinstance(sharpness, SharpnessHook) and sharpness.every == 5 and sharpness.unit == "step"


def test_a_resumed_run_gets_its_hooks_back_with_their_state(tmp_path):
    straight = TrainConfig(**NOISY, epochs=3)
    train(straight, tmp_path / "straight", hooks=hooks_for(straight))
    first = TrainConfig(**NOISY, epochs=1)
    train(first, tmp_path / "resumed", hooks=hooks_for(first))
    train(straight, tmp_path / "resumed", resume=True, hooks=hooks_for(straight))
    for kind in ("step", "epoch"):
        want = [{k: v for k, v in r.items() if "time" not in k} for r in read_metrics(tmp_path / "straight", kind)]
        got = [{k: v for k, v in r.items() if "time" not in k} for r in read_metrics(tmp_path / "resumed", kind)]
        assert got == want and any("noise_trace" in r for r in got)
