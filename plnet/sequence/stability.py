"""Stability bounds along coordinates (the paper's §5.2 and Figure 3).

For a sequence x and every (time step i, channel j), the largest ``t-`` and ``t+`` with
``x - t- e_ij`` and ``x + t+ e_ij`` still in x's linear region S(x): on ``[x_ij - t-,
x_ij + t+]`` (the other entries fixed) the derivatives of the model are stable. Each is
the exact ratio test of :func:`plnet.directional_margin` along ``-+e_ij``, done for all
``T * F`` directions at once: along ``e_k`` a unit's slack ``s_n = signs_n z_n`` changes at
the rate ``r_nk = signs_n dz_n/dx_k``, so ``t+_k = min over r_nk < 0 of s_n / -r_nk`` and
``t-_k = min over r_nk > 0 of s_n / r_nk`` (inf when no unit bounds the ray).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import numpy.typing as npt

from plnet.analysis.budget import batch_slices
from plnet.analysis.linearize import Linearization, linearize
from plnet.analysis.sequences import is_sequence_model, one_per_sample, over_lengths
from plnet.network import Network
from plnet.sequence.model import SequenceModel


@dataclasses.dataclass
class StabilityBounds:
    """How far each coordinate can move, alone, without leaving the linear region.

    Attributes:
        minus: ``t-`` for every coordinate, shaped like the point (``[T, *F]`` for one
            sequence, ``[B, *input_shape]`` for a batch of a network): ``x - t e_ij`` lies
            in S(x) for every ``0 <= t <= t-``.
        plus: ``t+`` likewise along ``+e_ij``. inf where the ray never leaves the region;
            0 where x lies on a boundary that the ray crosses at once.

    Example:
        >>> model = plnet.sequence.elman({"wi": np.eye(1), "wh": np.eye(1)},
        ...                              [{"weight_ih": "wi", "weight_hh": "wh"}])
        >>> x = np.array([[1.0], [0.5]])           # T = 2, F = 1: h = (1, 1.5), both active
        >>> bounds = plnet.sequence.stability_bounds(model, x)
        >>> bounds.minus.tolist(), bounds.plus.tolist()
        ([[1.0], [1.5]], [[inf], [inf]])
    """

    minus: np.ndarray
    plus: np.ndarray

    def take(self, i: int) -> "StabilityBounds":
        """The bounds of point ``i`` of a batch, shaped like the point."""
        return StabilityBounds(self.minus[i], self.plus[i])


def coordinate_bounds(lin: Linearization) -> tuple[np.ndarray, np.ndarray]:
    """``(t-, t+)``, each ``[B, D]``: the ratio test along every ``-e_k`` and ``+e_k``.

    Args:
        lin: the linearization of a batch of points (``plnet.linearize``).

    Returns:
        ``(minus, plus)``, each ``[B, D]``: how far each flattened input coordinate can
        move alone, down and up, inside the point's linear region (inf: never leaves).

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> minus, plus = plnet.sequence.coordinate_bounds(
        ...     plnet.linearize(net, np.array([[0.5, -0.25]])))
        >>> minus.tolist(), plus.tolist()
        ([[0.5, inf]], [[inf, 0.25]])
    """
    rates = lin.signs[:, :, None] * lin.grad  # [B, N, D]
    slack = lin.slack[:, :, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        plus = np.where(rates < 0, slack / -rates, np.inf).min(axis=1, initial=np.inf)
        minus = np.where(rates > 0, slack / rates, np.inf).min(axis=1, initial=np.inf)
    return minus, plus


@over_lengths(one_per_sample)
def _batch_bounds(net: Network, x: npt.ArrayLike, budget: int | None = None) -> StabilityBounds:
    x = net.check_input(x)
    minus, plus = [], []
    # the rates and two ratio temporaries, [N, D] each, per point
    extra = 24 * net.num_units * net.input_size
    for s in batch_slices(net, x.shape[0], budget, extra_bytes=extra):
        m, p = coordinate_bounds(linearize(net, x[s]))
        minus.append(m)
        plus.append(p)
    shape = x.shape
    return StabilityBounds(np.concatenate(minus).reshape(shape),
                           np.concatenate(plus).reshape(shape))


def stability_bounds(model: SequenceModel | Network, x: Any,
                     lengths: npt.ArrayLike | None = None,
                     budget: int | None = None) -> StabilityBounds | list[StabilityBounds]:
    """The stability bounds ``[-t-, t+]`` of every (time step, channel) of a sequence.

    Args:
        model: a :class:`SequenceModel` (or a :class:`plnet.Network`, whose input
            coordinates are bounded the same way).
        x: one sequence ``[T, *feature_shape]``; or a batch: a list of sequences, or a
            padded array with ``lengths`` (for a network: ``[B, *input_shape]``).
        lengths: the lengths of a padded batch.
        budget: memory budget in bytes (see :mod:`plnet.analysis.budget`).

    Returns:
        For one sequence, a :class:`StabilityBounds` of ``[T, *feature_shape]`` arrays; for
        a batch of a sequence model, one per sequence (a list, in input order); for a
        network, one of ``[B, *input_shape]`` arrays.

    Raises:
        ShapeError, InvalidInputError: a sequence of the wrong shape or length, or
            non-finite values (the message names the sample).

    Example:
        >>> model = plnet.sequence.elman({"wi": np.eye(1), "wh": np.eye(1)},
        ...                              [{"weight_ih": "wi", "weight_hh": "wh"}])
        >>> x = np.array([[1.0], [0.5]])           # T = 2, F = 1: h = (1, 1.5), both active
        >>> bounds = plnet.sequence.stability_bounds(model, x)
        >>> bounds.minus.tolist()       # x_1 may drop by 1, x_2 by 1.5 before a unit switches
        [[1.0], [1.5]]
        >>> [b.plus.shape for b in plnet.sequence.stability_bounds(model, [x, x[:1]])]
        [(2, 1), (1, 1)]
    """
    if not is_sequence_model(model):
        return _batch_bounds(model, x, budget)
    if not isinstance(x, (list, tuple)) and np.ndim(x) == len(model.feature_shape) + 1:
        return _batch_bounds(model, [x], budget)[0]
    return _batch_bounds(model, x, budget, lengths=lengths)
