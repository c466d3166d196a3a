"""The probes a training config asks for, as hooks for the reference loop.

    train(config, out, resume=resume, hooks=hooks_for(config))

The loop never builds probes itself (train does not import probes); whoever starts a run turns the config's
``noise_every`` and ``sharpness_every`` into hook objects here.  The order is fixed (noise, then sharpness),
so a resumed run gets its hooks at the places their saved states were checkpointed from.
"""

from __future__ import annotations

from ..train.config import TrainConfig


def hooks_for(config: TrainConfig) -> list:
    """:class:`~lrscope.probes.noise.NoiseHook` every ``noise_every`` steps and
    :class:`~lrscope.probes.curvature.SharpnessHook` every ``sharpness_every`` steps (0: none)."""
    hooks = []
    # imported only when asked for: the curvature module pays for torch._dynamo when it is imported
    if config.noise_every > 0:
        from .noise import NoiseHook

        hooks.append(NoiseHook(every=config.noise_every))
    if config.sharpness_every > 0:
        from .curvature import SharpnessHook

        hooks.append(SharpnessHook(every=config.sharpness_every))
    return hooks
