"""ONNX exporters, one file per op family; importing this package registers them all."""

from plnet.frontends.onnx.exporters import (activations, arithmetic, conv, graph_input, linear,
                                            pooling, views)

__all__ = ["activations", "arithmetic", "conv", "graph_input", "linear", "pooling", "views"]
