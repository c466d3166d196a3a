"""Pictures of optimizers on toy surfaces: one panel per run over the contours, the loss curves beside them.

Animations are rendered with Matplotlib's Agg canvas directly (no pyplot): the contours, labels and axes are
drawn once, their pixels kept, and each frame restores them and draws only the moving artists (paths, current
points, loss curves, the step counter) before its pixels are copied out.  GIFs go through Pillow with one
shared palette (no flicker between frames); MP4 through ffmpeg fed raw frames; PNG is the final frame.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import UserError
from ..toy.optimizers import Trajectories
from ..toy.story import first_decay, smooth, smoothing_window
from .palette import run_color
from .ticks import readable_axis

FORMATS = (".gif", ".mp4", ".png")
MAX_RUNS = 6
TAIL = 25  # the last steps of a path drawn bold; the rest thin, so a bouncing run does not hide the surface


@dataclass
class _Scene:
    fig: object
    canvas: object
    update: object  # update(k): move the artists to step k
    artists: list


def frame_steps(steps: int, frames: int) -> np.ndarray:
    """The step shown in each frame: ``frames`` values from 0 to ``steps``, evenly spaced, distinct."""
    frames = max(2, min(int(frames), steps + 1))
    return np.unique(np.round(np.linspace(0, steps, frames)).astype(int))


def _levels(surface, Z: np.ndarray, n: int = 24) -> tuple[np.ndarray, np.ndarray, str]:
    """Contour data and levels: log10 of the excess over the minimum for surfaces spanning many decades."""
    if surface.log_contours:
        excess = np.maximum(Z - surface.min_value, 0.0)
        floor = max(np.percentile(excess, 1), 1e-4)
        data = np.log10(excess + floor)
        label = "log₁₀ loss"
    else:
        data = Z
        label = "loss"
    hi = np.percentile(data, 98)
    return data, np.linspace(data.min(), hi, n), label


def _build_scene(
    traj: Trajectories, *, three_d: bool = False, dpi: int = 90, title: str | None = None, caption: str = ""
) -> _Scene:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    surface = traj.surface
    runs = len(traj.labels)
    if runs > MAX_RUNS:
        raise UserError(f"at most {MAX_RUNS} runs fit side by side; got {runs}")
    has_schedule = any(not np.all(row == row[0]) for row in traj.lr_table)
    panel_w, panel_h = 3.3, 3.3
    loss_w = 3.9 if has_schedule else 3.5
    extra = 0.3 if caption else 0.0
    fig = Figure(figsize=(panel_w * runs + loss_w, panel_h + 0.75 + extra), dpi=dpi, facecolor="white")
    canvas = FigureCanvasAgg(fig)
    widths = [1.0] * runs + [loss_w / panel_w]
    grid = fig.add_gridspec(
        1,
        runs + 1,
        width_ratios=widths,
        left=0.035,
        right=0.95 if has_schedule else 0.985,
        bottom=(0.14 * (panel_h + 0.75) + extra) / (panel_h + 0.75 + extra),
        top=1 - 0.2 * (panel_h + 0.75) / (panel_h + 0.75 + extra),
        wspace=0.34,
    )

    X, Y, Z = surface.grid(240 if not three_d else 70)
    data, levels, zlabel = _levels(surface, Z)
    xmin, xmax, ymin, ymax = surface.window
    moving: list = []
    paths, trails, heads = [], [], []
    steps = traj.steps

    for r in range(runs):
        color = run_color(r)
        if three_d:
            ax = fig.add_subplot(grid[0, r], projection="3d", computed_zorder=False)
            clipped = np.minimum(data, levels[-1])
            ax.plot_surface(
                X,
                Y,
                clipped,
                cmap="Greys",
                alpha=0.55,
                linewidth=0,
                antialiased=True,
                rstride=1,
                cstride=1,
                vmin=levels[0],
                vmax=levels[-1] + 0.6 * (levels[-1] - levels[0]),
            )
            ax.contour(X, Y, clipped, levels=levels[::3], colors="#777777", linewidths=0.4, offset=levels[0])
            ax.set_zlim(levels[0], levels[-1])
            ax.view_init(elev=38, azim=-60)
            ax.set_zticks([])
            ax.set_xlabel("x", labelpad=-8)
            ax.set_ylabel("y", labelpad=-8)
            ax.tick_params(labelsize=6, pad=-3)
            (trail,) = ax.plot([], [], [], color=color, lw=0.8, alpha=0.6, animated=True)
            (path,) = ax.plot([], [], [], color=color, lw=1.3, animated=True)
            (head,) = ax.plot([], [], [], "o", color=color, ms=5, mec="white", mew=0.8, animated=True)
        else:
            ax = fig.add_subplot(grid[0, r])
            ax.contourf(X, Y, data, levels=levels, cmap="Greys", alpha=0.38, extend="both")
            ax.contour(X, Y, data, levels=levels, colors="#6b6b6b", linewidths=0.45, alpha=0.8)
            ax.plot(*surface.minimum, marker="*", ms=11, color="#222222", mec="white", mew=0.6, zorder=3)
            ax.plot(*surface.start, marker="o", ms=5, color="#222222", mec="white", mew=0.6, zorder=3)
            ax.set_xlim(xmin, xmax)
            ax.set_ylim(ymin, ymax)
            ax.set_aspect("equal", adjustable="box")
            ax.tick_params(labelsize=7, length=2)
            (trail,) = ax.plot([], [], color=color, lw=0.8, alpha=0.6, animated=True)
            (path,) = ax.plot([], [], color=color, lw=1.3, alpha=0.95, animated=True, solid_joinstyle="round")
            (head,) = ax.plot([], [], "o", color=color, ms=6, mec="white", mew=1.0, animated=True)
        if np.all(traj.lr_table[r] == traj.lr_table[r, 0]):
            ax.set_title(_short(traj.labels[r]), fontsize=10, color=color, fontweight="bold")
        else:
            ax.set_title(
                f"schedule\n{_short(traj.labels[r], 44)}", fontsize=8.5, color=color, fontweight="bold"
            )
        paths.append(path)
        trails.append(trail)
        heads.append(head)
        moving += [trail, path, head]

    # the loss panel: every run's loss against step, log scale, with the scheduled rate on a twin axis
    lax = fig.add_subplot(grid[0, runs])
    excess = traj.losses - surface.min_value
    finite = excess[np.isfinite(excess) & (excess > 0)]
    lo = max(float(np.percentile(finite, 0.5)) if finite.size else 1e-6, 1e-12)
    hi = float(np.nanmax(excess[:, 0])) if np.isfinite(excess[:, 0]).any() else 1.0
    hi = max(hi, lo * 10)  # a diverging run leaves through the top
    lax.set_yscale("log")
    readable_axis(lax.yaxis)
    lax.set_ylim(lo / 1.5, hi * 1.5)
    lax.set_xlim(0, steps)
    lax.set_xlabel("step", fontsize=8)
    lax.set_ylabel("loss − minimum" if surface.min_value == 0 else "loss above minimum", fontsize=8)
    window = smoothing_window(steps)
    smoothed = smooth(excess, window)
    lax.set_title(f"loss: {window}-step mean (raw faint)" if window > 1 else "loss", fontsize=9)
    lax.tick_params(labelsize=7, length=2)
    lax.grid(True, which="both", color="#e6e6e6", lw=0.5)
    raw_lines, loss_lines = [], []
    for r in range(runs):
        color = run_color(r)
        if window > 1:
            (raw,) = lax.plot([], [], color=color, lw=0.6, alpha=0.3, animated=True)
            raw_lines.append(raw)
        (line,) = lax.plot([], [], color=color, lw=1.4, animated=True)
        loss_lines.append(line)
    moving += raw_lines + loss_lines
    cursor = lax.axvline(0, color="#999999", lw=0.8, ls=":", animated=True)
    moving.append(cursor)
    for r, row in enumerate(traj.lr_table):
        if first_decay(row) is None:
            continue
        for d in np.flatnonzero(np.diff(row) < 0) + 1:  # the last loss made at the old rate
            lax.axvline(d, color=run_color(r), lw=0.8, alpha=0.7)
            lax.annotate(
                "decay", (d, 1.0), xycoords=("data", "axes fraction"), xytext=(2, -2), textcoords="offset points",
                ha="left", va="top", fontsize=7, color=run_color(r),
            )
        break  # one scheduled run's decays; more would crowd the panel
    if has_schedule:
        rax = lax.twinx()
        for r, row in enumerate(traj.lr_table):
            if not np.all(row == row[0]):
                rax.step(
                    np.arange(steps + 1),
                    np.append(row, row[-1]),
                    where="post",
                    color=run_color(r),
                    lw=0.9,
                    ls="--",
                    alpha=0.55,
                )
        rates = traj.lr_table[traj.lr_table > 0]
        if rates.size and rates.max() / rates.min() > 20:
            rax.set_yscale("log")
            readable_axis(rax.yaxis)
        rax.set_ylabel("learning rate (dashed)", fontsize=8)
        rax.tick_params(labelsize=7, length=2)

    noise = f", gradient noise {traj.noise:g}" if traj.noise else ""
    height = fig.get_figheight()
    fig.suptitle(title or f"{traj.optimizer} on the {surface.title}{noise}", fontsize=11, y=1 - 0.1 / height)
    counter = fig.text(0.5, 1 - 0.47 / height, "", ha="center", fontsize=8.5, color="#444444", animated=True)
    moving.append(counter)
    if caption:
        fig.text(0.5, 0.12 / height, caption, ha="center", va="bottom", fontsize=9, color="#222222", wrap=False)
    notes = []
    for r in range(runs):
        ax = paths[r].axes
        put_text = ax.text2D if three_d else ax.text
        note = put_text(
            0.5,
            0.9 if three_d else 0.03,
            "",
            transform=ax.transAxes,
            ha="center",
            va="bottom",
            fontsize=8,
            color=run_color(r),
            fontweight="bold",
            animated=True,
            bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="none", alpha=0.8),
        )
        notes.append(note)
        moving.append(note)
    steps_axis = np.arange(steps + 1)
    log_data = surface.log_contours

    tail = max(TAIL, steps // 12)
    mean_losses = smooth(traj.losses, window)

    def update(k: int) -> None:
        for r in range(runs):
            p = traj.points[r, : k + 1]
            recent = slice(max(0, k - tail), None)
            if three_d:
                z = _height(surface, p, log_data, levels)
                trails[r].set_data_3d(p[:, 0], p[:, 1], z)
                paths[r].set_data_3d(p[recent, 0], p[recent, 1], z[recent])
                last = _last_finite(p)
                if last is not None:
                    heads[r].set_data_3d([p[last, 0]], [p[last, 1]], [z[last]])
            else:
                trails[r].set_data(p[:, 0], p[:, 1])
                paths[r].set_data(p[recent, 0], p[recent, 1])
                last = _last_finite(p)
                if last is not None:
                    heads[r].set_data([p[last, 0]], [p[last, 1]])
            loss_lines[r].set_data(steps_axis[: k + 1], _floored(smoothed[r, : k + 1], lo))
            if raw_lines:
                raw_lines[r].set_data(steps_axis[: k + 1], _floored(excess[r, : k + 1], lo))
            d = traj.diverged_at[r]
            if d is not None and k >= d:
                notes[r].set_text(f"diverged at step {d}")
            else:
                value = mean_losses[r, k] if window > 1 else traj.losses[r, k]
                word = "mean loss" if window > 1 else "loss"
                notes[r].set_text(f"{word} {value:.3g}" if np.isfinite(value) else "")
        cursor.set_xdata([k, k])
        rate = ""
        if has_schedule:
            srow = next(i for i, row in enumerate(traj.lr_table) if not np.all(row == row[0]))
            rate = f"   ·   scheduled rate {traj.lr_table[srow, min(k, steps - 1)]:.3g}"
        counter.set_text(f"step {k} / {steps}{rate}")

    return _Scene(fig, canvas, update, moving)


def _floored(values: np.ndarray, lo: float) -> np.ndarray:
    """Values for a log axis: zero and below drawn at the axis floor ``lo``, NaN left out."""
    return np.where(values > 0, values, np.where(np.isnan(values), np.nan, lo))


def _short(label: str, width: int = 34) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def _last_finite(p: np.ndarray) -> int | None:
    ok = np.flatnonzero(np.all(np.isfinite(p), axis=1))
    return int(ok[-1]) if ok.size else None


def _height(surface, p: np.ndarray, log_data: bool, levels: np.ndarray) -> np.ndarray:
    z = surface.value(p[:, 0], p[:, 1])
    if log_data:
        z = np.log10(np.maximum(z - surface.min_value, 0.0) + 1e-4)
    return np.clip(z, levels[0], levels[-1])


def render_frames(
    traj: Trajectories,
    *,
    frames: int = 60,
    three_d: bool = False,
    dpi: int = 90,
    title: str | None = None,
    caption: str = "",
) -> tuple[list[np.ndarray], np.ndarray]:
    """RGB frames (H, W, 3) of the animation, and the step each shows; ``caption`` is one line under the panels."""
    scene = _build_scene(traj, three_d=three_d, dpi=dpi, title=title, caption=caption)
    canvas, fig = scene.canvas, scene.fig
    canvas.draw()
    background = canvas.copy_from_bbox(fig.bbox)
    shown = frame_steps(traj.steps, frames)
    images = []
    for k in shown:
        scene.update(int(k))
        canvas.restore_region(background)
        for artist in scene.artists:
            fig.draw_artist(artist)
        images.append(np.asarray(canvas.buffer_rgba())[..., :3].copy())
    return images, shown


def _palette_source(images: list[np.ndarray]):
    """One palette for all frames, from the first and last frames side by side (they hold every colour)."""
    from PIL import Image

    both = np.concatenate([images[0], images[-1]], axis=1)
    return Image.fromarray(both).quantize(colors=255, method=Image.Quantize.MEDIANCUT)


def write_gif(images: list[np.ndarray], out: Path, *, frame_ms: int = 70, hold_ms: int = 1500) -> Path:
    from PIL import Image

    palette = _palette_source(images)
    frames = [Image.fromarray(im).quantize(palette=palette, dither=Image.Dither.NONE) for im in images]
    durations = [frame_ms] * (len(frames) - 1) + [hold_ms]
    with atomic_path(out, suffix=".gif") as tmp:
        frames[0].save(
            tmp, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0, disposal=1
        )
    return out


def ffmpeg_path() -> str | None:
    import matplotlib

    configured = matplotlib.rcParams.get("animation.ffmpeg_path", "ffmpeg")
    return shutil.which(configured) or shutil.which("ffmpeg")


def write_mp4(images: list[np.ndarray], out: Path, *, fps: int = 15) -> Path:
    """Raw RGB frames piped into ffmpeg (H.264, yuv420p, even dimensions as players need)."""
    exe = ffmpeg_path()
    if exe is None:
        raise UserError("mp4 needs ffmpeg, which is not installed here; use .gif")
    h, w, _ = images[0].shape
    with atomic_path(out, suffix=".mp4") as tmp:
        cmd = [
            exe,
            "-y",
            "-loglevel",
            "error",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{w}x{h}",
            "-r",
            str(fps),
            "-i",
            "-",
            "-vf",
            "pad=ceil(iw/2)*2:ceil(ih/2)*2",
            "-pix_fmt",
            "yuv420p",
            "-vcodec",
            "libx264",
            "-f",
            "mp4",
            str(tmp),
        ]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            for im in images + [images[-1]] * fps:  # hold the last frame for a second
                proc.stdin.write(np.ascontiguousarray(im).tobytes())
            proc.stdin.close()
        except BrokenPipeError:
            pass
        err = proc.stderr.read().decode(errors="replace").strip()
        if proc.wait() != 0:
            raise UserError(
                f"ffmpeg could not write {out}: {err.splitlines()[-1] if err else 'unknown error'}"
            )
    return out


def write_png(image: np.ndarray, out: Path) -> Path:
    from PIL import Image

    with atomic_path(out, suffix=".png") as tmp:
        Image.fromarray(image).save(tmp, format="PNG", optimize=True)
    return out


def output_format(out: str | Path) -> str:
    suffix = Path(out).suffix.lower()
    if suffix not in FORMATS:
        raise UserError(f"output must end in {', '.join(FORMATS)}; got {str(out)!r}")
    if suffix == ".mp4" and ffmpeg_path() is None:
        raise UserError("mp4 needs ffmpeg, which is not installed here; use .gif")
    return suffix


def save_animation(
    traj: Trajectories,
    out: str | Path,
    *,
    frames: int = 60,
    three_d: bool = False,
    dpi: int = 90,
    title: str | None = None,
    caption: str = "",
) -> Path:
    """Write ``traj`` as a GIF, an MP4 or (PNG) its final frame, by the suffix of ``out``."""
    out = Path(out)
    suffix = output_format(out)
    if suffix == ".png":
        images, _ = render_frames(traj, frames=2, three_d=three_d, dpi=max(dpi, 110), title=title, caption=caption)
        return write_png(images[-1], out)
    if frames < 2:
        raise UserError(f"--frames must be at least 2; got {frames}")
    images, _ = render_frames(traj, frames=frames, three_d=three_d, dpi=dpi, title=title, caption=caption)
    return write_gif(images, out) if suffix == ".gif" else write_mp4(images, out)
