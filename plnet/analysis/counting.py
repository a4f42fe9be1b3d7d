"""Bounds on the number of complete linear regions among data points (paper, Lemma 7)."""

from __future__ import annotations

import dataclasses

import numpy as np

from plnet.analysis.linearize import linearize
from plnet.errors import InvalidInputError, TieError

#: Jacobians are compared on a grid of this relative size: merging two near-equal ones can
#: only lower the count, which keeps it a valid lower bound.
JACOBIAN_GRID = 1e-9


@dataclasses.dataclass
class RegionCount:
    """#CLR bounds among a dataset. Unpacks as ``lower, upper``.

    Attributes:
        lower: distinct Jacobians of the output (a lower bound on #CLR).
        upper: distinct activation patterns (an upper bound on #CLR).
        n_points: points counted.
        tied_points: indices of points on a region boundary (excluded when counting).
    """

    lower: int
    upper: int
    n_points: int
    tied_points: tuple[int, ...] = ()

    def __iter__(self):
        return iter((self.lower, self.upper))


def count_linear_regions(net, X, on_tie: str = "raise", batch_size: int = 256) -> RegionCount:
    """Lower and upper bounds on the complete linear regions of ``net`` among ``X``.

    Lemma 7 holds when every point has exactly one feasible activation pattern; a point on
    a boundary (a tie) breaks that condition.

    Args:
        net: a :class:`plnet.Network`.
        X: ``[M, *net.input_shape]`` data points (M >= 1).
        on_tie: ``"raise"`` (a :class:`TieError` listing the points) or ``"exclude"`` (drop
            them; the result lists them in ``tied_points``).
        batch_size: points per linearization (bounds memory).

    Returns:
        A :class:`RegionCount`; ``lo, hi = count_linear_regions(net, X)`` works.
    """
    counter = RegionCounter(on_tie)
    X = net.check_input(X, "X")
    for start in range(0, X.shape[0], batch_size):
        counter.add(linearize(net, X[start:start + batch_size]))
    return counter.result()


class RegionCounter:
    """Accumulates Lemma 7's bounds over linearizations of consecutive batches.

    Lets a caller that linearizes anyway (for margins) count regions without a second pass.

    Args:
        on_tie: as in :func:`count_linear_regions`.
    """

    def __init__(self, on_tie: str = "raise"):
        if on_tie not in ("raise", "exclude"):
            raise InvalidInputError(f"on_tie must be 'raise' or 'exclude', got {on_tie!r}")
        self.on_tie = on_tie
        self.patterns: dict[bytes, np.ndarray] = {}
        self.tied: list[int] = []
        self.seen = 0

    def add(self, lin) -> None:
        """Count the points of one :class:`Linearization` (the next batch in order)."""
        ties = lin.ties
        self.tied.extend(self.seen + int(i) for i in np.flatnonzero(ties))
        for i, key in enumerate(lin.pattern_keys()):
            if not ties[i] and key not in self.patterns:
                self.patterns[key] = lin.jacobian[i].copy()
        self.seen += lin.x.shape[0]

    def result(self) -> RegionCount:
        """The bounds so far; raises TieError as ``on_tie`` says."""
        tied = self.tied
        if tied and self.on_tie == "raise":
            raise TieError(f"{len(tied)} point(s) lie on a region boundary (first: index "
                           f"{tied[0]}), so Lemma 7's bounds do not apply to them; pass "
                           f"on_tie='exclude' to count the others", tied)
        n = self.seen - len(tied)
        if n == 0:
            raise TieError("every point lies on a region boundary; nothing to count", tied)
        return RegionCount(_distinct_jacobians(list(self.patterns.values())),
                           len(self.patterns), n, tuple(tied))


def _distinct_jacobians(jacobians: list[np.ndarray]) -> int:
    if not jacobians:
        return 0
    stack = np.stack([j.ravel() for j in jacobians])
    scale = JACOBIAN_GRID * (1.0 + np.abs(stack).max())
    grid = np.round(stack / scale).astype(np.int64)
    return len({row.tobytes() for row in grid})
