"""Loss-landscape slices (public API): ``line``, ``plane``, ``interpolate``, ``trajectory``.

    import lrscope.landscape as L
    r = L.plane(model, nn.CrossEntropyLoss(), (x, y), steps=21, span=1.0, seed=0)
    r.loss[i, j]    # loss at theta0 + r.x[j] * d1 + r.y[i] * d2, with (d1, d2) = r.directions
    r.save("plane")  # plane.npz + plane.json

See :mod:`lrscope.probes.landscape` (slices), :mod:`lrscope.probes.directions` (filter normalisation, PCA) and
:mod:`lrscope.probes.evaluate` (how the points are run) for the details.
"""

from __future__ import annotations

from .probes.directions import interpolation_direction, random_directions, trajectory_pca
from .probes.landscape import Surface, fingerprint, interpolate, line, plane, trajectory

__all__ = [
    "Surface",
    "fingerprint",
    "interpolate",
    "interpolation_direction",
    "line",
    "plane",
    "random_directions",
    "trajectory",
    "trajectory_pca",
]
