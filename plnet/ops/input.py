"""The network's input placeholder."""

from __future__ import annotations

import dataclasses

from plnet.ops.base import Op, Shape, register_op


@register_op
@dataclasses.dataclass(frozen=True)
class Input(Op):
    """The single input of a network; ``shape`` is the per-sample shape."""

    type_name = "input"
    arity = 0
    shape: Shape = ()

    def output_shape(self, in_shapes, params):
        return tuple(self.shape)

    def forward(self, xs, params):  # pragma: no cover - the interpreter feeds inputs itself
        raise RuntimeError("Input has no forward; the interpreter feeds the network's input")
