"""Two-dimensional test surfaces for watching a learning rate at work.

Each surface is a value ``f(x, y)`` and its analytic gradient, both NumPy-vectorised (``x`` and ``y``
broadcast), with a plotting window, a start point, the location of its minimum and its largest Hessian
eigenvalue at that minimum (``h_max``), which sets the stability limit of plain gradient descent there: ``lr <
2 / h_max``.

- ``quadratic``: an ill-conditioned valley ``f = ½ (h1 u² + h2 v²)`` in coordinates rotated by 30 degrees, h1
  = 1, h2 = 25 (condition number 25).  Gradient descent diverges for lr > 2/25 = 0.08.
- ``rosenbrock``: ``(1 - x)² + 100 (y - x²)²`` (Rosenbrock 1960), the curved banana valley; minimum (1, 1),
  h_max ≈ 1001.6 there, so lr = 0.002 sits right at the edge of stability at the minimum.
- ``beale``: ``(1.5 - x + xy)² + (2.25 - x + xy²)² + (2.625 - x + xy³)²`` (Beale 1958), flat plateaus and
  steep walls; minimum (3, 0.5).
- ``rugged``: a broad bowl with two scales of ripples, ``f = ½ (x²/2 + y²) + a1 (2 - cos w1 x - cos w1 y) + a2
  (2 - cos w2 x - cos w2 y)``: a large rate sees only the bowl (it bounces over the ripples), a small one
  resolves the fine ripples and settles in the first dimple it meets.  Its default run (its :class:`Story`) is lr
  0.04 and lr 0.35 beside a step from 0.35 to 0.04 at half the steps, with gradient noise 0.1: the schedule sits on
  the high rate's floor near the centre, then drops into the central dimple right after the decay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import UserError


@dataclass(frozen=True)
class Story:
    """The default run of a surface: constant ``low`` and ``high`` rates and a step from high to low, with noise.

    ``trap`` names what holds the low rate (words for the caption, e.g. "the ripples").
    """

    low: float
    high: float
    noise: float
    trap: str

    def schedule(self, steps: int) -> str:
        """The step schedule's spec: ``high`` for the first half of ``steps``, ``low`` after."""
        return f"piecewise([{self.high:g}, {self.low:g}], [{max(1, steps // 2)}])"

    def schedule_label(self, steps: int) -> str:
        return f"step {self.high:g} → {self.low:g} at {max(1, steps // 2)}"


Array = np.ndarray


@dataclass(frozen=True)
class ToySurface:
    """A 2-D loss surface with its analytic gradient and what a picture of it needs."""

    name: str
    title: str
    value: Callable[[Array, Array], Array]
    gradient: Callable[[Array, Array], tuple[Array, Array]]
    window: tuple[float, float, float, float]  # xmin, xmax, ymin, ymax
    start: tuple[float, float]
    minimum: tuple[float, float]
    min_value: float
    h_max: float
    log_contours: bool  # contour on log(f - f_min): for surfaces spanning many decades
    default_lrs: tuple[float, ...]
    default_steps: int
    description: str
    story: Story | None = None  # what the default run (no --lrs, no --schedule) shows, if anything

    def __call__(self, x, y):
        return self.value(np.asarray(x, dtype=float), np.asarray(y, dtype=float))

    def grad(self, x, y) -> tuple[Array, Array]:
        return self.gradient(np.asarray(x, dtype=float), np.asarray(y, dtype=float))

    def grid(self, n: int = 200) -> tuple[Array, Array, Array]:
        """(X, Y, Z) on an n x n grid over the window."""
        xmin, xmax, ymin, ymax = self.window
        X, Y = np.meshgrid(np.linspace(xmin, xmax, n), np.linspace(ymin, ymax, n))
        return X, Y, self(X, Y)


# ------------------------------------------------------------------------------------------------ quadratic

_Q_ANGLE = np.deg2rad(30.0)
_Q_H = (1.0, 25.0)
_Q_C, _Q_S = np.cos(_Q_ANGLE), np.sin(_Q_ANGLE)


def _quadratic(x, y):
    u = _Q_C * x + _Q_S * y
    v = -_Q_S * x + _Q_C * y
    return 0.5 * (_Q_H[0] * u**2 + _Q_H[1] * v**2)


def _quadratic_grad(x, y):
    u = _Q_C * x + _Q_S * y
    v = -_Q_S * x + _Q_C * y
    gu, gv = _Q_H[0] * u, _Q_H[1] * v
    return _Q_C * gu - _Q_S * gv, _Q_S * gu + _Q_C * gv


# ------------------------------------------------------------------------------------------------ rosenbrock


def _rosenbrock(x, y):
    return (1.0 - x) ** 2 + 100.0 * (y - x**2) ** 2


def _rosenbrock_grad(x, y):
    r = y - x**2
    return -2.0 * (1.0 - x) - 400.0 * x * r, 200.0 * r


# ------------------------------------------------------------------------------------------------ beale

