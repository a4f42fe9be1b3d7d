"""One parameter store for networks converted at several lengths (a sequence model).

A frontend converts a model once per length (tracing a torch module, or fixing an ONNX
file's time axis). :class:`TiedUnroll` makes those networks one sequence model: their
parameters, matched by name, must hold the same values at every length, since the model
keeps one array per name and every unrolled network uses it. A value that changes with
the length (a constant folded from the sequence length) is refused, never replaced.
"""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from plnet.errors import UnsupportedOpError
from plnet.network import Network


class TiedUnroll:
    """``unroll(T)`` for :class:`plnet.sequence.SequenceModel`, checked against one store.

    Args:
        build: converts the model at one length.
        lengths: the lengths converted first; their parameters form :attr:`params`.
        what: the model's name in error messages.
    """

    def __init__(self, build: Callable[[int], Network], lengths: Iterable[int], what: str):
        self.build, self.what = build, what
        self.networks: dict[int, Network] = {}
        self.params: dict[str, np.ndarray] = {}
        for steps in lengths:
            self._merge(self.network(steps), steps, grow=True)

    def network(self, steps: int) -> Network:
        """The network converted at ``steps`` (cached), unchecked."""
        if steps not in self.networks:
            self.networks[steps] = self.build(steps)
        return self.networks[steps]

    def __call__(self, steps: int) -> Network:
        net = self.network(steps)
        self._merge(net, steps, grow=False)
        return net

    def _merge(self, net: Network, steps: int, grow: bool) -> None:
        for name, value in net.params.items():
            known = self.params.get(name)
            if known is None and not grow:
                raise UnsupportedOpError(f"{self.what} at length {steps} uses parameter "
                                         f"{name!r}, which the lengths converted first do "
                                         f"not; a sequence model needs the same parameters "
                                         f"at every length")
            if known is not None and (known.shape != value.shape
                                      or not np.array_equal(known, value)):
                raise UnsupportedOpError(f"{self.what}: parameter {name!r} changes with the "
                                         f"sequence length (at length {steps}); a sequence "
                                         f"model ties each name to one value (is a constant "
                                         f"computed from the length?)")
            self.params.setdefault(name, value)
