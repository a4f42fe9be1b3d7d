"""The network's input placeholder."""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import numpy as np

from plnet.ops.base import Op, Shape, register_op


@register_op
@dataclasses.dataclass(frozen=True)
class Input(Op):
    """The single input of a network; ``shape`` is the per-sample shape."""

    type_name = "input"
    arity = 0
    shape: Shape = ()

    def output_shape(self, in_shapes: Sequence[Shape],
                     params: Mapping[str, np.ndarray]) -> Shape:
        return tuple(self.shape)

    # never called: the interpreter feeds the input itself
    def forward(self, xs: Sequence[np.ndarray],
                params: Mapping[str, np.ndarray]) -> np.ndarray:  # pragma: no cover
        raise RuntimeError("Input has no forward; the interpreter feeds the network's input")
