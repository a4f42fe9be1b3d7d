"""plnet: exact linear-region certificates and ROLL training for piecewise-linear networks.

``import plnet`` loads only numpy, scipy and networkx. The frontends (torch, onnx), the
torch backend and the cvxpy checks load on first use.
"""

from __future__ import annotations

import importlib

from plnet.analysis import (ActivationPattern, Bracket, Linearization, Polyhedron, RegionCount,
                            activation_pattern, count_linear_regions, directional_margin,
                            l1_margin_bisection, linearize, margin, region)
from plnet.builder import NetworkBuilder
from plnet.errors import (ConversionMismatch, GraphError, InvalidInputError, MissingDependencyError,
                          NotPiecewiseLinearError, PlnetError, SerializationError, ShapeError,
                          TieError, UnsupportedOpError)
from plnet.network import Network, load

__version__ = "0.1.0"

__all__ = [
    "ActivationPattern", "Bracket", "ConversionMismatch", "GraphError", "InvalidInputError",
    "Linearization", "MissingDependencyError", "Network", "NetworkBuilder",
    "NotPiecewiseLinearError", "PlnetError", "Polyhedron", "RegionCount", "SerializationError",
    "ShapeError", "TieError", "UnsupportedOpError", "__version__", "activation_pattern",
    "count_linear_regions", "directional_margin", "from_onnx", "from_torch",
    "l1_margin_bisection", "linearize", "load", "margin", "region", "to_onnx", "to_torch",
]

_LAZY_MODULES = ("exact", "testing", "frontends", "backends", "cli")


def from_torch(module, example_input, **kwargs):
    """Lower a ``torch.nn.Module`` to a :class:`Network`; see :mod:`plnet.frontends.torch`."""
    from plnet.frontends import from_torch as impl

    return impl(module, example_input, **kwargs)


def from_onnx(model, **kwargs):
    """Load an ONNX model (path, bytes or ModelProto); see :mod:`plnet.frontends.onnx`."""
    from plnet.frontends import from_onnx as impl

    return impl(model, **kwargs)


def to_onnx(net, **kwargs):
    """Export a :class:`Network` as an ONNX ModelProto."""
    from plnet.frontends import to_onnx as impl

    return impl(net, **kwargs)


def to_torch(net, **kwargs):
    """Export a :class:`Network` as a ``torch.nn.Module`` computing the same function."""
    from plnet.frontends import to_torch as impl

    return impl(net, **kwargs)


def __getattr__(name):
    if name in _LAZY_MODULES:
        return importlib.import_module(f"plnet.{name}")
    raise AttributeError(f"module 'plnet' has no attribute {name!r}")
