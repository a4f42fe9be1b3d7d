"""Chebyshev-type programs over a region or one of its facets, optionally inside a ball.

Without a ball they are linear programs for HiGHS through ``scipy.optimize.linprog``; inside
an l_p ball (:func:`plnet.regions.explore`) they need cvxpy (the ``exact`` extra), which
solves them silently as ``plnet.exact`` does.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.optimize import linprog

from plnet.analysis.margins import check_p
from plnet.errors import PlnetError, require
from plnet.quiet import silenced_fds


@dataclasses.dataclass(frozen=True)
class Ball:
    """The l_p ball ``||y - centre||_p <= radius`` (centre flattened)."""

    centre: np.ndarray
    radius: float
    p: float

    @classmethod
    def of(cls, centre, radius: float, p) -> Ball:
        radius = float(radius)
        if not np.isfinite(radius) or radius <= 0:
            raise PlnetError(f"plnet.regions: the ball radius must be finite and > 0, got "
                             f"{radius}")
        return cls(np.asarray(centre, dtype=np.float64).ravel(), radius, check_p(p))


def dual_norms(a: np.ndarray, p: float) -> np.ndarray:
    """``||a_j||_q`` for each row, q the dual exponent of p."""
    return np.linalg.norm(a, ord={1: np.inf, 2: 2, np.inf: 1}[p], axis=1)


def chebyshev(point, a, dist, *, on=None, ball: Ball | None = None, p=2, cap=np.inf):
    """The largest l_p ball inside ``{y : a (y - point) >= -dist}`` (and inside ``ball``).

    Args:
        point: the flattened point the rows are written around.
        a, dist: rows ``[K, D]`` and ``[K]``.
        on: a row index whose hyperplane the centre must lie on (then that row is left out
            of the ball constraint: the program finds a facet's relative Chebyshev centre).
        ball: keep the l_p ball of the centre inside this ball (its p is used).
        p: the norm when there is no ball.
        cap: the largest radius sought (an unbounded region or facet stops there).

    Returns:
        ``(centre, radius)``, or ``(None, 0.0)`` when the set (inside the ball) is empty.
    """
    p = ball.p if ball is not None else check_p(p)
    mask = np.ones(len(dist), dtype=bool)
    if on is not None:
        mask[on] = False
    dual = dual_norms(a[mask], p)
    if ball is not None:
        return _conic(point, a, dist, mask, dual, on, ball)
    d = a.shape[1]
    cost = np.zeros(d + 1)
    cost[-1] = -1.0
    a_ub = np.hstack([-a[mask], dual[:, None]])
    eq = {} if on is None else {"A_eq": np.append(a[on], 0.0)[None], "b_eq": [-dist[on]]}
    res = linprog(cost, A_ub=a_ub, b_ub=dist[mask], bounds=[(None, None)] * d + [(0, cap)],
                  method="highs", **eq)
    if res.status == 2:
        return None, 0.0
    if res.status != 0:
        raise PlnetError(f"plnet.regions: HiGHS ended with status {res.status} "
                         f"({res.message}) on a Chebyshev program")
    return point + res.x[:d], float(res.x[-1])


def _conic(point, a, dist, mask, dual, on, ball):
    cp = require("cvxpy", "exact", "plnet.regions.explore")
    offset, radius = cp.Variable(a.shape[1]), cp.Variable()
    cons = [a[mask] @ offset - radius * dual >= -dist[mask], radius >= 0,
            cp.norm(point - ball.centre + offset, ball.p) + radius <= ball.radius]
    if on is not None:
        cons.append(a[on] @ offset == -dist[on])
    problem = cp.Problem(cp.Maximize(radius), cons)
    solver = "CLARABEL" if "CLARABEL" in cp.installed_solvers() else None
    with silenced_fds():
        try:
            problem.solve(solver=solver)
        except cp.error.SolverError as exc:
            raise PlnetError(f"plnet.regions: the solver failed on a Chebyshev program "
                             f"inside the ball: {exc}") from exc
    if problem.status in ("infeasible", "infeasible_inaccurate"):
        return None, 0.0
    if problem.status not in ("optimal", "optimal_inaccurate"):
        raise PlnetError(f"plnet.regions: the solver ended with status {problem.status!r} "
                         f"on a Chebyshev program inside the ball")
    return point + offset.value, max(float(radius.value), 0.0)
