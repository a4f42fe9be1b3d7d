"""Appendix B of the paper: directional and l1 margins certified by bisection.

These do not use the closed form. Membership of ``x + t v`` in S(x) is tested either on
the halfspaces (``check="halfspaces"``, fast) or by running the real network at the point
and checking that every unit still satisfies x's activation pattern (``check="forward"``,
the paper's Proposition 4 test, independent of the linearization).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from plnet.analysis.interpreter import Interpreter
from plnet.analysis.linearize import Linearization, linearize
from plnet.errors import InvalidInputError
from plnet.tolerances import BISECTION_GAP, BISECTION_MAX_RADIUS


@dataclasses.dataclass
class Bracket:
    """A certified margin and how far it may be from the exact one.

    Attributes:
        lower: certified: ``x + lower * v`` is in S(x) (inf when the ray never leaves).
        upper: ``x + upper * v`` is outside S(x); ``upper - lower <= gap``.
    """

    lower: np.ndarray
    upper: np.ndarray


class _SignedUnitsInterpreter(Interpreter):
    """Forward pass at new points, evaluating every unit under *fixed* indicators."""

    def __init__(self, net, indicators):
        super().__init__(net)
        self.indicators, self.slacks = indicators, []

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
        return (slack >= 0).all(axis=1).reshape(b, m)

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
        max_radius: beyond this the ray is taken to stay inside (lower = upper = inf).

    Returns:
        A :class:`Bracket` of ``[B, M]`` arrays.
    """
    b, m, d = directions.shape
    x = lin.x
    if check == "halfspaces":
        slack = lin.slack[:, None, :]  # [B, 1, N]
        rates = np.einsum("bn,bnd,bmd->bmn", lin.signs, lin.grad, directions)

        def inside(t):
            return (slack + t[..., None] * rates >= 0).all(axis=2)
    elif check == "forward":
        from plnet.analysis.pattern import activation_pattern

        member = _forward_membership(net, lin, activation_pattern(
            net, x.reshape((b,) + net.input_shape)).indicators, m)

        def inside(t):
            return member(x[:, None, :] + t[..., None] * directions)
    else:
        raise InvalidInputError(f"check must be 'halfspaces' or 'forward', got {check!r}")
    if not gap > 0:
        raise InvalidInputError(f"gap must be positive, got {gap}")

    lower = np.zeros((b, m))
    upper = np.ones((b, m))
    # grow the upper end until it leaves the region (or is declared unbounded)
    open_ = inside(upper)
    while open_.any():
        lower = np.where(open_, upper, lower)
        upper = np.where(open_, upper * 2.0, upper)
        open_ &= upper <= max_radius
        if open_.any():
            open_ &= inside(upper)
    unbounded = upper > max_radius
    # bisection: x + lower v inside, x + upper v outside
    while True:
        active = (upper - lower > gap) & ~unbounded
        if not active.any():
            break
        mid = 0.5 * (lower + upper)
        ok = inside(mid)
        lower = np.where(active & ok, mid, lower)
        upper = np.where(active & ~ok, mid, upper)
    lower = np.where(unbounded, np.inf, lower)
    upper = np.where(unbounded, np.inf, upper)
    return Bracket(lower, upper)


def l1_margin_bisection(net, x, gap: float = BISECTION_GAP, check: str = "halfspaces") -> Bracket:
    """The paper's l1 certificate: bisection along the 2D extreme points of the l1 ball.

    By convexity of S(x), the l1 ball of radius r lies in S(x) iff its 2D vertices
    ``x +- r e_k`` do (Proposition 5), so the l1 margin is the smallest directional margin
    over ``+-e_k``.

    Args:
        net: a :class:`plnet.Network`.
        x: ``[B, *net.input_shape]``.
        gap: bisection gap (the paper's 1e-7).
        check: ``"halfspaces"`` or ``"forward"``.

    Returns:
        A :class:`Bracket` of ``[B]`` arrays: ``lower`` is certified, ``upper`` is not.
    """
    lin = linearize(net, x)
    b, d = lin.x.shape
    eye = np.eye(d)
    dirs = np.broadcast_to(np.concatenate([eye, -eye])[None], (b, 2 * d, d))
    br = bisect_directions(net, lin, dirs, gap=gap, check=check)
    return Bracket(br.lower.min(axis=1), br.upper.min(axis=1))
