"""PyTorch frontend: ``from_torch`` (a ``torch.nn.Module`` into the IR) and ``to_torch``.

Layout: :mod:`~plnet.frontends.torch.convert` traces with torch.fx and drives the
conversion; :mod:`~plnet.frontends.torch.fx_to_ir` is the node-by-node fx -> IR loop;
``convert_<family>.py`` hold the converters, registered in
:mod:`~plnet.frontends.torch.registry` by module type, function or tensor method;
:mod:`~plnet.frontends.torch.check` compares the module and the network;
:mod:`~plnet.frontends.torch.export` turns a network back into a module (through the torch
backend's lowerings).

To support a new layer, add a ``convert_<name>`` function decorated with
``@converts_module(...)`` (or ``converts_function`` / ``converts_method``) to the file of its
family, and a test in ``tests/frontends/torch`` that converts a one-layer model and
compares it with torch in float64.

Importing this package does not import torch; the functions do, on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# convert.py imports torch inside its functions only, so the real function is exposed
from plnet.frontends.torch.convert import from_torch

if TYPE_CHECKING:
    import torch

    from plnet.network import Network

__all__ = ["from_torch", "to_torch"]


def to_torch(net: Network, *, dtype: torch.dtype | None = None) -> torch.nn.Module:
    """Export a :class:`plnet.Network` as a ``torch.nn.Module`` computing the same function.

    This entry point imports torch on first call; the implementation is
    :func:`plnet.frontends.torch.export.to_torch` (its module subclasses ``torch.nn.Module``,
    so importing it needs torch).

    Args:
        net: the network.
        dtype: parameter dtype (default ``torch.float32``; use ``torch.float64`` to compare
            with the numpy reference).

    Returns:
        A ``PlnetModule``; ``module.parameter(name)`` gives the ``nn.Parameter`` of an IR
        parameter, shared by every node that uses it.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> import torch
        >>> module = plnet.to_torch(net, dtype=torch.float64)
        >>> module(torch.tensor(x))
        tensor([[0.5000]], dtype=torch.float64, grad_fn=<...>)
    """
    from plnet.frontends.torch.export import to_torch as export_to_torch

    return export_to_torch(net, dtype=dtype)
