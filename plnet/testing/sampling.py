"""Points inside, on and just beyond l_p balls: what certificate tests probe.

All functions work on flattened points (``[D]``) and return ``[M, D]`` arrays.
"""

from __future__ import annotations

import numpy as np

from plnet.analysis.margins import check_p


def _unit_sphere(p: float, m: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """``[m, d]`` random points with ``||u||_p = 1``."""
    if p == 2:
        u = rng.normal(size=(m, d))
    elif p == 1:
        u = rng.exponential(size=(m, d)) * rng.choice([-1.0, 1.0], size=(m, d))
    else:
        u = rng.uniform(-1.0, 1.0, size=(m, d))
        # put one coordinate on a face of the cube
        u[np.arange(m), rng.integers(0, d, size=m)] = rng.choice([-1.0, 1.0], size=m)
    norms = np.linalg.norm(u, ord=p, axis=1, keepdims=True)
    return u / np.where(norms > 0, norms, 1.0)


def extreme_points(p, d: int, m: int, rng: np.random.Generator) -> np.ndarray:
    """Vertices of the unit l_p ball (p = 1: all ``+-e_k``; inf: ``m`` random sign
    vectors; 2: ``+-e_k`` and ``m`` random points of the sphere).

    Args:
        p: 1, 2 or inf.
        d: the dimension D.
        m: how many random vertices (p = 2 and inf).
        rng: numpy generator.

    Returns:
        ``[M, D]`` unit-l_p-norm points.

    Example:
        >>> from plnet.testing.sampling import extreme_points
        >>> extreme_points(1, 2, 0, np.random.default_rng(0))
        array([[ 1.,  0.],
               [ 0.,  1.],
               [-1., -0.],
               [-0., -1.]])
    """
    p = check_p(p)
    eye = np.eye(d)
    if p == 1:
        return np.concatenate([eye, -eye])
    if p == np.inf:
        return rng.choice([-1.0, 1.0], size=(m, d))
    return np.concatenate([eye, -eye, _unit_sphere(2.0, m, d, rng)])


def ball_points(x, radius: float, p, m: int, rng: np.random.Generator,
                surface: bool = False) -> np.ndarray:
    """``m`` random points of the l_p ball of ``radius`` around ``x`` (on its surface if
    ``surface``), plus its extreme points.

    Args:
        x: the centre, any shape (flattened to ``[D]``).
        radius: finite, >= 0.
        p: 1, 2 or inf.
        m: how many random points.
        rng: numpy generator.
        surface: sample the sphere instead of the solid ball.

    Returns:
        ``[M, D]`` points, ``M >= m``.

    Example:
        >>> from plnet.testing.sampling import ball_points
        >>> y = ball_points(np.zeros(3), 0.5, 2, m=10, rng=np.random.default_rng(0))
        >>> bool((np.linalg.norm(y, axis=1) <= 0.5 + 1e-12).all())
        True
    """
    p = check_p(p)
    x = np.asarray(x, dtype=np.float64).ravel()
    d = x.size
    u = _unit_sphere(p, m, d, rng)
    if not surface:
        # radial profile r^(1/d) would crowd the surface for large d; mix both to probe
        # deep inside and near the boundary
        u *= rng.uniform(0.0, 1.0, size=(m, 1)) ** rng.choice([1.0, 1.0 / d], size=(m, 1))
    points = np.concatenate([u, extreme_points(p, d, max(2, m // 4), rng)])
    return x[None, :] + radius * points


def steepest_exit(grad_row: np.ndarray, sign: float, p) -> np.ndarray:
    """The unit-l_p-norm direction along which a unit's slack ``sign * z`` falls fastest.

    Moving ``t`` along it lowers the slack by ``t * ||grad||_q`` (q the dual of p), so the
    point at distance ``|z| / ||grad||_q`` lies on the unit's hyperplane.

    Args:
        grad_row: ``[D]``, the unit's input-gradient.
        sign: +1 or -1, the unit's side (``Linearization.signs``).
        p: 1, 2 or inf.

    Returns:
        ``[D]`` direction of unit l_p norm.

    Example:
        >>> from plnet.testing.sampling import steepest_exit
        >>> steepest_exit(np.array([3.0, -4.0]), 1.0, 2)     # against the gradient
        array([-0.6,  0.8])
    """
    p = check_p(p)
    g = -sign * np.asarray(grad_row, dtype=np.float64)
    if p == 2:
        return g / np.linalg.norm(g)
    if p == np.inf:
        return np.sign(g)
    v = np.zeros_like(g)
    k = int(np.argmax(np.abs(g)))
    v[k] = np.sign(g[k])
    return v
