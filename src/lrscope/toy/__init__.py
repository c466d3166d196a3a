"""Toy 2-D loss surfaces and vectorised optimizers, for watching what a learning rate does."""

from .optimizers import OPTIMIZERS, Trajectories, noise_floor, optimize, run_rates
from .surfaces import SURFACES, ToySurface, get_surface

__all__ = [
    "OPTIMIZERS",
    "SURFACES",
    "ToySurface",
    "Trajectories",
    "get_surface",
    "noise_floor",
    "optimize",
    "run_rates",
]