_BEALE_C = (1.5, 2.25, 2.625)


def _beale(x, y):
    return sum((c - x + x * y ** (k + 1)) ** 2 for k, c in enumerate(_BEALE_C))


def _beale_grad(x, y):
    gx = np.zeros(np.broadcast(x, y).shape)
    gy = np.zeros_like(gx)
    for k, c in enumerate(_BEALE_C):
        p = k + 1
        r = c - x + x * y**p
        gx = gx + 2.0 * r * (y**p - 1.0)
        gy = gy + 2.0 * r * p * x * y ** (p - 1)
    return gx, gy


# ------------------------------------------------------------------------------------------------ rugged

_R_BOWL = (0.5, 1.0)  # curvatures of the bowl along x and y
_R_A1, _R_W1 = 0.08, 2.5  # coarse terraces: slope at most a1 w1 = 0.2, curvature a1 w1² = 0.5
_R_A2, _R_W2 = 0.06, 12.0  # fine dimples: slope at most a2 w2 = 0.72, curvature a2 w2² = 8.64


def _rugged(x, y):
    bowl = 0.5 * (_R_BOWL[0] * x**2 + _R_BOWL[1] * y**2)
    coarse = _R_A1 * (2.0 - np.cos(_R_W1 * x) - np.cos(_R_W1 * y))
    fine = _R_A2 * (2.0 - np.cos(_R_W2 * x) - np.cos(_R_W2 * y))
    return bowl + coarse + fine


def _rugged_grad(x, y):
    gx = _R_BOWL[0] * x + _R_A1 * _R_W1 * np.sin(_R_W1 * x) + _R_A2 * _R_W2 * np.sin(_R_W2 * x)
    gy = _R_BOWL[1] * y + _R_A1 * _R_W1 * np.sin(_R_W1 * y) + _R_A2 * _R_W2 * np.sin(_R_W2 * y)
    return gx, gy


SURFACES: dict[str, ToySurface] = {
    "quadratic": ToySurface(
        name="quadratic",
        title="ill-conditioned quadratic valley (κ = 25)",
        value=_quadratic,
        gradient=_quadratic_grad,
        window=(-3.2, 3.2, -2.4, 2.4),
        start=(-2.6, 0.4),
        minimum=(0.0, 0.0),
        min_value=0.0,
        h_max=_Q_H[1],
        log_contours=True,
        default_lrs=(0.01, 0.04, 0.078),
        default_steps=200,
        description="½(u² + 25 v²) rotated 30°; gradient descent diverges for lr > 0.08",
    ),
    "rosenbrock": ToySurface(
        name="rosenbrock",
        title="Rosenbrock valley",
        value=_rosenbrock,
        gradient=_rosenbrock_grad,
        window=(-2.0, 2.0, -1.0, 3.0),
        start=(-1.2, 1.0),
        minimum=(1.0, 1.0),
        min_value=0.0,
        h_max=1001.6,
        log_contours=True,
        default_lrs=(0.0005, 0.001, 0.002),
        default_steps=3000,
        description="(1-x)² + 100(y-x²)²; minimum (1, 1), stable at the minimum for lr < 0.002",
    ),
    "beale": ToySurface(
        name="beale",
        title="Beale function",
        value=_beale,
        gradient=_beale_grad,
        window=(-4.5, 4.5, -4.5, 4.5),
        start=(1.0, 1.6),
        minimum=(3.0, 0.5),
        min_value=0.0,
        h_max=48.98,  # 2 JᵀJ at (3, 0.5), where the residuals vanish
        log_contours=True,
        default_lrs=(0.001, 0.005, 0.02),
        default_steps=2000,
        description="(1.5-x+xy)² + (2.25-x+xy²)² + (2.625-x+xy³)²; minimum (3, 0.5)",
    ),
    "rugged": ToySurface(
        name="rugged",
        title="rugged multi-scale bowl",
        value=_rugged,
        gradient=_rugged_grad,
        window=(-3.0, 3.0, -2.0, 2.0),
        start=(-2.6, 1.6),
        minimum=(0.0, 0.0),
        min_value=0.0,
        h_max=_R_BOWL[1] + _R_A1 * _R_W1**2 + _R_A2 * _R_W2**2,
        log_contours=True,
        default_lrs=(0.04, 0.35),
        default_steps=300,
        story=Story(low=0.04, high=0.35, noise=0.1, trap="the ripples"),
        description="bowl ½(x²/2 + y²) + coarse terraces (period 2.5) + fine dimples (period 0.52); "
        "the dimples trap a rate below about 0.2 and are invisible to one above it",
    ),
}


def get_surface(name: str) -> ToySurface:
    """The surface called ``name``; a :class:`UserError` listing the names otherwise."""
    key = str(name).strip().lower()
    if key not in SURFACES:
        raise UserError(f"unknown surface {name!r}; expected one of: {', '.join(SURFACES)}")
    return SURFACES[key]
