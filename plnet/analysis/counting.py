"""Bounds on the number of complete linear regions among data points (paper, Lemma 7)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dataclasses

import numpy as np
import numpy.typing as npt

from plnet.analysis.arguments import choice, positive_float, positive_int
from plnet.analysis.budget import points_per_batch
from plnet.analysis.linearize import linearize
from plnet.analysis.sequences import over_lengths
from plnet.errors import TieError
from plnet.tolerances import JACOBIAN_RTOL

if TYPE_CHECKING:  # annotations only: the network module imports the analyses
    from plnet.network import Network


@dataclasses.dataclass
class RegionCount:
    """#CLR bounds among a dataset. Unpacks as ``lower, upper``.

    Attributes:
        lower: distinct Jacobians of the output (a lower bound on #CLR).
        upper: distinct activation patterns (an upper bound on #CLR).
        n_points: points counted.
        tied_points: indices of points on a region boundary (excluded when counting).

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> X = np.array([[0.5, -0.25], [1.0, -1.0], [-1.0, 1.0]])
        >>> lo, hi = plnet.count_linear_regions(net, X)
        >>> lo, hi
        (2, 2)
    """

    lower: int
    upper: int
    n_points: int
    tied_points: tuple[int, ...] = ()

    def __iter__(self):
        return iter((self.lower, self.upper))


def counter_of(net: Network, X: npt.ArrayLike, on_tie: str = "raise",
               batch_size: int | None = None, budget: int | None = None) -> "RegionCounter":
    """:func:`count_linear_regions` before its result: the counter of ``X``'s points."""
    counter = RegionCounter(on_tie)
    limit = None if batch_size is None else positive_int("batch_size", batch_size)
    X = net.check_input(X, "X")
    step = points_per_batch(net, budget, limit)
    for start in range(0, X.shape[0], step):
        counter.add(linearize(net, X[start:start + step]))
    return counter


def merge_counters(batch, counters: dict[int, "RegionCounter"]) -> RegionCount:
    """``combine`` for a sequence model: the counts of every length added up.

    Networks of different lengths have different input spaces, so their regions are
    distinct: both bounds add up. Tied points are listed by their index in the batch.
    """
    groups = batch.groups()
    tied = sorted(int(groups[t][i]) for t, c in counters.items() for i in c.tied)
    n = counted_points(len(batch), tied, next(iter(counters.values())).on_tie)
    lower = sum(distinct_jacobians(list(c.patterns.values()), c.rtol) for c in counters.values())
    return RegionCount(lower, sum(len(c.patterns) for c in counters.values()), n, tuple(tied))


@over_lengths(merge_counters, samples="X", per_length=counter_of)
def count_linear_regions(net: Network, X: npt.ArrayLike, on_tie: str = "raise", batch_size: int | None = None,
                         budget: int | None = None) -> RegionCount:
    """Lower and upper bounds on the complete linear regions of ``net`` among ``X``.

    Lemma 7 holds when every point has exactly one feasible activation pattern; a point on
    a boundary (a tie) breaks that condition.

    Args:
        net: a :class:`plnet.Network`.
        X: ``[M, *net.input_shape]`` data points (M >= 1).
        on_tie: ``"raise"`` (a :class:`TieError` listing the points) or ``"exclude"`` (drop
            them; the result lists them in ``tied_points``).
        batch_size: at most this many points per linearization (None: as many as fit).
        budget: memory budget in bytes (see :mod:`plnet.analysis.budget`).

    Returns:
        A :class:`RegionCount`; ``lo, hi = count_linear_regions(net, X)`` works.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> plnet.count_linear_regions(net, np.array([[0.5, -0.25], [1.0, -1.0], [-1.0, 1.0]]))
        RegionCount(lower=2, upper=2, n_points=3, tied_points=())
    """
    return counter_of(net, X, on_tie, batch_size, budget).result()


class RegionCounter:
    """Accumulates Lemma 7's bounds over linearizations of consecutive batches.

    Lets a caller that linearizes anyway (for margins) count regions without a second pass.

    Args:
        on_tie: as in :func:`count_linear_regions`.
        rtol: two output Jacobians count as one when they differ by at most this, relative
            to the larger one's largest entry (see :func:`distinct_jacobians`).

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> counter = plnet.analysis.RegionCounter()
        >>> counter.add(plnet.linearize(net, np.array([[0.5, -0.25], [1.0, -1.0]])))
        >>> counter.add(plnet.linearize(net, np.array([[-1.0, 1.0]])))
        >>> counter.result()
        RegionCount(lower=2, upper=2, n_points=3, tied_points=())
    """

    def __init__(self, on_tie: str = "raise", rtol: float = JACOBIAN_RTOL):
        self.on_tie = choice("on_tie", on_tie, ("raise", "exclude"))
        self.rtol = positive_float("rtol", rtol)
        self.patterns: dict[bytes, np.ndarray] = {}
        self.tied: list[int] = []
        self.seen = 0

    def add(self, lin) -> None:
        """Count the points of one :class:`Linearization` (the next batch in order)."""
        self.add_points(lin.pattern_keys(), lin.jacobian, lin.ties)

    def add_points(self, keys: list[bytes], jacobians, ties: np.ndarray) -> None:
        """Count the next points from their pattern keys, output Jacobians and ties.

        Args:
            keys: one activation-pattern key per point (equal keys, equal patterns).
            jacobians: ``[B, L, D]`` output Jacobians (any array type numpy can read).
            ties: ``[B]`` bool, points on a region boundary (not counted, listed).
        """
        ties = np.asarray(ties, dtype=bool)
        self.tied.extend(self.seen + int(i) for i in np.flatnonzero(ties))
        for i, key in enumerate(keys):
            if not ties[i] and key not in self.patterns:
                self.patterns[key] = np.array(jacobians[i], copy=True)
        self.seen += len(keys)

    def result(self) -> RegionCount:
        """The bounds so far; raises TieError as ``on_tie`` says."""
        n = counted_points(self.seen, self.tied, self.on_tie)
        return RegionCount(distinct_jacobians(list(self.patterns.values()), self.rtol),
                           len(self.patterns), n, tuple(self.tied))


def counted_points(seen: int, tied: list[int], on_tie: str) -> int:
    """The points Lemma 7 counts (``seen`` less the tied); raises TieError as ``on_tie`` says."""
    if tied and on_tie == "raise":
        raise TieError(f"{len(tied)} point(s) lie on a region boundary (first: index "
                       f"{tied[0]}), so Lemma 7's bounds do not apply to them; pass "
                       f"on_tie='exclude' to count the others", tied)
    n = seen - len(tied)
    if n == 0:
        raise TieError("every point lies on a region boundary; nothing to count", tied)
    return n


def distinct_jacobians(jacobians: list[np.ndarray], rtol: float = JACOBIAN_RTOL) -> int:
    """How many Jacobians differ, counting those equal up to round-off as one.

    Two Jacobians are *close* when ``max|a - b| <= rtol * max(max|a|, max|b|)``. The count is
    the number of connected components of "close": Jacobians of one region (equal up to
    round-off) are pairwise close, so they always fall in one component, and the count never
    exceeds the number of truly distinct Jacobians: it stays a lower bound on #CLR (rounding
    to a grid could split two near-equal ones across a cell edge and overcount).

    Candidates are found by sorting a fixed random projection: close Jacobians project within
    ``rtol * scale * ||r||_1`` of each other, so only neighbours in that window are compared.
    """
    if not jacobians:
        return 0
    stack = np.stack([np.asarray(j, dtype=np.float64).ravel() for j in jacobians])
    k = stack.shape[0]
    scales = np.abs(stack).max(axis=1, initial=0.0)
    r = np.random.default_rng(0).standard_normal(stack.shape[1])
    proj = stack @ r
    order = np.argsort(proj, kind="stable")
    window = rtol * scales.max() * np.abs(r).sum()
    parent = list(range(k))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a_pos, a in enumerate(order):
        for b in order[a_pos + 1:]:
            if proj[b] - proj[a] > window:
                break
            if np.abs(stack[a] - stack[b]).max() <= rtol * max(scales[a], scales[b]):
                parent[find(a)] = find(b)
    return len({find(i) for i in range(k)})
