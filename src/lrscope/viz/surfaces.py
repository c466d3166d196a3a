"""Pictures of loss-landscape slices (contour, heatmap, 3-D surface; a line plot; a trajectory over its contour).

Takes a result with ``kind``, ``x``, ``y``, ``loss`` (and ``path`` for a trajectory) -- a
:class:`lrscope.probes.landscape.LandscapeSurface` or anything shaped like it -- and draws it.  Never computes a
loss, never trains, never imports torch.  Losses are drawn on a log scale when they span more than two decades.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _levels(loss: np.ndarray, n: int = 30) -> tuple[np.ndarray, bool]:
    finite = loss[np.isfinite(loss)]
    lo, hi = float(finite.min()), float(finite.max())
    if lo > 0 and hi / lo > 100:
        return np.geomspace(lo, hi, n), True
    if hi <= lo:
        hi = lo + 1e-12
    return np.linspace(lo, hi, n), False


def _contour(ax, surface, fig):
    loss = np.asarray(surface.loss, dtype=float)
    levels, log = _levels(loss)
    norm = None
    if log:
        from matplotlib.colors import LogNorm

        norm = LogNorm(vmin=levels[0], vmax=levels[-1])
    cs = ax.contourf(surface.x, surface.y, loss, levels=levels, cmap="viridis", norm=norm, extend="both")
    ax.contour(surface.x, surface.y, loss, levels=levels[::3], colors="white", linewidths=0.4, alpha=0.6)
    fig.colorbar(cs, ax=ax, label="loss")
    ax.set_xlabel("direction 1")
    ax.set_ylabel("direction 2")


def _heatmap(ax, surface, fig):
    loss = np.asarray(surface.loss, dtype=float)
    x, y = np.asarray(surface.x), np.asarray(surface.y)
    im = ax.imshow(loss, origin="lower", aspect="auto", cmap="magma", extent=(x[0], x[-1], y[0], y[-1]))
    fig.colorbar(im, ax=ax, label="loss")
    ax.set_title("heatmap")
    ax.set_xlabel("direction 1")


def _surface3d(ax, surface):
    xx, yy = np.meshgrid(surface.x, surface.y)
    ax.plot_surface(
        xx, yy, np.asarray(surface.loss, dtype=float), cmap="viridis", linewidth=0, antialiased=True
    )
    ax.set_title("surface")
    ax.set_zlabel("loss")


def _path(ax, path):
    coords = np.asarray(path["coords"], dtype=float)
    stages = list(path.get("stage") or [0] * len(coords))
    lrs = list(path.get("lr") or [None] * len(coords))
    epochs = list(np.asarray(path.get("epochs", range(len(coords)))).tolist())
    colors = _plt().get_cmap("autumn")(np.linspace(0, 0.85, max(stages) + 1))
    ax.plot(coords[:, 0], coords[:, 1], color="white", linewidth=2.5, zorder=3)
    for stage in sorted(set(stages)):
        idx = [i for i, s in enumerate(stages) if s == stage]
        # a stage's segment starts at the last point of the previous stage, so the path stays continuous
        seg = ([idx[0] - 1] if idx[0] > 0 else []) + idx
        lr = lrs[idx[-1]]
        label = f"stage {stage + 1}" + (f": lr {lr:g}" if lr is not None else "")
        ax.plot(
            coords[seg, 0],
            coords[seg, 1],
            "-o",
            color=colors[stage],
            markersize=4,
            linewidth=1.6,
            zorder=4,
            label=label,
        )
    ax.annotate(
        f"epoch {epochs[0]}", coords[0], textcoords="offset points", xytext=(4, 4), color="white", fontsize=8
    )
    ax.plot(
        *coords[-1], marker="*", color="red", markersize=12, zorder=5, label=f"final (epoch {epochs[-1]})"
    )
    ax.legend(loc="best", fontsize=8, framealpha=0.8)


def plot_surface(surface, out: str | Path, title: str | None = None) -> Path:
    """Draw ``surface`` into ``out`` (PNG, written atomically) and return the path.

    plane: contour, heatmap, 3-D surface side by side; line and interp: loss (and accuracy) against the
    coordinate; trajectory: the contour of the PCA plane with the path over it, coloured by LR stage.
    """
    from .save import save_figure

    plt = _plt()
    kind = surface.kind
    if kind in ("line", "interp"):
        fig, ax = plt.subplots(figsize=(6.5, 4.2))
        ax.plot(surface.x, surface.loss, "-o", markersize=3, color="C0", label="loss")
        ax.set_xlabel("alpha (model a -> model b)" if kind == "interp" else "distance along direction")
        ax.set_ylabel("loss")
        if (
            np.nanmax(surface.loss) / max(np.nanmin(surface.loss), 1e-300) > 100
            and np.nanmin(surface.loss) > 0
        ):
            ax.set_yscale("log")
        if getattr(surface, "acc", None) is not None:
            twin = ax.twinx()
            twin.plot(surface.x, surface.acc, "--", color="C1", label="accuracy")
            twin.set_ylabel("accuracy")
        if kind == "interp":
            for a in (0.0, 1.0):
                ax.axvline(a, color="grey", linestyle=":", linewidth=1)
    elif kind == "trajectory":
        fig, ax = plt.subplots(figsize=(7.5, 6))
        _contour(ax, surface, fig)
        _path(ax, surface.path)
        ev = surface.path.get("explained_variance")
        if ev is not None:
            ev = np.asarray(ev, dtype=float)
            ax.set_xlabel(f"PC 1 ({100 * ev[0]:.0f} % of the path's variance)")
            ax.set_ylabel(f"PC 2 ({100 * ev[1]:.0f} %)")
    else:
        fig = plt.figure(figsize=(16, 4.8))
        ax1 = fig.add_subplot(1, 3, 1)
        _contour(ax1, surface, fig)
        ax1.plot(0, 0, marker="*", color="red", markersize=10)
        ax1.set_title("contour")
        _heatmap(fig.add_subplot(1, 3, 2), surface, fig)
        _surface3d(fig.add_subplot(1, 3, 3, projection="3d"), surface)
    fig.suptitle(title or f"loss landscape: {kind}")
    fig.tight_layout()
    save_figure(fig, out, dpi=110)
    plt.close(fig)
    return Path(out)
