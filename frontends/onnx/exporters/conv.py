"""Conv and ConvTranspose (1-d and 2-d) with explicit pads."""

from __future__ import annotations

from plnet.frontends.onnx.export_registry import exports
from plnet.ops import Conv, ConvTranspose


def _emit_conv(ctx, node, op, op_type, out, padding, with_bias=True, **extra):
    """``op_type(x, weight[, bias])`` with the window attributes Conv and ConvTranspose share."""
    inputs = [node.inputs[0], ctx.param(op.weight)]
    if op.bias is not None and with_bias:
        inputs.append(ctx.param(op.bias))
    return ctx.emit(op_type, inputs, out, strides=list(op.stride),
                    dilations=list(op.dilation), group=op.groups,
                    pads=[b for b, _ in padding] + [e for _, e in padding],
                    kernel_shape=list(ctx.net.params[op.weight].shape[2:]), **extra)


@exports(Conv)
def export_conv(ctx, node, op):
    _emit_conv(ctx, node, op, "Conv", node.output, op.padding)


@exports(ConvTranspose)
def export_conv_transpose(ctx, node, op):
    # Only end padding minus output_padding matters, so output_padding first cancels end
    # padding. onnxruntime refuses output_padding >= stride (torch allows it below the
    # dilation): those trailing positions hold nothing but the bias, so they become a Pad
    # of the bias-free result followed by the bias.
    padding, output_padding, appended = [], [], []
    for (begin, end), extra, stride in zip(op.padding, op.output_padding, op.stride):
        cancel = min(extra, end)
        padding.append((begin, end - cancel))
        left = extra - cancel
        output_padding.append(left if left < stride else 0)
        appended.append(0 if left < stride else left)
    if not any(appended):
        _emit_conv(ctx, node, op, "ConvTranspose", node.output, padding,
                   output_padding=output_padding)
        return
    core = _emit_conv(ctx, node, op, "ConvTranspose", f"{node.output}:core", padding,
                      with_bias=False, output_padding=output_padding)
    padded = ctx.pad(core, [0, 0] + [0] * len(appended) + [0, 0] + appended,
                     f"{node.output}:padded" if op.bias is not None else node.output)
    if op.bias is not None:
        bias = ctx.net.params[op.bias].reshape((-1,) + (1,) * len(appended))
        ctx.emit("Add", [padded, ctx.const(f"{op.bias}:per_channel", bias)], node.output)
