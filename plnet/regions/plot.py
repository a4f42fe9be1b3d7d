"""Pictures of slices: regions, boundaries, certified balls and gradients (matplotlib).

matplotlib is an optional dependency (``pip install "plnet[plot]"``). Figures are made
with ``matplotlib.figure.Figure`` and drawn by the Agg canvas: no window is ever opened and
pyplot's global state is left alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import numpy.typing as npt

from plnet.analysis import margin
from plnet.errors import InvalidInputError, require
from plnet.regions.sections import ellipse, l1_polygon, linf_polygon

if TYPE_CHECKING:
    from plnet.regions.slices import Slice

#: certified balls drawn by name: (margin's p, colour)
BALLS = {"l1": (1, "tab:red"), "l2": (2, "tab:blue"), "linf": (np.inf, "tab:green")}

#: at most this many gradient arrows, on the largest regions
MAX_ARROWS = 80


def plot_slice(s: Slice, ax: Any = None, points: npt.ArrayLike | None = None,
               balls: Sequence[str] = ("l1", "l2", "linf"), gradients: bool = True,
               title: str | None = None, path: str | None = None) -> Any:
    """Draw a slice: regions coloured, boundaries, certified balls and gradient arrows.

    The paper's Figure 1 for any network: each linear region in its own colour, its
    boundary in black, around each of ``points`` the section by the plane of the largest
    certified l1, l2 and l_inf balls (``plnet.margin``), and in the largest regions an arrow
    along the gradient (in the plane) of the top logit.

    Args:
        s: a 2-d (or 1-d) :class:`plnet.regions.Slice`.
        ax: a matplotlib Axes to draw into; default: a new figure's.
        points: ``[P, 2]`` points in slice coordinates whose balls to draw (default none).
        balls: which balls: any of ``"l1"``, ``"l2"``, ``"linf"``.
        gradients: draw the gradient arrows of the top logit.
        title: the axes' title (default: the region counts).
        path: also save the figure there (PNG, SVG, PDF: by the suffix).

    Returns:
        The Axes drawn into.
    """
    require("matplotlib", "plot", "plnet.regions.Slice.plot")
    unknown = set(balls) - set(BALLS)
    if unknown:
        raise InvalidInputError(f"plot: unknown balls {sorted(unknown)}; choose from "
                                f"{sorted(BALLS)}")
    if s.dim == 1 and points is not None:
        raise InvalidInputError("plot: certified balls are drawn on 2-d slices (slice2d); "
                                "leave points out for a 1-d slice")
    if ax is None:
        from matplotlib.figure import Figure
        ax = Figure(figsize=(6, 6) if s.dim == 2 else (7, 3), dpi=100).add_subplot()
    if s.dim == 1:
        _draw_line(ax, s)
    else:
        _draw_regions(ax, s)
        if gradients:
            _draw_gradients(ax, s)
        if points is not None:
            _draw_balls(ax, s, np.asarray(points, dtype=np.float64).reshape(-1, 2), balls)
        ax.set_xlim(s.bounds[0], s.bounds[1])
        ax.set_ylim(s.bounds[2], s.bounds[3])
        ax.set_aspect("equal")
        ax.set_xlabel("a (along u)")
        ax.set_ylabel("b (along v)")
    ax.set_title(title if title is not None else
                 f"{s.count} regions by pattern, {s.linear_count} by affine map")
    if path is not None:
        ax.figure.savefig(path, bbox_inches="tight")
    return ax


def region_colors(s: Slice) -> np.ndarray:
    """One RGBA colour per region, scattered over a qualitative palette by pattern id."""
    from matplotlib import colormaps
    palette = colormaps["tab20"]
    shuffled = (s.pattern_ids * 7919 + 13) % 20
    return palette(shuffled / 19.0)


def _draw_regions(ax, s):
    from matplotlib.collections import PolyCollection
    ax.add_collection(PolyCollection(s.polygons, facecolors=region_colors(s),
                                     edgecolors="0.15", linewidths=0.25))


def _draw_line(ax, s):
    """1-d: the top logit along the line, one colour per region."""
    colors = region_colors(s)
    top = int(np.argmax(s.offsets[0] + s.jacobians[0, :, 0] * s.intervals[0].mean()))
    for i, (lo, hi) in enumerate(s.intervals):
        a = np.array([lo, hi])
        ax.plot(a, s.jacobians[i, top, 0] * a + s.offsets[i, top], color=colors[i], lw=2)
        ax.axvline(lo, color="black", lw=0.3)
    ax.set_xlim(*s.bounds)
    ax.set_xlabel("a (along u)")
    ax.set_ylabel(f"output {top}")


def _draw_gradients(ax, s):
    centers = s.centers()
    outputs = np.einsum("mld,md->ml", s.jacobians, centers) + s.offsets
    top = outputs.argmax(axis=1)
    grads = s.jacobians[np.arange(s.count), top]  # [M, 2]
    norms = np.linalg.norm(grads, axis=1)
    chosen = np.argsort(-s.areas)[:MAX_ARROWS]
    chosen = chosen[norms[chosen] > 0]
    size = 0.06 * max(s.bounds[1] - s.bounds[0], s.bounds[3] - s.bounds[2])
    unit = grads[chosen] / norms[chosen, None] * size
    ax.quiver(centers[chosen, 0], centers[chosen, 1], unit[:, 0], unit[:, 1], angles="xy",
              scale_units="xy", scale=1, width=0.004, color="black", pivot="middle")


def _draw_balls(ax, s, points, balls):
    from matplotlib.patches import Ellipse, Polygon
    if s.net is None:
        raise InvalidInputError("plot: the certified balls need the network; this Slice "
                                "was made without one")
    inputs = s.to_input(points)
    for name in balls:
        p, color = BALLS[name]
        for center, eps in zip(points, margin(s.net, inputs, p=p)):
            if not eps > 0:
                continue  # a point on a boundary certifies nothing
            style = dict(fill=False, edgecolor=color, linewidth=1.5, label=name)
            if name == "l2":
                width, height, angle = ellipse(s.directions, eps)
                ax.add_patch(Ellipse(tuple(center), width, height, angle=angle, **style))
            else:
                shape = l1_polygon if name == "l1" else linf_polygon
                ax.add_patch(Polygon(center + shape(s.directions, eps), closed=True, **style))
    ax.plot(points[:, 0], points[:, 1], "k.", markersize=3)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    if unique:
        ax.legend(unique.values(), [f"certified {k}" for k in unique], loc="upper right",
                  fontsize=8)
