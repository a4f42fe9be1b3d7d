"""Certification shared by several ranks: each certifies some batches, the results are joined.

Batches go round-robin over the ranks (:meth:`Replicas.owns`), each computed exactly as a
single process computes it, so every margin is the same number. Margins, ties and
correctness travel to every rank and are put back in input order.

Lemma 7's bounds need more than per-rank counts: two ranks may meet the same activation
pattern, and the lower bound counts distinct output Jacobians *across* patterns. So each
rank keeps, per pattern it met, its first point and that point's Jacobian (what a single
process keeps); rank 0 merges them, keeping the earliest point of each pattern, and counts
with :class:`plnet.analysis.counting.RegionCounter`, the single-process rule: the bounds are
the ones a single process finds.
"""

from __future__ import annotations

import numpy as np

from plnet.analysis.counting import RegionCount, RegionCounter
from plnet.backends.torch.distributed import Replicas


class CertificateShard:
    """What one rank certified: margins per batch and the first point of each pattern.

    Args:
        ps: the norms certified.
    """

    def __init__(self, ps):
        self.ps = tuple(ps)
        self.batches: list[tuple[int, dict, np.ndarray, np.ndarray | None]] = []
        self.firsts: dict[bytes, tuple[int, np.ndarray]] = {}
        self.tied: list[int] = []

    def add(self, start: int, margins: dict, keys: list[bytes], jacobians, ties,
            correct=None) -> None:
        """Record the batch whose first point is point ``start`` of the whole dataset.

        Args:
            start: the batch's offset in the dataset.
            margins: p -> ``[B]`` margins.
            keys: one activation-pattern key per point.
            jacobians: ``[B, L, D]`` output Jacobians.
            ties: ``[B]`` bool, points on a region boundary.
            correct: ``[B]`` bool or None.
        """
        ties = np.asarray(ties, dtype=bool)
        self.batches.append((start, {p: np.asarray(margins[p], dtype=np.float64)
                                     for p in self.ps}, ties, correct))
        self.tied.extend(start + int(i) for i in np.flatnonzero(ties))
        for i, key in enumerate(keys):
            if not ties[i] and key not in self.firsts:
                self.firsts[key] = (start + i, np.array(jacobians[i], copy=True))


def join_certificates(ranks: Replicas, shard: CertificateShard, on_tie: str,
                      rtol: float) -> tuple[dict, np.ndarray, np.ndarray | None, RegionCount]:
    """Every rank's shard joined, on every rank: what one process certifying it all finds.

    Returns:
        ``(margins p -> [M], ties [M], correct [M] or None, RegionCount)``; correct is None
        unless every batch had labels.

    Raises:
        InvalidInputError: no rank had a point.
        TieError: as :meth:`RegionCounter.result` (on every rank).
    """
    from plnet.errors import InvalidInputError

    parts = ranks.gather(shard.batches)
    batches = sorted((b for part in parts for b in part), key=lambda b: b[0])
    if not batches:
        raise InvalidInputError("certify: the data holds no points")
    margins = {p: np.concatenate([b[1][p] for b in batches]) for p in shard.ps}
    ties = np.concatenate([b[2] for b in batches])
    labelled = all(b[3] is not None for b in batches)
    correct = np.concatenate([b[3] for b in batches]) if labelled else None
    counts = ranks.gather_on_rank0((shard.firsts, shard.tied))
    regions = ranks.on_rank0(lambda: _count(counts, ties.shape[0], on_tie, rtol))
    return margins, ties, correct, regions


def _count(counts, n_points: int, on_tie: str, rtol: float) -> RegionCount:
    firsts: dict[bytes, tuple[int, np.ndarray]] = {}
    tied: list[int] = []
    for part_firsts, part_tied in counts:
        tied.extend(part_tied)
        for key, (index, jacobian) in part_firsts.items():
            if key not in firsts or index < firsts[key][0]:
                firsts[key] = (index, jacobian)
    counter = RegionCounter(on_tie, rtol)
    # the patterns in order of their first point, as a single pass inserts them
    counter.patterns = {key: jac for key, (_, jac) in sorted(firsts.items(),
                                                             key=lambda kv: kv[1][0])}
    counter.tied, counter.seen = sorted(tied), n_points
    return counter.result()
