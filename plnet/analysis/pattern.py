"""Activation patterns: which side of every unit's boundary each point is on."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dataclasses

import numpy as np
import numpy.typing as npt

from plnet.analysis.interpreter import Interpreter
from plnet.analysis.sequences import one_per_sample, over_lengths

if TYPE_CHECKING:  # annotations only: the network module imports the analyses
    from plnet.network import Network


@dataclasses.dataclass
class ActivationPattern:
    """Activation indicators of a batch.

    Attributes:
        indicators: node -> indicator array (ReLU/LeakyReLU: bool ``z > 0`` of shape
            ``[B, *shape]``; max pool: selected window slot ``[B, C, O]``).
        ties: ``[B]`` bool, True where a unit is exactly at its switching point (a
            pre-activation exactly 0 or a max-pool window with two equal maxima), i.e. where
            more than one pattern is feasible. This includes degenerate ties, units that are
            constant on the region (two dead ReLUs in one max-pool window), which draw no
            boundary; :attr:`Linearization.ties` leaves those out.
        tie_units: ``[B, N]`` bool, the units that are exactly on their boundary.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> pattern = plnet.activation_pattern(net, x)
        >>> pattern.indicators["relu_2"], pattern.ties
        (array([[ True, False]]), array([False]))
    """

    indicators: dict[str, np.ndarray]
    ties: np.ndarray
    tie_units: np.ndarray

    @property
    def batch_size(self) -> int:
        return int(self.ties.shape[0])

    def take(self, i: int) -> "ActivationPattern":
        """The pattern of point ``i`` alone (a batch of one)."""
        k = slice(i, i + 1)
        return ActivationPattern({n: v[k] for n, v in self.indicators.items()}, self.ties[k],
                                 self.tie_units[k])

    def keys(self) -> list[bytes]:
        """One hashable key per point; equal keys mean equal patterns."""
        return pattern_keys(self.indicators, self.batch_size)


def pattern_keys(indicators: dict[str, np.ndarray], batch_size: int) -> list[bytes]:
    """One bytes key per point from per-node indicators; equal keys, equal patterns."""
    parts = [np.ascontiguousarray(ind.reshape(batch_size, -1)).astype(np.int64)
             for ind in indicators.values()]
    if not parts:
        return [b""] * batch_size
    return [row.tobytes() for row in np.concatenate(parts, axis=1)]


class _PatternInterpreter(Interpreter):
    def __init__(self, net):
        super().__init__(net)
        self.indicators, self.ties, self.tie_units = {}, [], []

    def run_node(self, name, op, inputs):
        if op.carries_pattern:
            indicator, ties = op.pattern(inputs[0])
            self.indicators[name] = indicator
            self.ties.append(ties)
            self.tie_units.append(op.tie_units(inputs[0], indicator))
        return super().run_node(name, op, inputs)


@over_lengths(one_per_sample)
def activation_pattern(net: Network, x: npt.ArrayLike) -> ActivationPattern:
    """The activation pattern of every point of a batch, with ties reported.

    Args:
        net: a :class:`plnet.Network`.
        x: ``[B, *net.input_shape]``.

    Returns:
        An :class:`ActivationPattern`.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> plnet.activation_pattern(net, x).indicators
        {'relu_2': array([[ True, False]])}
    """
    x = net.check_input(x)
    interp = _PatternInterpreter(net)
    interp.run(x)
    b = x.shape[0]
    ties = np.zeros(b, dtype=bool)
    for t in interp.ties:
        ties |= t
    tie_units = (np.concatenate(interp.tie_units, axis=1) if interp.tie_units
                 else np.zeros((b, 0), dtype=bool))
    return ActivationPattern(interp.indicators, ties, tie_units)
