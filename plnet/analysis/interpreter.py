"""The interpreter loop every analysis is written as (in the manner of torch.fx).

Nodes run in topological order; a subclass overrides :meth:`Interpreter.run_node` (and
:meth:`Interpreter.input_value`) to carry whatever it needs through the graph. Values are
dropped as soon as their last consumer has run, which matters for Jacobians. Every node's
output is checked to be finite, so overflow is reported at the node where it happens instead
of turning into NaN margins downstream.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from plnet.analysis.norms import check_finite
from plnet.ops import Input


class Interpreter:
    """Runs a network node by node; the base class computes the float64 forward pass.

    Subclasses override the per-node hook to compute more along the way (patterns,
    gradients); :meth:`run` evaluates the graph in topological order.

    Args:
        net: the :class:`plnet.Network` to run.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> plnet.analysis.Interpreter(net).run(x)
        array([[0.5]])
    """

    def __init__(self, net):
        self.net = net
        self._last_use = {}
        for name in net.order:
            for u in net.inputs_of(name):
                self._last_use[u] = name

    def input_value(self, x: np.ndarray) -> Any:
        """What flows out of the input node, given the batch ``x``."""
        return x

    def run_node(self, name: str, op, inputs: list) -> Any:
        """Compute the value of one node from its inputs' values."""
        return op.forward(inputs, self.net.params)

    def check_output(self, name: str, op, value: Any) -> None:
        """Raise :class:`plnet.errors.NonFiniteError` when a node's value is not finite."""
        check_finite(value, name, type(op).__name__)

    def run(self, x: np.ndarray) -> Any:
        """Run the whole graph and return the output node's value."""
        # overflow is reported by check_output, naming the node: numpy's warning adds nothing
        with np.errstate(over="ignore", invalid="ignore"):
            return self._run(x)

    def _run(self, x: np.ndarray) -> Any:
        net = self.net
        env: dict[str, Any] = {}
        for name in net.order:
            op = net.op(name)
            if isinstance(op, Input):
                env[name] = self.input_value(x)
            else:
                env[name] = self.run_node(name, op, [env[u] for u in net.inputs_of(name)])
                self.check_output(name, op, env[name])
            for u in set(net.inputs_of(name)):
                if self._last_use.get(u) == name and u != net.output:
                    del env[u]
        return env[net.output]
