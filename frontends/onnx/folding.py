"""Constant folding: a node whose inputs are all constants is evaluated in numpy.

onnx's reference evaluator runs the node, so folding covers every ONNX op (shape arithmetic
such as ``Shape -> Gather -> Unsqueeze -> Concat``, weight transposes, casts). Values that
hold the batch-size stand-in only flow through ops that move integers around unchanged.
"""

from __future__ import annotations

import numpy as np

from plnet.errors import UnsupportedOpError
from plnet.frontends.onnx.tensor import BATCH_SENTINEL

#: Ops that carry the batch-size stand-in through unchanged.
SHAPE_SAFE_OPS = {"Gather", "Unsqueeze", "Squeeze", "Concat", "Slice", "Cast", "Identity",
                  "Reshape", "Flatten", "Constant"}


#: Ops that build a constant of a given shape: a batch-size stand-in there becomes 1, since
#: the value is the same for every sample and broadcasts against the batch (an RNN's zero
#: initial state, ``zeros(batch, hidden)``).
BROADCAST_BUILDERS = {"ConstantOfShape": 0, "Expand": 1}


def fold(node, inputs: list[np.ndarray]):
    """Evaluate ``node`` on constant inputs; returns its output arrays."""
    if node.op_type in BROADCAST_BUILDERS and len(inputs) > BROADCAST_BUILDERS[node.op_type]:
        i = BROADCAST_BUILDERS[node.op_type]
        shape = np.asarray(inputs[i])
        inputs = list(inputs)
        inputs[i] = np.where(shape == BATCH_SENTINEL, 1, shape).astype(shape.dtype)
    if node.op_type not in SHAPE_SAFE_OPS and any(
            np.asarray(v).dtype.kind in "iu" and (np.asarray(v) == BATCH_SENTINEL).any()
            for v in inputs):
        raise UnsupportedOpError(f"{node.where}: computes with the symbolic batch size "
                                 f"({node.op_type} of a Shape); plnet folds only shape "
                                 f"arithmetic that keeps the batch size as it is. Load with "
                                 f"batch_dim=None, or export with a fixed batch size.")
    from onnx import TensorProto, helper
    from onnx.reference import ReferenceEvaluator

    names = [n for n in node.proto.input if n]
    feeds = {name: np.asarray(value) for name, value in zip(names, inputs)}
    outs = [n for n in node.proto.output if n]

    def untyped(name):
        return helper.make_tensor_value_info(name, TensorProto.UNDEFINED, None)

    # a one-node model, so that the evaluator picks the op version of the model's opset
    graph = helper.make_graph([node.proto], "fold", [untyped(n) for n in dict.fromkeys(names)],
                              [untyped(n) for n in outs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", node.opset)])
    try:
        results = dict(zip(outs, ReferenceEvaluator(model).run(None, feeds)))
        outputs = [results.get(n) for n in node.proto.output]
    except Exception as exc:  # the reference evaluator raises many kinds
        raise UnsupportedOpError(f"{node.where}: cannot fold this constant node "
                                 f"({type(exc).__name__}: {exc})") from None
    return [None if o is None else np.asarray(o) for o in outputs]
