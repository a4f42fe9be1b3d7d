"""BatchNormalization in inference form, folded into one ScaleShift."""

from __future__ import annotations

import numpy as np

from plnet.errors import InvalidInputError
from plnet.frontends.onnx.converters import broadcasting
from plnet.frontends.onnx.registry import converter
from plnet.ops import ScaleShift


@converter("BatchNormalization")
def convert_batch_normalization(node):
    """``y = (x - mean) / sqrt(var + eps) * gamma + beta`` over channel axis 1."""
    ctx = node.ctx
    if int(node.attr("training_mode", 0)) or (len(node.proto.output) > 1
                                              and any(node.proto.output[1:])):
        raise node.error("BatchNormalization in training mode normalizes with the batch's "
                         "own statistics, which couples samples and is not piecewise linear; "
                         "export the model in eval mode")
    x = node.tensor(0)
    gamma, beta, mean, var = (np.asarray(node.const(i, what), np.float64) for i, what in
                              enumerate(("scale", "B", "mean", "var"), start=1))
    eps = float(node.attr("epsilon", 1e-5))
    if ((var + eps) <= 0).any():
        raise InvalidInputError(f"{node.where}: var + epsilon has non-positive entries")
    scale = gamma / np.sqrt(var + eps)
    shift = beta - mean * scale
    rank = len(ctx.onnx_shape(x))
    if rank < 2:
        raise node.error(f"BatchNormalization needs an input of rank >= 2 ([N, C, ...]), got "
                         f"rank {rank}")
    if scale.ndim == 1:  # per channel; spatial=0 (opsets 7-8) gives per-position stats instead
        full = [1, scale.shape[0]] + [1] * (rank - 2)
    else:
        full = [1] + list(scale.shape)
    x, scale_c = broadcasting.with_constant(node, x, scale.reshape(full))
    _, shift_c = broadcasting.with_constant(node, x, np.broadcast_to(shift, scale.shape)
                                            .reshape(full))
    op = ScaleShift(scale=ctx.param(f"{node.name}.scale", scale_c),
                    shift=ctx.param(f"{node.name}.shift", shift_c))
    return ctx.emit(op, [x], node.name, x)
