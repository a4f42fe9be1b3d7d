"""``to_torch``: a :class:`plnet.Network` as a ``torch.nn.Module`` computing the same function.

Every IR node becomes an :class:`OpModule` running the node's torch lowering, the one that
``plnet.backends.torch.compile`` and the gradient engines use
(:mod:`plnet.backends.torch.lowerings`). Parameters become ``nn.Parameter`` objects, one
per name in the network's store, so tied parameters (an unrolled RNN's steps) are the same
``Parameter`` object in every node that uses them and train together.
"""

from __future__ import annotations

from plnet.errors import require


def _torch():
    return require("torch", "torch", "plnet.to_torch")


torch = _torch()
nn = torch.nn

from plnet.backends.torch.lowerings import lower  # noqa: E402  (needs torch)


class OpModule(nn.Module):
    """One IR node. ``from_torch`` reads it back as exactly this op (it is a leaf).

    Attributes:
        node_name: the IR node's name.
        op: the IR op (parameter fields hold IR parameter names).
        weights: op field -> the shared ``nn.Parameter``.
        lowering: the op's torch lowering.
        in_shapes, out_shape: per-sample shapes.
    """

    def __init__(self, node_name, op, weights, in_shapes, out_shape):
        super().__init__()
        self.lowering = lower(node_name, op, in_shapes, out_shape)
        self.node_name = node_name
        self.op = op
        self.weights = nn.ParameterDict(weights)
        self.in_shapes, self.out_shape = self.lowering.in_shapes, self.lowering.out_shape

    def forward(self, *xs):
        params = {getattr(self.op, field): p for field, p in self.weights.items()}
        return self.lowering.forward(list(xs), params)

    def extra_repr(self) -> str:
        return f"{self.node_name!r}: {self.op.type_name}({self.op.describe()})"


class PlnetModule(nn.Module):
    """A network as a torch module: ``forward(x)`` with ``x`` of shape ``[B, *input_shape]``.

    Attributes:
        nodes: ``n<i>`` -> :class:`OpModule`, in topological order.
        params: ``p<i>`` -> ``nn.Parameter``, one per IR parameter name.
        plnet_input_name: the IR input node's name (kept for a round trip).
    """

    def __init__(self, net, dtype, shared=None):
        super().__init__()
        names = sorted(net.params)
        self._param_keys = {name: f"p{i}" for i, name in enumerate(names)}
        shared = shared or {}
        self.params = nn.ParameterDict({
            self._param_keys[name]: shared[name] if name in shared else
            nn.Parameter(torch.tensor(net.params[name], dtype=dtype)) for name in names})
        keys = {name: f"n{i}" for i, name in enumerate(net.order)}
        self.nodes = nn.ModuleDict()
        self._plan = []
        for name in net.order:
            op = net.op(name)
            if name == net.input_name:
                continue
            weights = {field: self.params[self._param_keys[getattr(op, field)]]
                       for field in op.param_fields if getattr(op, field) is not None}
            self.nodes[keys[name]] = OpModule(
                name, op, weights, [net.shapes[u] for u in net.inputs_of(name)],
                net.shapes[name])
            self._plan.append((keys[name], [keys[u] for u in net.inputs_of(name)]))
        self._input_key, self._output_key = keys[net.input_name], keys[net.output]
        self.plnet_input_name = net.input_name
        self.input_shape = tuple(net.input_shape)

    def parameter(self, name: str):
        """The ``nn.Parameter`` holding IR parameter ``name``."""
        return self.params[self._param_keys[name]]

    def forward(self, x):
        env = {self._input_key: x}
        for key, inputs in self._plan:
            env[key] = self.nodes[key](*[env[u] for u in inputs])
        return env[self._output_key]


class SequenceModule(nn.Module):
    """A sequence model as a torch module: ``forward(x)`` with ``x`` ``[B, T, *F]``, any T.

    The network of each length is built on first use and kept; every length uses the same
    ``nn.Parameter`` objects (one per name of ``model.params``), so training through any
    length updates the one tied set.

    Attributes:
        params: ``p<i>`` -> ``nn.Parameter``, one per parameter name.
        model: the :class:`plnet.sequence.SequenceModel`.
    """

    def __init__(self, model, dtype):
        super().__init__()
        names = sorted(model.params)
        self._param_keys = {name: f"p{i}" for i, name in enumerate(names)}
        self.params = nn.ParameterDict({
            self._param_keys[name]: nn.Parameter(torch.tensor(model.params[name], dtype=dtype))
            for name in names})
        self.model, self._dtype = model, dtype
        self._lengths: dict[int, PlnetModule] = {}  # not submodules: they hold no own state

    def parameter(self, name: str):
        """The ``nn.Parameter`` holding parameter ``name`` (shared by every length)."""
        return self.params[self._param_keys[name]]

    def unrolled(self, length: int) -> PlnetModule:
        """The module of one length (its parameters are this module's)."""
        if length not in self._lengths:
            net = self.model.unroll(length)
            shared = {name: self.parameter(name) for name in net.params}
            self._lengths[length] = PlnetModule(net, self._dtype, shared)
        return self._lengths[length]

    def forward(self, x):
        if x.ndim != 2 + len(self.model.feature_shape):
            raise ValueError(f"expected a batch [B, T, *{self.model.feature_shape}] of "
                             f"equal-length sequences, got shape {tuple(x.shape)}")
        return self.unrolled(int(x.shape[1]))(x)


def to_torch(net, *, dtype=None):
    """Export a :class:`plnet.Network` (or a sequence model, as a :class:`SequenceModule`
    taking any length) as a ``torch.nn.Module`` computing the same function.

    Args:
        net: the network.
        dtype: parameter dtype (default ``torch.float32``; use ``torch.float64`` to compare
            with the numpy reference).

    Returns:
        A :class:`PlnetModule`; ``module.parameter(name)`` gives the ``nn.Parameter`` of an
        IR parameter, shared by every node that uses it.
    """
    if hasattr(net, "unroll"):  # a sequence model
        return SequenceModule(net, dtype or torch.float32)
    return PlnetModule(net, dtype or torch.float32)
