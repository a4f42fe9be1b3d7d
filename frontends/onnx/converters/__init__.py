"""ONNX converters, one file per op family; importing this package registers them all."""

from plnet.frontends.onnx.converters import (activations, arithmetic, conv, indexing, linear,
                                             normalization, passthrough, pooling, recurrent,
                                             reshaping)

__all__ = ["activations", "arithmetic", "conv", "indexing", "linear", "normalization",
           "passthrough", "pooling", "recurrent", "reshaping"]
