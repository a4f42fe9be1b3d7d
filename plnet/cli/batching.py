"""How many points each pass certifies: within the memory budget, and small enough that
progress moves at least every second or two."""

from __future__ import annotations

import time

from plnet.analysis.budget import bytes_per_point, format_bytes, memory_budget, points_per_batch
from plnet.cli.report import note

#: A batch should take about this long when progress is shown (seconds).
TARGET_SECONDS = 1.0

#: Points per pass of the torch backend when --batch-size is auto (it chunks its own memory).
TORCH_BATCH = 256


def numpy_batch_cap(net, requested, budget: int | None) -> int:
    """The most points per numpy pass: ``requested`` (or ``"auto"``) within the budget.

    Raises:
        MemoryBudgetError: even one point needs more than the budget.
    """
    fit = points_per_batch(net, budget)
    if requested == "auto" or requested <= fit:
        return fit if requested == "auto" else requested
    note(f"--batch-size {requested} would need about "
         f"{format_bytes(requested * bytes_per_point(net))} in the numpy backend, more than "
         f"the memory budget of {format_bytes(memory_budget(budget))}; using {fit} points "
         f"per batch (raise the budget with --memory-budget)")
    return fit


class BatchPlan:
    """Consecutive ranges ``[start, stop)`` of ``total`` points, each at most ``cap`` long.

    When ``adaptive``, the first batch is one point and later ones grow (at most doubling)
    towards :data:`TARGET_SECONDS` from the time the last one took, so that a slow model
    still shows progress every second or two; otherwise every batch is ``cap`` points.
    """

    def __init__(self, total: int, cap: int, adaptive: bool):
        self.total, self.cap, self.adaptive = int(total), max(1, int(cap)), adaptive
        self.start = 0
        self.size = 1 if adaptive else self.cap

    @property
    def finished(self) -> bool:
        return self.start >= self.total

    def next_range(self) -> tuple[int, int]:
        return self.start, min(self.total, self.start + self.size)

    def advance(self, seconds: float) -> int:
        """Record that the current range took ``seconds``; returns its number of points."""
        lo, hi = self.next_range()
        self.start = hi
        if self.adaptive:
            per_point = seconds / (hi - lo)
            wanted = int(TARGET_SECONDS / per_point) if per_point > 0 else self.cap
            self.size = max(1, min(self.cap, 2 * self.size, wanted))
        return hi - lo

    def shrink(self) -> int:
        """Halve the batch after it ran out of memory; returns the new size (0: cannot)."""
        size = self.next_range()[1] - self.start
        if size <= 1:
            return 0
        self.size = self.cap = size // 2
        return self.size


def stream(x, plan: BatchPlan, progress):
    """Yield ``x``'s batches by ``plan``, timing how long the consumer spends on each."""
    while not plan.finished:
        lo, hi = plan.next_range()
        started = time.perf_counter()
        yield x[lo:hi]
        progress.update(plan.advance(time.perf_counter() - started))
