"""How many points the numpy reference linearizes at once, from a memory budget.

:func:`plnet.linearize` holds every unit's gradient, ``[B, N, D]`` float64, plus the
Jacobians of the tensors alive at one node (each ``[B, D, size]``) and the output's
``[B, L, D]``. A batch chosen without looking at N and D can ask for gigabytes (a CIFAR
ResNet: ~9 GiB at 64 points), so callers that split a batch choose its size here.
Receptive-field patches (:mod:`plnet.analysis.patches`) hold at most half of a node's
dense Jacobian, so the estimate of the dense tangents stays an upper bound for them.
"""

from __future__ import annotations

import os

import networkx as nx

from plnet.errors import InvalidInputError, MemoryBudgetError

#: Bytes the numpy reference may use for one batch unless told otherwise
#: (``PLNET_MEMORY_BUDGET`` in bytes overrides it).
DEFAULT_MEMORY_BUDGET = 2 * 1024**3

#: Jacobians of this many of the largest tensors are counted as alive at once (an op's
#: inputs, its output, and a residual branch waiting to be added).
LIVE_TENSORS = 3

_BYTES = 8  # float64


def memory_budget(budget: int | None = None) -> int:
    """The budget in bytes: ``budget`` if given, else ``$PLNET_MEMORY_BUDGET``, else 2 GiB."""
    if budget is None:
        env = os.environ.get("PLNET_MEMORY_BUDGET")
        if env is None:
            return DEFAULT_MEMORY_BUDGET
        try:
            budget = int(float(env))
        except ValueError:
            raise InvalidInputError(
                f"PLNET_MEMORY_BUDGET must be a number of bytes, got {env!r}") from None
    if isinstance(budget, bool) or int(budget) != budget or budget <= 0:
        raise InvalidInputError(f"the memory budget must be a positive number of bytes, "
                                f"got {budget!r}")
    return int(budget)


def bytes_per_point(net) -> int:
    """An upper estimate of what :func:`plnet.linearize` needs for one point, in bytes."""
    d = net.input_size
    # until the first pattern-carrying op every point shares one Jacobian (batch axis 1),
    # so only the pattern ops and what follows them cost memory per point
    per_point = set()
    for name in net.order:
        if net.op(name).carries_pattern:
            per_point |= {name} | nx.descendants(net.graph, name)
    sizes = sorted((_size(net.shapes[n]) for n in per_point), reverse=True)
    live = sum(sizes[:LIVE_TENSORS])
    return _BYTES * d * (net.num_units + live + _size(net.output_shape))


def points_per_batch(net, budget: int | None = None, limit: int | None = None,
                     extra_bytes: int = 0) -> int:
    """The most points whose linearization fits in ``budget`` bytes (at most ``limit``).

    Args:
        net: the network.
        budget: bytes (None: ``$PLNET_MEMORY_BUDGET`` or the default).
        limit: at most this many points.
        extra_bytes: what the caller needs per point beyond the linearization.

    Raises:
        MemoryBudgetError: one point alone needs more than the budget.
    """
    budget = memory_budget(budget)
    need = bytes_per_point(net) + int(extra_bytes)
    if need > budget:
        raise MemoryBudgetError(
            f"the numpy reference needs about {format_bytes(need)} for one point of this "
            f"network (N={net.num_units} units x D={net.input_size} inputs, float64), more "
            f"than its memory budget of {format_bytes(budget)}: use the torch backend "
            f"(plnet.backends.torch in Python, `--backend torch` on the command line), or "
            f"raise the budget (the budget= argument, or PLNET_MEMORY_BUDGET=<bytes>)",
            need, budget)
    fit = max(1, budget // max(need, 1))
    return int(min(fit, limit)) if limit is not None else int(fit)


def batch_slices(net, n_points: int, budget: int | None = None,
                 extra_bytes: int = 0) -> list[slice]:
    """Consecutive slices of ``n_points`` points, each small enough for the budget."""
    step = points_per_batch(net, budget, extra_bytes=extra_bytes)
    return [slice(start, start + step) for start in range(0, n_points, step)]


def format_bytes(n: int) -> str:
    """``1536`` -> ``"1.5 KiB"``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{int(value)} B"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover - the loop returns


def _size(shape) -> int:
    out = 1
    for s in shape:
        out *= int(s)
    return out
