"""Compile a :class:`plnet.Network` into a ``torch.nn.Module``.

The module's parameters are the network's: one ``nn.Parameter`` per IR parameter name,
shared by every node that refers to it (the unrolled steps of an RNN train one set of
weights). One forward pass returns the logits and, on request, every unit's value in the
numpy reference's order.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from plnet.backends.torch.lowerings import lower
from plnet.errors import InvalidInputError, ShapeError


def resolve_device(device="auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else -> ``torch.device``.

    Args:
        device: ``"auto"``, a device name such as ``"cpu"`` or ``"cuda:0"``, or a
            ``torch.device``.

    Returns:
        The ``torch.device``.

    Raises:
        InvalidInputError: not a torch device, or CUDA asked for and not available.

    Example:
        >>> from plnet.backends import torch as pt
        >>> pt.resolve_device("cpu")
        device(type='cpu')
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InvalidInputError(f"device {device!r} is not a torch device ({exc}); use "
                                f"'auto', 'cpu' or 'cuda'") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError(f"device {device!r}: CUDA is not available to this torch "
                                f"({torch.__version__}); use device='auto' or 'cpu'")
    return resolved


def _escape(name: str) -> str:
    # nn.ParameterDict keys cannot hold '.'; escaping keeps names reversible
    return name.replace("%", "%25").replace(".", "%2E")


def parameter_dict(params, device, dtype) -> nn.ParameterDict:
    """IR parameters (name -> array) as an ``nn.ParameterDict`` under escaped keys."""
    return nn.ParameterDict({
        _escape(name): nn.Parameter(torch.as_tensor(np.array(value), dtype=dtype,
                                                    device=device))
        for name, value in params.items()})


class DeviceAnchored(nn.Module):
    """A module whose dtype and device are those of a scalar buffer, which follows
    ``.to()`` like a parameter, so they are known without looking at any parameter."""

    def anchor(self, device, dtype) -> None:
        if dtype not in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
            raise InvalidInputError(f"dtype must be a torch floating dtype, got {dtype!r}")
        self.register_buffer("_anchor", torch.zeros((), dtype=dtype, device=device),
                             persistent=False)

    @property
    def dtype(self) -> torch.dtype:
        return self._anchor.dtype

    @property
    def device(self) -> torch.device:
        return self._anchor.device


class _Step:
    __slots__ = ("name", "lowering", "inputs", "free", "unit_slice")

    def __init__(self, name, lowering, inputs, free, unit_slice):
        self.name, self.lowering, self.inputs = name, lowering, inputs
        self.free, self.unit_slice = free, unit_slice


class CompiledNetwork(DeviceAnchored):
    """A network as a torch module (see :func:`compile`).

    Attributes:
        net: the source :class:`plnet.Network` (its parameters are not updated by training;
            call :meth:`to_network` for a network with the current ones).
        num_units: N, the number of units.
        input_shape: per-sample input shape.
        input_size: D, the flattened input size.
        output_shape: per-sample output shape.
        unit_slices: node -> slice of the unit axis holding its units.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> import torch
        >>> from plnet.backends import torch as pt
        >>> module = pt.compile(net, dtype=torch.float64)
        >>> logits, z = module(torch.tensor(x), return_units=True)    # every unit's value too
        >>> module.num_units, z.tolist()
        (2, [[0.5, -0.25]])
        >>> module.to_network()(x)                                     # back to the IR
        array([[0.5]])
    """

    def __init__(self, net, device, dtype, params=None):
        super().__init__()
        self.anchor(device, dtype)
        self.net = net
        self.input_shape = tuple(net.input_shape)
        self.output_shape = tuple(net.output_shape)
        self.input_size = net.input_size
        if params is None:
            params = parameter_dict(net.params, device, dtype)
        # a given dict is shared: the unrolled lengths of one sequence model train one set
        self.params = params
        self._names = {name: _escape(name) for name in net.params}
        missing = sorted(name for name, key in self._names.items() if key not in params)
        if missing:
            raise InvalidInputError(f"the shared parameters lack {missing}, which the network "
                                    f"uses")
        self.steps, self.unit_slices = self._plan(net)
        self.output_index = net.order.index(net.output)
        self.num_units = sum(s.stop - s.start for s in self.unit_slices.values())

    def _plan(self, net):
        last_use = {}
        for name in net.order:
            for u in net.inputs_of(name):
                last_use[u] = name
        position = {name: i for i, name in enumerate(net.order)}
        steps, slices, start = [], {}, 0
        for name in net.order:
            ins = net.inputs_of(name)
            lowering = lower(name, net.op(name), [net.shapes[u] for u in ins], net.shapes[name])
            unit_slice = None
            if lowering.carries_pattern:
                unit_slice = slice(start, start + lowering.num_units)
                slices[name] = unit_slice
                start = unit_slice.stop
            free = tuple(position[u] for u in dict.fromkeys(ins)
                         if last_use[u] == name and u != net.output)
            steps.append(_Step(name, lowering, tuple(position[u] for u in ins), free,
                               unit_slice))
        return steps, slices

    # --- parameters ----------------------------------------------------------------------
    def param_tensors(self) -> dict[str, torch.Tensor]:
        """IR parameter name -> its (shared) ``nn.Parameter``."""
        return {name: self.params[key] for name, key in self._names.items()}

    def release_workspace(self) -> None:
        """Free the buffers the gradient engines keep between calls (see gradients)."""
        self.__dict__.pop("_workspace", None)

    def to_network(self):
        """A :class:`plnet.Network` with the module's current parameters (float64)."""
        return self.net.with_params({name: p.detach().cpu().double().numpy()
                                     for name, p in self.param_tensors().items()})

    # --- evaluation ----------------------------------------------------------------------
    def prepare_input(self, x) -> torch.Tensor:
        """``x`` as a tensor ``[B, *input_shape]`` on the module's device and dtype."""
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(np.asarray(x))
        if tuple(x.shape[1:]) != self.input_shape or x.dim() != len(self.input_shape) + 1:
            raise ShapeError(f"x has shape {tuple(x.shape)}; expected [B, *{self.input_shape}] "
                             f"with the batch first")
        if not (x.is_floating_point() or x.dtype in (torch.int32, torch.int64, torch.uint8)):
            raise InvalidInputError(f"x has dtype {x.dtype}; expected real numbers")
        return x.to(device=self.device, dtype=self.dtype)

    def run(self, x, visit=None):
        """Evaluate the graph; ``visit(step, z)`` sees every pattern node's input ``z``.

        Returns:
            The output tensor ``[B, *output_shape]``.
        """
        params = self.param_tensors()
        env = [None] * len(self.steps)
        for i, step in enumerate(self.steps):
            if not step.inputs:
                env[i] = x
                continue
            xs = [env[j] for j in step.inputs]
            if visit is not None and step.unit_slice is not None:
                visit(step, xs[0])
            env[i] = step.lowering.forward(xs, params)
            for j in step.free:
                env[j] = None
        return env[self.output_index]

    def forward(self, x, return_units: bool = False):
        """Logits ``[B, *output_shape]``; with ``return_units`` also ``z [B, N]``."""
        x = self.prepare_input(x)
        if not return_units:
            return self.run(x)
        parts = []

        def collect(step, z):
            parts.append(step.lowering.units(z, step.lowering.indicator(z)))

        out = self.run(x, collect)
        z = torch.cat(parts, dim=1) if parts else x.new_zeros((x.shape[0], 0))
        return out, z

    def extra_repr(self) -> str:
        return (f"input={self.input_shape}, output={self.output_shape}, N={self.num_units}, "
                f"nodes={len(self.steps)}")


def compile(net, device="auto", dtype=torch.float32) -> CompiledNetwork:  # noqa: A001 - public name
    """Compile a network into a torch module.

    Args:
        net: a :class:`plnet.Network`.
        device: ``"auto"`` (CUDA when available, else CPU), or any torch device.
        dtype: parameter dtype; ``torch.float64`` matches the numpy reference to round-off.

    Returns:
        A :class:`CompiledNetwork`.

    Raises:
        InvalidInputError: ``net`` is not a :class:`plnet.Network`, or ``dtype`` is not a
            floating dtype, or the device is unavailable.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> import torch
        >>> from plnet.backends import torch as pt
        >>> module = pt.compile(net, dtype=torch.float64)
        >>> module(torch.tensor(x)).tolist()         # an nn.Module: logits [B, *output_shape]
        [[0.5]]
    """
    from plnet.network import Network

    if not isinstance(net, Network):
        raise InvalidInputError(f"compile needs a plnet.Network, got {type(net).__name__}")
    return CompiledNetwork(net, resolve_device(device), dtype)
