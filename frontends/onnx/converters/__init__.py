"""ONNX converters, one file per op family; importing this package registers them all."""

from plnet.frontends.onnx.converters import (activations, arithmetic, conv, einsum, elementwise,
                                             indexing, linear, normalization, passthrough,
                                             pooling, recurrent, reduce, reshaping, resize,
                                             selection, split, where)

__all__ = ["activations", "arithmetic", "conv", "einsum", "elementwise", "indexing", "linear",
           "normalization", "passthrough", "pooling", "recurrent", "reduce", "reshaping",
           "resize", "selection", "split", "where"]
