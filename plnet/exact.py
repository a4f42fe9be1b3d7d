"""Independent exact checks of the certificates with convex programs (cvxpy).

Nothing here uses the closed-form margin (Proposition 6): every quantity is the optimum of
a convex program over the halfspaces of :func:`plnet.region`, solved by a general solver
(HiGHS for linear programs, Clarabel for second-order cone programs). The tests compare the
closed forms with these; a disagreement points at a bug in one of them.

Programs over all rows at once are separable (one block of variables per row, no coupling),
so one solve answers every row. Each row is scaled to unit l2 norm first, which leaves its
hyperplane unchanged and keeps the solver well conditioned.

Needs the ``exact`` extra: ``pip install "plnet[exact]"``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from plnet.analysis.margins import check_p
from plnet.analysis.region import Polyhedron, region
from plnet.errors import InvalidInputError, MissingDependencyError, PlnetError, require
from plnet.quiet import silenced_fds
from plnet.tolerances import EXACT_BALL_RTOL


@dataclasses.dataclass
class VerifyResult:
    """Outcome of :func:`verify_ball`.

    Attributes:
        verified: the ball lies in S(x0) (every row's minimum over the ball is >= its bound,
            up to ``EXACT_BALL_RTOL * eps`` for the solver's accuracy).
        worst_slack: the smallest ``(min over the ball of a_i . y - b_i) / ||a_i||_2``
            (negative: the ball crosses that row's hyperplane); inf if no row constrains.
        worst_row: index (into the region's rows) of that row, -1 if none.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> result = plnet.exact.verify_ball(net, x[0], 0.2, p=2)
        >>> result.verified, bool(result), round(result.worst_slack, 3)
        (True, True, 0.05)
    """

    verified: bool
    worst_slack: float
    worst_row: int

    def __bool__(self) -> bool:
        return bool(self.verified)


def _cvxpy():
    return require("cvxpy", "exact", "plnet.exact")


def _solver(cp, conic: bool) -> str:
    name, package = ("CLARABEL", "clarabel") if conic else ("HIGHS", "highspy")
    if name not in cp.installed_solvers():
        raise MissingDependencyError(
            f"plnet.exact solves its {'cone' if conic else 'linear'} programs with {name}, "
            f"which cvxpy does not find: run `pip install {package}` (or "
            f"`pip install \"plnet[exact]\"`)")
    return name


# Each solver's own switches for silence. They do not cover everything (highspy prints a
# banner from its constructor, before options apply), hence also silenced_fds below.
QUIET_OPTIONS = {
    "HIGHS": {"verbose": False, "output_flag": False, "log_to_console": False},
    "CLARABEL": {"verbose": False},
}


def _solve(problem, cp, conic: bool, what: str):
    solver = _solver(cp, conic)
    with silenced_fds() as printed:
        try:
            problem.solve(solver=solver, **QUIET_OPTIONS[solver])
        except cp.error.SolverError as exc:
            failure = exc
        else:
            failure = None
    if failure is not None:
        said = f"; it printed: {printed.text.strip()}" if printed.text.strip() else ""
        raise PlnetError(f"plnet.exact: {solver} failed on {what}: {failure}{said}") from failure
    return problem.status


def _rows(net, x0) -> tuple[Polyhedron, np.ndarray, np.ndarray, np.ndarray]:
    """The region of x0 with its constraining rows scaled to unit l2 norm.

    Returns:
        ``(polyhedron, row indices, A_unit [n, D], slack at x0 [n])``.
    """
    poly = region(net, x0)
    norms = np.linalg.norm(poly.A, axis=1)
    rows = np.flatnonzero(norms > 0)
    a = poly.A[rows] / norms[rows, None]
    slack = (poly.A[rows] @ poly.point - poly.b[rows]) / norms[rows]
    return poly, rows, a, slack


def _norm_rows(cp, expr, p: float):
    return cp.norm(expr, 1 if p == 1 else (2 if p == 2 else "inf"), axis=1)


def facet_distances(net, x0, p=2) -> np.ndarray:
    """l_p distance from ``x0`` to each unit's hyperplane of S(x0), by a convex program.

    For every row ``a_i . y >= b_i`` of :func:`plnet.region`, solves
    ``min ||y - x0||_p  s.t.  a_i . y = b_i`` (all rows in one separable program).

    Args:
        net: a :class:`plnet.Network`.
        x0: one point, of shape ``net.input_shape``.
        p: 1, 2 or inf.

    Returns:
        ``[N]`` distances (inf for rows with a zero normal, which draw no hyperplane).

    Raises:
        PlnetError: the solver failed or ended without an optimum.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> plnet.exact.facet_distances(net, x[0], p=2).round(6)
        array([0.5 , 0.25])
    """
    p = check_p(p)
    cp = _cvxpy()
    poly, rows, a, slack = _rows(net, x0)
    out = np.full(len(poly), np.inf)
    if rows.size == 0:
        return out
    step = cp.Variable(a.shape)
    problem = cp.Problem(cp.Minimize(cp.sum(_norm_rows(cp, step, p))),
                         [cp.sum(cp.multiply(a, step), axis=1) == -slack])
    status = _solve(problem, cp, p == 2, "the facet distances")
    if status not in ("optimal", "optimal_inaccurate"):
        raise PlnetError(f"plnet.exact.facet_distances: the solver ended with status {status!r}")
    out[rows] = np.linalg.norm(step.value, ord=p, axis=1)
    return out


def exact_margin(net, x0, p=2) -> float:
    """The l_p margin of ``x0`` as the smallest :func:`facet_distances` (inf if none).

    Args:
        net: a :class:`plnet.Network`.
        x0: one point, of shape ``net.input_shape``.
        p: 1, 2 or inf.

    Returns:
        The margin, a float (inf when no row constrains the region).

    Raises:
        PlnetError: the solver failed or ended without an optimum.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> round(plnet.exact.exact_margin(net, x[0], p=2), 6)    # equals plnet.margin's 0.25
        0.25
    """
    return float(facet_distances(net, x0, p).min(initial=np.inf))


def verify_ball(net, x0, eps: float, p=2) -> VerifyResult:
    """Check that the l_p ball of radius ``eps`` around ``x0`` lies in S(x0).

    Minimizes every row ``a_i . y`` over the ball (a linear program for p = 1 and inf, a
    second-order cone program for p = 2) and compares the minimum with ``b_i``.

    Args:
        net: a :class:`plnet.Network`.
        x0: one point, of shape ``net.input_shape``.
        eps: the radius (finite, >= 0).
        p: 1, 2 or inf.

    Returns:
        A :class:`VerifyResult` (truthy when verified).

    Raises:
        InvalidInputError: ``eps`` is negative or not finite.
        PlnetError: the solver failed or ended without an optimum.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> eps = plnet.margin(net, x, p=2)[0]
        >>> bool(plnet.exact.verify_ball(net, x[0], eps, p=2))
        True
        >>> bool(plnet.exact.verify_ball(net, x[0], 2 * eps, p=2))      # too large
        False
    """
    p = check_p(p)
    eps = float(eps)
    if not (np.isfinite(eps) and eps >= 0):
        raise InvalidInputError(f"verify_ball: eps must be finite and >= 0, got {eps}")
    cp = _cvxpy()
    _, rows, a, slack = _rows(net, x0)
    if rows.size == 0:
        return VerifyResult(True, np.inf, -1)
    # solve over the unit ball and scale by eps: the program does not depend on eps
    unit = cp.Variable(a.shape)
    problem = cp.Problem(cp.Minimize(cp.sum(cp.sum(cp.multiply(a, unit), axis=1))),
                         [_norm_rows(cp, unit, p) <= 1])
    status = _solve(problem, cp, p == 2, "the ball check")
    if status not in ("optimal", "optimal_inaccurate"):
        raise PlnetError(f"plnet.exact.verify_ball: the solver ended with status {status!r}")
    worst = slack + eps * np.sum(a * unit.value, axis=1)
    i = int(np.argmin(worst))
    return VerifyResult(bool(worst[i] >= -EXACT_BALL_RTOL * eps), float(worst[i]), int(rows[i]))


def chebyshev_center(net, x0, p=2) -> tuple[np.ndarray, float]:
    """The largest l_p ball, with any centre, inside S(x0) (its Chebyshev ball).

    Solves the linear program ``max r  s.t.  a_i . c - r ||a_i||_q >= b_i`` (q the dual of
    p) with HiGHS.

    Args:
        net: a :class:`plnet.Network`.
        x0: one point, of shape ``net.input_shape``.
        p: 1, 2 or inf.

    Returns:
        ``(center, radius)``: the centre with ``net.input_shape`` and the radius; the
        radius is inf (and the centre ``x0``) when S(x0) holds balls of every size.

    Raises:
        PlnetError: the solver failed or ended without an optimum.

    Example:
        >>> b = plnet.NetworkBuilder((2,))           # S(x) = [0, 1] x [0, 1] around x = (0.9, 0.9)
        >>> w = [[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]]
        >>> h = b.relu(b.dense(b.input, w, [0.0, 0.0, 1.0, 1.0]))
        >>> net = b.build(b.dense(h, [[1.0, 1.0, 1.0, 1.0]], [0.0]))
        >>> center, radius = plnet.exact.chebyshev_center(net, np.array([0.9, 0.9]), p=2)
        >>> center.round(6), round(radius, 6)
        (array([0.5, 0.5]), 0.5)
    """
    p = check_p(p)
    cp = _cvxpy()
    poly, rows, a, slack = _rows(net, x0)
    x = poly.point
    if rows.size == 0:
        return x.reshape(net.input_shape), np.inf
    dual = np.linalg.norm(a, ord={1: np.inf, 2: 2, np.inf: 1}[p], axis=1)
    # centre as an offset from x0 keeps the numbers small
    offset, radius = cp.Variable(a.shape[1]), cp.Variable()
    problem = cp.Problem(cp.Maximize(radius),
                         [a @ offset - radius * dual >= -slack, radius >= 0])
    status = _solve(problem, cp, False, "the Chebyshev ball")
    if status in ("unbounded", "unbounded_inaccurate", "infeasible_or_unbounded"):
        return x.reshape(net.input_shape), np.inf
    if status not in ("optimal", "optimal_inaccurate"):
        raise PlnetError(f"plnet.exact.chebyshev_center: the solver ended with status "
                         f"{status!r}")
    return (x + offset.value).reshape(net.input_shape), float(radius.value)


__all__ = ["VerifyResult", "chebyshev_center", "exact_margin", "facet_distances", "verify_ball"]
