"""Batched convex polygons and intervals: clipping by lines, areas and interior points.

A batch of M convex polygons is stored padded: ``verts [M, K, 2]`` (counter-clockwise) and
``counts [M]``; entries past a polygon's count repeat its first vertex, so that a minimum or
maximum over all K entries is one over the polygon's vertices. A 1-d cell is an interval with
its two end points as ``verts [M, 2, 1]``. Every operation here is vectorized over the batch.
"""

from __future__ import annotations

import numpy as np


def box(bounds: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The slice's box as a batch of one cell: a square (4 bounds) or an interval (2)."""
    if len(bounds) == 2:
        return np.array([[[bounds[0]], [bounds[1]]]], dtype=np.float64), np.array([2])
    x0, x1, y0, y1 = bounds
    verts = np.array([[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]], dtype=np.float64)
    return verts, np.array([4])


def valid(counts: np.ndarray, k: int) -> np.ndarray:
    """``[M, K]``: True at each polygon's real (not padded) vertices."""
    return np.arange(k)[None, :] < counts[:, None]


def evaluate(coef: np.ndarray, verts: np.ndarray) -> np.ndarray:
    """Affine functions ``coef [M, 1 + d, ...]`` (value at 0, then slopes) at ``verts``.

    Returns ``[M, K, ...]``.
    """
    out = coef[:, None, 0]
    for j in range(verts.shape[2]):
        extra = (None,) * (coef.ndim - 2)
        out = out + verts[(slice(None), slice(None), j) + extra] * coef[:, None, 1 + j]
    return out


def interior(verts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """One interior point per cell: the mean of its vertices, ``[M, d]``."""
    mask = valid(counts, verts.shape[1])[..., None]
    return (verts * mask).sum(axis=1) / counts[:, None]


def measure(verts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Areas of polygons (shoelace), or lengths of intervals, ``[M]``."""
    if verts.shape[2] == 1:
        return verts[:, 1, 0] - verts[:, 0, 0]
    k = verts.shape[1]
    idx = np.arange(k)[None, :]
    nxt = np.where(idx + 1 < counts[:, None], idx + 1, 0)
    x, y = verts[..., 0], verts[..., 1]
    xn = np.take_along_axis(x, nxt, axis=1)
    yn = np.take_along_axis(y, nxt, axis=1)
    cross = np.where(valid(counts, k), x * yn - xn * y, 0.0)
    return 0.5 * cross.sum(axis=1)


def clip(verts: np.ndarray, counts: np.ndarray, g: np.ndarray,
         side: float) -> tuple[np.ndarray, np.ndarray]:
    """The part of each cell where ``side * g >= 0``, ``g [M, K]`` the values at the vertices.

    Values already snapped to 0 mark vertices on the line: they belong to both sides. The
    line must cross every cell (some value of each sign), so each part is a proper cell.
    """
    h = side * g
    if verts.shape[2] == 1:  # an interval: the root replaces the end point outside
        t = h[:, 0] / (h[:, 0] - h[:, 1])
        root = verts[:, 0, 0] + t * (verts[:, 1, 0] - verts[:, 0, 0])
        out = verts.copy()
        keep_low = h[:, 0] > 0
        out[keep_low, 1, 0] = root[keep_low]
        out[~keep_low, 0, 0] = root[~keep_low]
        return out, counts.copy()
    m, k = h.shape
    idx = np.arange(k)[None, :]
    nxt = np.where(idx + 1 < counts[:, None], idx + 1, 0)
    h_next = np.take_along_axis(h, nxt, axis=1)
    v_next = np.take_along_axis(verts, nxt[..., None], axis=1)
    real = valid(counts, k)
    keep = real & (h >= 0)
    crossing = real & (((h > 0) & (h_next < 0)) | ((h < 0) & (h_next > 0)))
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(crossing, h / (h - h_next), 0.0)
    cut = verts + t[..., None] * (v_next - verts)
    cand = np.stack([verts, cut], axis=2).reshape(m, 2 * k, 2)
    mask = np.stack([keep, crossing], axis=2).reshape(m, 2 * k)
    order = np.argsort(~mask, axis=1, kind="stable")
    new_counts = mask.sum(axis=1)
    width = int(new_counts.max(initial=0))
    out = np.take_along_axis(cand, order[:, :width, None], axis=1)
    out = np.where(valid(new_counts, width)[..., None], out, out[:, :1])
    return out, new_counts


def hull(points: np.ndarray) -> np.ndarray:
    """Convex hull of 2-d points, counter-clockwise, without collinear points."""
    pts = np.unique(points, axis=0)
    if len(pts) < 3:
        return pts

    def half(seq):
        out: list[np.ndarray] = []
        for p in seq:
            while len(out) >= 2 and _turn(out[-2], out[-1], p) <= 0:
                out.pop()
            out.append(p)
        return out

    lower, upper = half(pts), half(pts[::-1])
    return np.array(lower[:-1] + upper[:-1])


def _turn(o, a, b) -> float:
    return float((a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]))


def pad(polys: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """A list of ``[K_i, d]`` vertex arrays as one padded batch."""
    counts = np.array([len(p) for p in polys], dtype=np.int64)
    width = int(counts.max(initial=1))
    d = polys[0].shape[1] if polys else 2
    verts = np.zeros((len(polys), width, d))
    for i, p in enumerate(polys):
        verts[i, :len(p)] = p
        verts[i, len(p):] = p[0]
    return verts, counts
