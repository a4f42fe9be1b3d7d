"""The torch lowering of every IR op: one class per op, one small file per op family.

``compile`` (:mod:`plnet.backends.torch.compiled`), ``plnet.to_torch`` and every gradient
engine use these classes and only these; an engine asks a node's lowering what to do (its
``tangent``, ``jacobian_step``, ``fused_role``, pattern and units) and never tests an op's
type. The contract is in :mod:`plnet.backends.torch.lowerings.base`.

To lower a new op: write its class in the file of its family (as ``plnet/ops/``),
decorate it with ``@lowers(OpClass)``, import it below, and derive it from

- :class:`AffineLowering` for an op without a pattern: ``linear`` (plus ``forward`` and
  ``offset`` when there is an offset) gives the perturbation engine for free; set ``supports_recursion``
  and write ``jacobian_step`` if its Jacobian is one of the recursion's primitives;
- :class:`PatternLowering` for a pattern-carrying op: ``forward``, ``indicator``,
  ``units``, ``unit_tangents``, ``tangent``, ``key`` and ``jacobian_step`` together
  (and ``slopes(frozen, params, dtype)`` when ``elementwise``).

Optional rules make some engines cheaper on images: ``patch_tangent`` (receptive-field
patches, :mod:`plnet.backends.torch.patches`) and ``cone_tangent`` (forward cones of input
axes, for ROLL, :mod:`plnet.backends.torch.cones`).

The whole recipe for a new op, every file it touches, is ``docs/adding-an-op.md``.

``tests/backends/torch/test_lowering_registry.py`` then checks it against the numpy op and
autograd.
"""

from plnet.backends.torch.lowerings.activations import (LeakyReluLowering, PReluLowering,
                                                        ReluLowering)
from plnet.backends.torch.lowerings.add import AddLowering
from plnet.backends.torch.lowerings.avg_pool import AvgPoolLowering
from plnet.backends.torch.lowerings.base import (LOWERINGS, AffineLowering, Lowering,
                                                 PatternLowering, lower, lowers)
from plnet.backends.torch.lowerings.conv import ConvLowering, ConvTransposeLowering
from plnet.backends.torch.lowerings.dense import DenseLowering
from plnet.backends.torch.lowerings.input import InputLowering
from plnet.backends.torch.lowerings.maxpool import MaxPoolLowering
from plnet.backends.torch.lowerings.scale_shift import ScaleShiftLowering
from plnet.backends.torch.lowerings.views import (ConcatLowering, GatherViewLowering,
                                                  PadLowering, ReshapeLowering,
                                                  SliceLowering, TakeLowering,
                                                  TransposeLowering)

__all__ = [
    "LOWERINGS", "AffineLowering", "Lowering", "PatternLowering", "lower", "lowers",
    "AddLowering", "AvgPoolLowering", "ConcatLowering", "ConvLowering", "ConvTransposeLowering",
    "DenseLowering", "GatherViewLowering", "InputLowering", "LeakyReluLowering",
    "MaxPoolLowering", "PadLowering", "PReluLowering", "ReluLowering", "ReshapeLowering",
    "ScaleShiftLowering", "SliceLowering", "TakeLowering", "TransposeLowering",
]
