"""What flows along a traced torch graph while it is lowered to the IR.

A torch tensor that depends on the input becomes a :class:`TensorValue` (an IR node, plus
where the batch axis sits in the torch tensor). Elementwise affine maps by constants are
kept pending as an :class:`AffineValue` so that ``(x - mean) / std`` and a batch norm
become one scale/shift node. Everything else is a constant (a numpy array, a python
number), a tuple, or a shape whose batch entry is the :data:`BATCH` marker.
"""

from __future__ import annotations

import dataclasses

import numpy as np


class _BatchSize:
    """The batch size: unknown when tracing, and it must stay the first axis."""

    def __repr__(self) -> str:
        return "<batch>"


#: Stands for the batch size in shapes (``x.size(0)``, ``x.shape[0]``).
BATCH = _BatchSize()


@dataclasses.dataclass(frozen=True)
class TensorValue:
    """A tensor computed by IR node ``node``.

    Attributes:
        node: the IR node holding the tensor (per sample, batch axis removed).
        batch_axis: where the batch axis sits in the torch tensor (0 unless a transpose
            moved it, e.g. for a sequence-first ``nn.RNN``).
    """

    node: str
    batch_axis: int = 0


@dataclasses.dataclass(frozen=True)
class AffineValue:
    """``base * scale + shift`` elementwise, not yet emitted as an IR node.

    ``scale`` and ``shift`` (None for 1 and 0) broadcast against the per-sample shape of
    ``base``, whose batch axis is first.
    """

    base: TensorValue
    scale: np.ndarray | None = None
    shift: np.ndarray | None = None

    def then(self, scale: np.ndarray | float | None = None,
             shift: np.ndarray | float | None = None) -> "AffineValue":
        """Compose: ``(self) * scale + shift``."""
        s1, t1 = self.scale, self.shift
        new_scale = s1 if scale is None else (scale if s1 is None else s1 * scale)
        if t1 is None:
            new_shift = shift
        else:
            new_shift = t1 if scale is None else t1 * scale
            new_shift = new_shift if shift is None else new_shift + shift
        return AffineValue(self.base, new_scale, new_shift)


@dataclasses.dataclass(frozen=True)
class ShapeValue:
    """``x.shape`` / ``x.size()``: ints, with :data:`BATCH` at the batch axis."""

    dims: tuple


@dataclasses.dataclass(frozen=True)
class BatchConstant:
    """A constant copied along the batch (``h0.expand(-1, x.size(0), -1)``): ``value`` is
    the constant without the batch axis, which sits at ``batch_axis`` in torch."""

    value: np.ndarray
    batch_axis: int


@dataclasses.dataclass(frozen=True)
class PackedValue:
    """A ``PackedSequence`` of equal-length sequences (each sample is converted at its own
    length, so packing keeps every step): ``data`` is the padded tensor it packs."""

    data: TensorValue


class _Lengths:
    """The sequence lengths of a batch: every sample's length is the traced length."""

    def __repr__(self) -> str:
        return "<lengths>"


#: Stands for the lengths a sequence model passes beside its input (``forward(x, lengths)``)
#: and for those ``pad_packed_sequence`` returns.
LENGTHS = _Lengths()


def is_tensor_like(value: object) -> bool:
    """True for values that depend on the network input."""
    return isinstance(value, (TensorValue, AffineValue))


def contains_tensor(value: object) -> bool:
    """True if ``value`` (possibly nested in tuples, lists, dicts) depends on the input."""
    if is_tensor_like(value):
        return True
    if isinstance(value, (tuple, list)):
        return any(contains_tensor(v) for v in value)
    if isinstance(value, dict):
        return any(contains_tensor(v) for v in value.values())
    if isinstance(value, (ShapeValue, BatchConstant, PackedValue)):
        return True
    return value is BATCH or value is LENGTHS


def to_numpy(value: object) -> np.ndarray:
    """A constant (torch tensor or number) as a float64 numpy array."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        torch = None
    if torch is not None and isinstance(value, torch.Tensor):
        return value.detach().cpu().to(torch.float64).numpy().copy()
    return np.asarray(value, dtype=np.float64)
