"""PyTorch frontend: ``from_torch`` (a ``torch.nn.Module`` into the IR) and ``to_torch``.

Layout: :mod:`~plnet.frontends.torch.convert` traces with torch.fx and drives the
conversion; :mod:`~plnet.frontends.torch.fx_to_ir` is the node-by-node fx -> IR loop;
``convert_<family>.py`` hold the converters, registered in
:mod:`~plnet.frontends.torch.registry` by module type, function or tensor method;
:mod:`~plnet.frontends.torch.check` compares the module and the network;
:mod:`~plnet.frontends.torch.export` and ``export_ops.py`` turn a network back into a module.

To support a new layer, add a ``convert_<name>`` function decorated with
``@converts_module(...)`` (or ``converts_function`` / ``converts_method``) to the file of its
family, and a test in ``tests/frontends/torch`` that converts a one-layer model and
compares it with torch in float64.

Importing this package does not import torch; the functions do, on first use.
"""

from __future__ import annotations

__all__ = ["from_torch", "to_torch"]


def from_torch(module, example_input, **kwargs):
    """Lower a module; see :func:`plnet.frontends.torch.convert.from_torch`."""
    from plnet.frontends.torch.convert import from_torch as impl

    return impl(module, example_input, **kwargs)


def to_torch(net, **kwargs):
    """Export a network; see :func:`plnet.frontends.torch.export.to_torch`."""
    from plnet.frontends.torch.export import to_torch as impl

    return impl(net, **kwargs)
