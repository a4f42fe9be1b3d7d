"""Frontends: PyTorch modules and ONNX models into the IR, and back out.

Each function imports its framework on first use, so ``import plnet.frontends`` is cheap.
"""

from __future__ import annotations


def from_torch(module, example_input, **kwargs):
    """Lower a ``torch.nn.Module``; see :func:`plnet.frontends.torch.from_torch`."""
    from plnet.frontends.torch import from_torch as impl

    return impl(module, example_input, **kwargs)


def from_onnx(model, **kwargs):
    """Load an ONNX model; see :func:`plnet.frontends.onnx.from_onnx`."""
    from plnet.frontends.onnx import from_onnx as impl

    return impl(model, **kwargs)


def to_onnx(net, **kwargs):
    """Export to ONNX; see :func:`plnet.frontends.onnx.to_onnx`."""
    from plnet.frontends.onnx import to_onnx as impl

    return impl(net, **kwargs)


def to_torch(net, **kwargs):
    """Export to torch; see :func:`plnet.frontends.torch.to_torch`."""
    from plnet.frontends.torch import to_torch as impl

    return impl(net, **kwargs)
