"""MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool (1-d and 2-d)."""

from __future__ import annotations

from plnet.frontends.onnx.converters.windows import geometry, spatial_input
from plnet.frontends.onnx.registry import converter
from plnet.ops import AvgPool, MaxPool


def _single_output(node):
    if len(node.proto.output) > 1 and any(node.proto.output[1:]):
        raise node.error("the Indices output of MaxPool (argmax positions) is not a "
                         "piecewise-linear function of the input; only the values output is "
                         "supported")


def _window(node, what):
    """``(x, window attributes)`` shared by MaxPool and AveragePool."""
    x, spatial = spatial_input(node, what)
    kernel = node.ints("kernel_shape")
    if kernel is None:
        raise node.error(f"{what} needs kernel_shape")
    strides, padding, dilations = geometry(node, spatial, kernel)
    return x, dict(kernel=tuple(kernel), stride=strides, padding=padding, dilation=dilations,
                   ceil_mode=bool(node.attr("ceil_mode", 0)))


@converter("MaxPool")
def convert_max_pool(node):
    _single_output(node)
    # storage_order only changes the layout of the Indices output, which is refused above
    x, window = _window(node, "MaxPool")
    return node.ctx.emit(MaxPool(**window), [x], node.name, x)


@converter("AveragePool")
def convert_average_pool(node):
    x, window = _window(node, "AveragePool")
    op = AvgPool(**window, count_include_pad=bool(node.attr("count_include_pad", 0)))
    return node.ctx.emit(op, [x], node.name, x)


def _global(node, cls, what):
    x, spatial = spatial_input(node, what)
    n = len(spatial)
    kwargs = dict(kernel=tuple(spatial), stride=(1,) * n, padding=((0, 0),) * n,
                  dilation=(1,) * n, ceil_mode=False)
    if cls is AvgPool:
        kwargs["count_include_pad"] = False
    return node.ctx.emit(cls(**kwargs), [x], node.name, x)


@converter("GlobalAveragePool")
def convert_global_average_pool(node):
    return _global(node, AvgPool, "GlobalAveragePool")


@converter("GlobalMaxPool")
def convert_global_max_pool(node):
    return _global(node, MaxPool, "GlobalMaxPool")
