"""Fold a per-output scale/shift into the dense or conv node before it.

ONNX files often write a layer's bias, or an inference batch norm after it, as separate
nodes (MatMul + Add, Gemm + BatchNormalization, Conv + BatchNormalization); the converters
lower those to a ScaleShift after a Dense or Conv. When the ScaleShift's factors vary only
along the layer's output axis, ``(x W^T + b) * s + t = x (s W)^T + (s b + t)`` exactly, so
the pair becomes one Dense/Conv with its own bias, as ``from_torch`` builds it.
"""

from __future__ import annotations

import dataclasses

import networkx as nx
import numpy as np

from plnet.ops import Conv, Dense, ScaleShift

#: op class -> the per-sample axis its outputs (rows of its weight) run along
OUTPUT_AXIS = {Dense: -1, Conv: 0}


def fold_scale_shifts(graph: nx.DiGraph, params: dict[str, np.ndarray], shapes: dict,
                      output: str) -> str:
    """Fold every foldable ScaleShift into its producer, in place; returns the new output.

    A ScaleShift is folded when its input is a Dense or Conv node that feeds nothing else,
    whose parameters no other node reads (tied weights stay as they are), and whose
    factors are constant along every axis but the output axis.
    """
    uses: dict[str, int] = {}
    for node in graph:
        for name in graph.nodes[node]["op"].param_names():
            uses[name] = uses.get(name, 0) + 1
    for node in list(nx.topological_sort(graph)):
        op = graph.nodes[node]["op"]
        if type(op) is not ScaleShift:
            continue
        (source,) = graph.predecessors(node)
        layer = graph.nodes[source]["op"]
        if type(layer) not in OUTPUT_AXIS or graph.out_degree(source) != 1:
            continue
        if any(uses[name] != 1 for name in layer.param_names()):
            continue
        axis = OUTPUT_AXIS[type(layer)]
        factors = [_per_output(params[name], shapes[source], axis) if name else None
                   for name in (op.scale, op.shift)]
        if any(f is None for f, name in zip(factors, (op.scale, op.shift)) if name):
            continue
        folded = _folded(layer, source, params, *factors)
        uses.setdefault(folded.bias, 1)
        graph.nodes[source]["op"] = folded
        for user in list(graph.successors(node)):
            graph.add_edge(source, user, **graph.edges[node, user])
        graph.remove_node(node)
        if node == output:
            output = source
    return output


def _per_output(value: np.ndarray, shape: tuple[int, ...], axis: int) -> np.ndarray | None:
    """``value`` broadcast to ``shape`` as one entry per output, or None if it varies
    along another axis."""
    full = np.broadcast_to(value, shape)
    axis = axis % len(shape)
    first = full[tuple(slice(None) if a == axis else slice(0, 1) for a in range(len(shape)))]
    if not np.array_equal(full, np.broadcast_to(first, shape)):
        return None
    return first.reshape(shape[axis])


def _folded(layer, node: str, params: dict[str, np.ndarray], scale, shift):
    weight = params[layer.weight]
    outputs = weight.shape[0]
    scale = np.ones(outputs) if scale is None else scale
    bias = np.zeros(outputs) if layer.bias is None else params[layer.bias]
    params[layer.weight] = weight * scale.reshape((outputs,) + (1,) * (weight.ndim - 1))
    bias = bias * scale + (0.0 if shift is None else shift)
    bias_name = layer.bias or _fresh(params, f"{node}.bias")
    params[bias_name] = bias
    return dataclasses.replace(layer, bias=bias_name)


def _fresh(params: dict, hint: str) -> str:
    name, i = hint, 1
    while name in params:
        name, i = f"{hint}_{i}", i + 1
    return name
