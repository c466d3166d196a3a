"""Curvature of the loss (public API): Hessian-vector products, top eigenvalues, trace, sharpness tracking.

    import lrscope.curvature as C
    r = C.top_eigenvalues(model, nn.CrossEntropyLoss(), (x, y), k=1, tol=1e-3)
    r.values[0], r.hvp_count
    C.hutchinson_trace(model, loss_fn, loader).value
    train(config, out, hooks=[C.SharpnessHook(every=50)])     # or `lrscope train --sharpness-every 50`

See :mod:`lrscope.probes.curvature` for the formulas and papers.
"""

from __future__ import annotations

from .probes.curvature import (
    Eigen,
    HessianOperator,
    SharpnessHook,
    Trace,
    hutchinson_trace,
    lanczos,
    power_iteration,
    stability_thresholds,
    top_eigenvalues,
)

__all__ = [
    "Eigen",
    "HessianOperator",
    "SharpnessHook",
    "Trace",
    "hutchinson_trace",
    "lanczos",
    "power_iteration",
    "stability_thresholds",
    "top_eigenvalues",
]
