"""Appendix B of the paper: directional and l1 margins certified by bisection.

These do not use the closed form. Membership of ``x + t v`` in S(x) is tested either on
the halfspaces (``check="halfspaces"``, fast) or by running the real network at the point
and checking that every unit still satisfies x's activation pattern (``check="forward"``,
the paper's Proposition 4 test, independent of the linearization).

The bracket grows by doubling as far as float64 allows, so a margin of any size is
bracketed. A ray is called unbounded (inf) only when no unit's slack decreases along it
(every rate ``signs * grad . v`` is >= 0, from the linearization, in both checks): then it
provably never leaves. A ray still inside at the cap is flagged (:attr:`Bracket.capped`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dataclasses

import numpy as np
import numpy.typing as npt

from plnet.analysis.arguments import choice, positive_float
from plnet.analysis.budget import batch_slices
from plnet.analysis.interpreter import Interpreter
from plnet.analysis.linearize import Linearization, linearize
from plnet.analysis.sequences import over_lengths
from plnet.errors import InvalidInputError
from plnet.tolerances import BISECTION_GAP, BISECTION_MAX_RADIUS

if TYPE_CHECKING:  # annotations only: the network module imports the analyses
    from plnet.network import Network


@dataclasses.dataclass
class Bracket:
    """A certified margin and how far it may be from the exact one.

    Attributes:
        lower: certified: ``x + lower * v`` is in S(x) (inf only when the ray provably never
            leaves: no unit's slack decreases along it).
        upper: ``x + upper * v`` is outside S(x); ``upper - lower <= gap`` (or no float lies
            between them). inf where the search reached its cap.
        capped: True where the search reached its cap (``max_radius``, by default the
            largest float64) still inside S(x): ``lower`` is the cap, a valid lower bound,
            and the true margin is somewhere above it (``upper`` is inf).

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> bracket = plnet.l1_margin_bisection(net, x)
        >>> bool(bracket.lower[0] <= 0.25 <= bracket.upper[0]), bracket.capped
        (True, array([False]))
    """

    lower: np.ndarray
    upper: np.ndarray
    capped: np.ndarray | None = None

    def __post_init__(self):
        if self.capped is None:
            self.capped = np.isfinite(self.lower) & np.isinf(self.upper)

class _SignedUnitsInterpreter(Interpreter):
    """Forward pass at new points, evaluating every unit under *fixed* indicators."""

    def __init__(self, net, indicators):
        super().__init__(net)
        self.indicators, self.slacks = indicators, []

    def check_output(self, name, op, value):
        """Points far along a ray may overflow; :func:`_forward_membership` rejects them."""

    def run_node(self, name, op, inputs):
        if op.carries_pattern:
            z = inputs[0]
            empty = np.zeros((z.shape[0], 0) + z.shape[1:])
            values, _, signs = op.units(z, empty, self.indicators[name])
            self.slacks.append(signs * values)
        return super().run_node(name, op, inputs)


def _forward_membership(net, lin: Linearization, indicators, reps: int):
    """Membership of points by running the network under x's (repeated) pattern."""
    tiled = {k: np.repeat(v, reps, axis=0) for k, v in indicators.items()}

    def member(points):  # points [B, M, D]
        b, m, d = points.shape
        interp = _SignedUnitsInterpreter(net, tiled)
        interp.run(points.reshape((b * m,) + net.input_shape))
        if not interp.slacks:
            return np.ones((b, m), dtype=bool)
        slack = np.concatenate(interp.slacks, axis=1)
        # a point whose forward overflows cannot be verified: it counts as outside
        return (np.isfinite(slack) & (slack >= 0)).all(axis=1).reshape(b, m)

    return member


def bisect_directions(net, lin: Linearization, directions: np.ndarray, gap: float = BISECTION_GAP,
                      check: str = "halfspaces", max_radius: float = BISECTION_MAX_RADIUS) -> Bracket:
    """Bracket the directional margin of each point along each of its directions.

    Args:
        net: the network.
        lin: its linearization at the points.
        directions: ``[B, M, D]`` non-zero directions.
        gap: stop when ``upper - lower <= gap``.
        check: ``"halfspaces"`` or ``"forward"`` (see the module docstring).
        max_radius: the search stops here; a ray still inside is reported as capped
            (``lower = max_radius``, ``upper = inf``), never as unbounded.

    Returns:
        A :class:`Bracket` of ``[B, M]`` arrays.

    Raises:
        InvalidInputError: the directions are not finite, non-zero and ``[B, M, D]``.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> lin = plnet.linearize(net, x)
        >>> bracket = plnet.analysis.bisect_directions(net, lin, np.array([[[1.0, 1.0]]]))
        >>> float(bracket.lower[0, 0]) <= 0.25 <= float(bracket.upper[0, 0])
        True
    """
    x = lin.x
    gap, max_radius = positive_float("gap", gap), positive_float("max_radius", max_radius)
    choice("check", check, ("halfspaces", "forward"))
    directions = np.asarray(directions, dtype=np.float64)
    if (directions.ndim != 3 or directions.shape[::2] != x.shape
            or not np.isfinite(directions).all()):
        raise InvalidInputError(f"directions must be finite, of shape [B={x.shape[0]}, M, "
                                f"D={x.shape[1]}], got {directions.shape}")
    b, m, _ = directions.shape
    with np.errstate(over="ignore", invalid="ignore"):
        rates = np.einsum("bn,bnd,bmd->bmn", lin.signs, lin.grad, directions)
    if check == "halfspaces":
        slack = lin.slack[:, None, :]  # [B, 1, N]

        def inside(t):
            with np.errstate(over="ignore", invalid="ignore"):
                return (slack + t[..., None] * rates >= 0).all(axis=2)
    else:
        from plnet.analysis.pattern import activation_pattern

        member = _forward_membership(net, lin, activation_pattern(
            net, x.reshape((b,) + net.input_shape)).indicators, m)

        def inside(t):
            with np.errstate(over="ignore", invalid="ignore"):
                return member(x[:, None, :] + t[..., None] * directions)

    # no unit's slack decreases along the ray: it never leaves (exactly, not by a search)
    unbounded = (rates >= 0).all(axis=2)
    lower, upper = np.zeros((b, m)), np.full((b, m), min(1.0, max_radius))
    capped = np.zeros((b, m), dtype=bool)
    # grow the upper end geometrically until it leaves the region or reaches the cap
    open_ = ~unbounded & inside(upper)
    while open_.any():
        lower = np.where(open_, upper, lower)
        at_cap = upper >= max_radius
        capped |= open_ & at_cap
        open_ &= ~at_cap
        with np.errstate(over="ignore"):
            upper = np.where(open_, np.minimum(upper * 2.0, max_radius), upper)
        if open_.any():
            open_ &= inside(upper)
    # bisection: x + lower v inside, x + upper v outside
    while True:
        mid = lower + 0.5 * (upper - lower)
        active = ((upper - lower > gap) & (mid > lower) & (mid < upper)
                  & ~unbounded & ~capped)
        if not active.any():
            break
        ok = inside(mid)
        lower = np.where(active & ok, mid, lower)
        upper = np.where(active & ~ok, mid, upper)
    lower = np.where(unbounded, np.inf, lower)
    upper = np.where(unbounded | capped, np.inf, upper)
    return Bracket(lower, upper, capped)


def scatter_brackets(batch, results) -> Bracket:
    """``combine`` for per-length brackets: one bracket of ``[B]`` arrays in input order."""
    return Bracket(*(batch.scatter_rows({t: getattr(r, field) for t, r in results.items()})
                     for field in ("lower", "upper", "capped")))


@over_lengths(scatter_brackets)
def l1_margin_bisection(net: Network, x: npt.ArrayLike, gap: float = BISECTION_GAP, check: str = "halfspaces",
                        budget: int | None = None) -> Bracket:
    """The paper's l1 certificate: bisection along the 2D extreme points of the l1 ball.

    By convexity of S(x), the l1 ball of radius r lies in S(x) iff its 2D vertices
    ``x +- r e_k`` do (Proposition 5), so the l1 margin is the smallest directional margin
    over ``+-e_k``.

    Args:
        net: a :class:`plnet.Network`.
        x: ``[B, *net.input_shape]``.
        gap: bisection gap (the paper's 1e-7).
        check: ``"halfspaces"`` or ``"forward"``.
        budget: memory budget in bytes; points are processed in chunks that fit it.

    Returns:
        A :class:`Bracket` of ``[B]`` arrays: ``lower`` is certified, ``upper`` is not;
        ``capped`` where some direction reached the search's cap before leaving S(x).

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> plnet.l1_margin_bisection(net, x).lower      # certified; within 1e-7 of the margin
        array([0.25])
    """
    positive_float("gap", gap)
    choice("check", check, ("halfspaces", "forward"))
    x = net.check_input(x)
    d, n = net.input_size, net.num_units
    # the 2D directions and their [2D, N] rates (and one temporary of that size) per point
    extra = 8 * (2 * d * d + 2 * (2 * d * n))
    lowers, uppers = [], []
    eye = np.eye(d)
    for s in batch_slices(net, x.shape[0], budget, extra_bytes=extra):
        lin = linearize(net, x[s])
        b = lin.x.shape[0]
        dirs = np.broadcast_to(np.concatenate([eye, -eye])[None], (b, 2 * d, d))
        br = bisect_directions(net, lin, dirs, gap=gap, check=check)
        lowers.append(br.lower.min(axis=1))
        uppers.append(br.upper.min(axis=1))
    return Bracket(np.concatenate(lowers), np.concatenate(uppers))
