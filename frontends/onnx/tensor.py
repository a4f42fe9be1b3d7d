"""How an ONNX value that depends on the network input is represented during conversion.

ONNX tensors carry the batch on one of their axes (usually the first); IR nodes are per
sample. A :class:`Tensor` pairs an IR node with the ONNX axis its batch sits on, so that
converters can translate ONNX axes into per-sample axes. A value with ``batch_axis=None``
has no batch axis: its whole ONNX shape is one sample (``batch_dim=None``, or a model that
fixes the batch at 1 and then reshapes it away).
"""

from __future__ import annotations

import dataclasses

#: Stand-in for a symbolic batch size inside constant-folded shape arithmetic
#: (``Shape -> Gather -> Concat -> Reshape``). A Reshape whose target starts with it keeps
#: the batch axis. It is odd and large so that it cannot be mistaken for a real size.
BATCH_SENTINEL = 2_147_483_629


@dataclasses.dataclass(frozen=True)
class Tensor:
    """An ONNX value computed from the network input.

    Attributes:
        node: the IR node holding the value (per sample).
        batch_axis: the ONNX axis of the batch, or None when the value has none.
        batch_one: True when the file fixes that batch axis at size 1, so that it may be
            folded into the sample (a Reshape that drops it, a Transpose that moves it).
    """

    node: str
    batch_axis: int | None
    batch_one: bool

    def onnx_shape(self, sample_shape: tuple[int, ...]) -> list[int | None]:
        """The ONNX shape: the per-sample shape with the batch (1 or None) put back."""
        shape: list[int | None] = list(sample_shape)
        if self.batch_axis is not None:
            shape.insert(self.batch_axis, 1 if self.batch_one else None)
        return shape

    def sample_axis(self, onnx_axis: int) -> int:
        """The per-sample axis of a non-batch ONNX axis (already normalized to >= 0)."""
        if self.batch_axis is None or onnx_axis < self.batch_axis:
            return onnx_axis
        return onnx_axis - 1
