"""Pictures of loss-landscape slices (contour, heatmap, 3-D surface; a line plot; a trajectory over its contour).

Takes a result with ``kind``, ``x``, ``y``, ``loss`` (and ``path`` for a trajectory) -- a
:class:`lrscope.probes.landscape.LandscapeSurface` or anything shaped like it -- and draws it.  Never computes a
loss, never trains, never imports torch.  Losses are drawn on a log scale when they span more than two decades.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .palette import place_legend
from .ticks import PlainFormatter, ReadableLogLocator, plain_number


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _levels(loss: np.ndarray, n: int = 30, *, log: bool | None = None) -> tuple[np.ndarray, bool]:
    """Contour levels: geometric when ``log`` (default: positive values spanning more than two decades)."""
    finite = loss[np.isfinite(loss)]
    lo, hi = float(finite.min()), float(finite.max())
    if log is None:
        log = lo > 0 and hi / lo > 100
    if log and lo > 0 and hi > lo:
        return np.geomspace(lo, hi, n), True
    if hi <= lo:
        hi = lo + 1e-12
    return np.linspace(lo, hi, n), False


def _contour(ax, surface, fig, *, log: bool | None = None):
    loss = np.asarray(surface.loss, dtype=float)
    levels, log = _levels(loss, log=log)
    norm = None
    if log:
        from matplotlib.colors import LogNorm

        norm = LogNorm(vmin=levels[0], vmax=levels[-1])
    cs = ax.contourf(surface.x, surface.y, loss, levels=levels, cmap="viridis", norm=norm, extend="both")
    ax.contour(surface.x, surface.y, loss, levels=levels[::3], colors="white", linewidths=0.4, alpha=0.6)
    bar = fig.colorbar(cs, ax=ax, label="loss (log scale)" if log else "loss")
    if log:  # the levels would be the ticks ("1.29824x10^1"): round values instead
        bar.locator = ReadableLogLocator()
        bar.formatter = PlainFormatter()
        bar.update_ticks()
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


STAGE_COLORS = ("#ff5a36", "#00d5ff", "#ff00c8", "#ffd400", "#7dff6b")  # bright on viridis, apart from each other


def _draw_path(ax, coords, stages, lrs, *, labels: bool = True, markersize: float = 4.5):
    ax.plot(coords[:, 0], coords[:, 1], color="black", linewidth=2.6, alpha=0.5, zorder=3)
    for stage in sorted(set(stages)):
        idx = [i for i, s in enumerate(stages) if s == stage]
        # a stage's segment starts at the last point of the previous stage, so the path stays continuous
        seg = ([idx[0] - 1] if idx[0] > 0 else []) + idx
        lr = lrs[idx[-1]]
        label = f"stage {stage + 1}" + (f": lr {plain_number(lr)}" if lr is not None else "") if labels else None
        ax.plot(coords[seg, 0], coords[seg, 1], "-o", color=STAGE_COLORS[stage % len(STAGE_COLORS)],
                markersize=markersize, markeredgecolor="black", markeredgewidth=0.5, linewidth=1.6,
                zorder=4 + stage, label=label)


def _free_corner(ax, coords, size: float = 0.36) -> list[float]:
    """The axes-fraction box, in one of the four corners, that covers the fewest points of the path."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    fx = (coords[:, 0] - x0) / (x1 - x0)
    fy = (coords[:, 1] - y0) / (y1 - y0)
    corners = [(0.03, 0.03), (0.61, 0.03), (0.03, 0.61), (0.61, 0.61)]

    def covered(corner):
        cx, cy = corner
        return int(np.sum((fx >= cx - 0.03) & (fx <= cx + size + 0.03) & (fy >= cy - 0.03) & (fy <= cy + size + 0.03)))

    cx, cy = min(corners, key=covered)
    return [cx, cy, size, size]


def _path(ax, path):
    """The path over the contour, one colour a stage (later stages drawn on top), the final point a hollow
    ring that leaves the points under it visible; when the later stages crowd into a small corner, an inset
    zooms on them."""
    coords = np.asarray(path["coords"], dtype=float)
    stages = list(path.get("stage") or [0] * len(coords))
    lrs = list(path.get("lr") or [None] * len(coords))
    epochs = list(np.asarray(path.get("epochs", range(len(coords)))).tolist())
    _draw_path(ax, coords, stages, lrs)
    ax.annotate(
        f"epoch {epochs[0]}", coords[0], textcoords="offset points", xytext=(6, 4), color="white", fontsize=8
    )
    ax.plot(*coords[-1], marker="o", markersize=14, fillstyle="none", markeredgecolor="red", markeredgewidth=1.8,
            zorder=20, label=f"final (epoch {epochs[-1]})")
    later = [i for i, s in enumerate(stages) if s > 0]
    if later:
        part = coords[[later[0] - 1] + later] if later[0] > 0 else coords[later]
        span = np.ptp(part, axis=0)
        whole = np.ptp(coords, axis=0)
        if np.all(whole > 0) and np.all(span < 0.2 * whole):
            inset = ax.inset_axes(_free_corner(ax, coords))
            _draw_path(inset, coords, stages, lrs, labels=False, markersize=5)
            inset.plot(*coords[-1], marker="o", markersize=14, fillstyle="none", markeredgecolor="red",
                       markeredgewidth=1.8, zorder=20)
            pad = 0.25 * max(span.max(), 1e-12)
            inset.set_xlim(part[:, 0].min() - pad, part[:, 0].max() + pad)
            inset.set_ylim(part[:, 1].min() - pad, part[:, 1].max() + pad)
            inset.set_facecolor("#2b2b2b")
            inset.set_xticks([])
            inset.set_yticks([])
            inset.set_title("later stages, zoomed", fontsize=7, color="white", pad=2)
            ax.indicate_inset_zoom(inset, edgecolor="white", alpha=0.8)


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
        fig, ax = plt.subplots(figsize=(9.0, 6), layout="constrained")
        loss = np.asarray(surface.loss, dtype=float)
        _contour(ax, surface, fig, log=bool(np.nanmin(loss) > 0))  # log: the basin keeps its contours
        _path(ax, surface.path)
        ev = surface.path.get("explained_variance")
        if ev is not None:
            ev = np.asarray(ev, dtype=float)
            ax.set_xlabel(f"PC 1 ({100 * ev[0]:.0f} % of the path's variance)")
            ax.set_ylabel(f"PC 2 ({100 * ev[1]:.0f} %)")
        place_legend(fig)
    else:
        fig = plt.figure(figsize=(16, 4.8))
        ax1 = fig.add_subplot(1, 3, 1)
        _contour(ax1, surface, fig)
        ax1.plot(0, 0, marker="*", color="red", markersize=10)
        ax1.set_title("contour")
        _heatmap(fig.add_subplot(1, 3, 2), surface, fig)
        _surface3d(fig.add_subplot(1, 3, 3, projection="3d"), surface)
    fig.suptitle(title or f"loss landscape: {kind}")
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    save_figure(fig, out, dpi=110)
    plt.close(fig)
    return Path(out)
