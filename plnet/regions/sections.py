"""Exact sections of l_p balls by a 2-d plane ``{x0 + a u + b v}``, in slice coordinates.

With ``M = [u v]`` (a ``[D, 2]`` matrix), the ball ``||y - c||_p <= eps`` around a point
``c`` of the plane meets the plane in ``{w : ||M (w - w_c)||_p <= eps}``:

- l2: an ellipse ``w^T (M^T M) w <= eps^2`` (a disc of radius eps for orthonormal u, v);
- l1: ``sum_i |M_i . w|`` is linear between consecutive rays where some ``M_i . w = 0``, so
  the section is the polygon through the points ``eps * r / ||M r||_1`` of those rays;
- l_inf: the intersection of the slabs ``|M_i . w| <= eps``, a polygon.

Through x0 along two coordinate axes these are a circle, a diamond and a square.
"""

from __future__ import annotations

import numpy as np

from plnet.regions.polygons import clip


def ellipse(directions: np.ndarray, eps: float) -> tuple[float, float, float]:
    """The l2 section's semi-axes and angle: ``(width, height, angle in degrees)``.

    ``width`` and ``height`` are full axis lengths, as ``matplotlib.patches.Ellipse``
    takes them.
    """
    m = directions.reshape(2, -1).T
    evals, evecs = np.linalg.eigh(m.T @ m)
    semi = eps / np.sqrt(evals)
    angle = float(np.degrees(np.arctan2(evecs[1, 0], evecs[0, 0])))
    return float(2 * semi[0]), float(2 * semi[1]), angle


def l1_polygon(directions: np.ndarray, eps: float) -> np.ndarray:
    """The l1 section around 0, counter-clockwise ``[K, 2]``."""
    m = directions.reshape(2, -1).T
    rows = m[np.abs(m).max(axis=1) > 0]
    rays = np.concatenate([np.stack([-rows[:, 1], rows[:, 0]], axis=1),
                           np.stack([rows[:, 1], -rows[:, 0]], axis=1)])
    rays = rays / np.linalg.norm(rays, axis=1, keepdims=True)
    points = eps * rays / np.abs(rays @ m.T).sum(axis=1, keepdims=True)
    order = np.argsort(np.arctan2(points[:, 1], points[:, 0]))
    return points[order]


def linf_polygon(directions: np.ndarray, eps: float) -> np.ndarray:
    """The l_inf section around 0, counter-clockwise ``[K, 2]``."""
    m = directions.reshape(2, -1).T
    rows = m[np.abs(m).max(axis=1) > 0]
    smallest = np.sqrt(max(np.linalg.eigvalsh(m.T @ m)[0], np.finfo(float).tiny))
    half = 1.01 * eps * np.sqrt(len(rows)) / smallest  # holds the section: ||Mw||_2 <= sqrt(D) eps
    verts = np.array([[[-half, -half], [half, -half], [half, half], [-half, half]]])
    counts = np.array([4])
    for row in np.concatenate([rows, -rows]):
        g = eps - verts[0, :counts[0]] @ row
        if (g >= 0).all():
            continue
        g = np.where(np.abs(g) <= 1e-12 * eps, 0.0, g)
        verts, counts = clip(verts[:, :counts[0]], counts, g[None], 1.0)
    return verts[0, :counts[0]]
