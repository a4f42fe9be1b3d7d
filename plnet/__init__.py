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
# the frontends import torch/onnx inside their functions, so this stays light
from plnet.frontends import from_onnx, from_torch, to_onnx, to_torch

__version__ = "0.1.0"

__all__ = [
    "ActivationPattern", "Bracket", "ConversionMismatch", "GraphError", "InvalidInputError",
    "Linearization", "MissingDependencyError", "Network", "NetworkBuilder",
    "NotPiecewiseLinearError", "PlnetError", "Polyhedron", "RegionCount", "SerializationError",
    "ShapeError", "TieError", "UnsupportedOpError", "__version__", "activation_pattern",
    "count_linear_regions", "directional_margin", "from_onnx", "from_torch",
    "l1_margin_bisection", "linearize", "load", "margin", "region", "to_onnx", "to_torch",
]

_LAZY_MODULES = ("exact", "regions", "testing", "frontends", "backends", "cli", "sequence")


def __getattr__(name):
    if name in _LAZY_MODULES:
        return importlib.import_module(f"plnet.{name}")
    raise AttributeError(f"module 'plnet' has no attribute {name!r}")
