"""Linear, convolution, transposed convolution and batch norm (eval mode; folded).

A batch norm whose input is a Linear or Conv output used by nothing else is folded into
that layer's weights; any other eval-mode batch norm becomes an elementwise scale/shift
(merged with neighbouring constant affine maps). Train-mode batch norm normalizes with
the batch's own statistics, which is not a fixed function of one sample: it is an error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch.nn.functional as F
from torch import nn

from plnet.frontends.torch.registry import converts_function, converts_module
from plnet.frontends.torch.values import AffineValue, TensorValue, to_numpy

if TYPE_CHECKING:  # for annotations only: fx_to_ir imports this module
    import torch.fx

    from plnet.frontends.torch.fx_to_ir import FxToIR

_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


def _param_base(node) -> str:
    return node.target if node.op == "call_module" else node.name


def batch_norm_affine(lower: FxToIR, node: torch.fx.Node,
                      module: nn.Module) -> tuple[np.ndarray, np.ndarray]:
    """``(scale, shift)`` per channel of an eval-mode batch norm module, or an error."""
    if module.training:
        raise lower.unsupported(f"{type(module).__name__} is in training mode, where it "
                                f"normalizes with the statistics of the current batch; call "
                                f"module.eval() before converting", node)
    if module.running_mean is None or module.running_var is None:
        raise lower.unsupported(f"{type(module).__name__}(track_running_stats=False) uses "
                                f"batch statistics even in eval mode, which is not a fixed "
                                f"function of one sample; train it with running statistics",
                                node)
    return _affine_from_stats(module.running_mean, module.running_var, module.weight,
                              module.bias, module.eps)


def _affine_from_stats(mean, var, weight, bias, eps):
    mean, var = to_numpy(mean), to_numpy(var)
    scale = 1.0 / np.sqrt(var + float(eps))
    if weight is not None:
        scale = scale * to_numpy(weight)
    shift = -mean * scale
    if bias is not None:
        shift = shift + to_numpy(bias)
    return scale, shift


def _foldable_batch_norm(lower, node, channels: int, channel_last_ok: bool):
    """The eval batch norm that alone consumes ``node``, as (bn_node, scale, shift), or None."""
    users = list(node.users)
    if len(users) != 1 or users[0].op != "call_module" or users[0].args[:1] != (node,):
        return None
    bn = lower.root.get_submodule(users[0].target)
    if not isinstance(bn, _BATCH_NORMS) or bn.training or bn.running_mean is None:
        return None
    if bn.num_features != channels or not channel_last_ok:
        return None
    scale, shift = batch_norm_affine(lower, users[0], bn)
    return users[0], scale, shift


def _with_bias(weight, bias, scale, shift):
    w = to_numpy(weight)
    b = np.zeros(w.shape[0]) if bias is None else to_numpy(bias)
    return w * scale.reshape((-1,) + (1,) * (w.ndim - 1)), b * scale + shift


def _weighted_layer(lower, node, weight, bias, channel_last_ok, add_node):
    """Store the layer's weights (with a following eval batch norm folded in when it alone
    consumes the layer) and add the node with ``add_node(weight_name, bias_name)``."""
    base = _param_base(node)
    folded = _foldable_batch_norm(lower, node, int(weight.shape[0]), channel_last_ok)
    if folded is not None:
        bn_node, scale, shift = folded
        w, b = _with_bias(weight, bias, scale, shift)
        # a layer + batch norm pair called twice folds to the same values: tie them
        sources = (weight, bias, lower.root.get_submodule(bn_node.target))
        w_name = lower.param(w, f"{base}.weight.bn_folded", key=sources)
        b_name = lower.param(b, f"{base}.bias.bn_folded", key=sources)
    else:
        w_name, b_name = lower.param(weight, f"{base}.weight"), lower.param(bias, f"{base}.bias")
    out = TensorValue(add_node(w_name, b_name))
    if folded is not None:
        lower.folded[folded[0]] = out  # the batch norm's node now stands for this one
    return out


def _dense(lower, node, x, weight, bias):
    tv = lower.tensor(x, batch_first=False)
    rank = len(lower.shape(tv)) + 1
    if tv.batch_axis == rank - 1:
        raise lower.unsupported("a Linear layer acts on the last axis, which here is the "
                                "batch axis; transpose the batch axis back first")
    name = lower.node_name(node)
    out = _weighted_layer(lower, node, weight, bias, len(lower.shape(tv)) == 1,
                          lambda w, b: lower.builder.dense(tv.node, w, b, name=name))
    # the last axis is not the batch: a time-major [T, B, F] sequence stays time-major
    return TensorValue(out.node, tv.batch_axis)


@converts_module(nn.Linear)
def convert_linear(lower, node, module, x):
    return _dense(lower, node, x, module.weight, module.bias)


@converts_function(F.linear)
def convert_functional_linear(lower, node, x, weight, bias=None):
    return _dense(lower, node, x, weight, bias)


def _conv_padding(lower, padding, weight, stride, dilation):
    n = weight.ndim - 2
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        if padding == "same":
            if any(s != 1 for s in _tuple(stride, n)):
                raise lower.unsupported("padding='same' needs stride 1 (as in torch)")
            pads = []
            for k, d in zip(weight.shape[2:], _tuple(dilation, n)):
                total = d * (k - 1)
                pads.append((total // 2, total - total // 2))  # torch puts the extra at the end
            return tuple(pads)
        raise lower.unsupported(f"conv padding {padding!r}: expected an int, a tuple, "
                                f"'same' or 'valid'")
    return tuple((p, p) for p in _tuple(padding, n))


def _tuple(value, n):
    return (int(value),) * n if isinstance(value, int) else tuple(int(v) for v in value)


def _conv(lower, node, x, weight, bias, stride, padding, dilation, groups):
    tv = lower.tensor(x)
    if weight.ndim not in (3, 4):
        raise lower.unsupported(f"convolution with a {weight.ndim - 2}-d kernel: plnet "
                                f"supports 1-d and 2-d convolutions")
    if len(lower.shape(tv)) != weight.ndim - 1:
        raise lower.unsupported(f"the convolution expects a batched input of rank "
                                f"{weight.ndim}, got per-sample shape {lower.shape(tv)} "
                                f"(unbatched inputs are not supported)")
    pads = _conv_padding(lower, padding, weight, stride, dilation)
    name = lower.node_name(node)
    return _weighted_layer(lower, node, weight, bias, True, lambda w, b: lower.builder.conv(
        tv.node, w, b, stride=stride, padding=pads, dilation=dilation, groups=groups, name=name))


@converts_module(nn.Conv1d, nn.Conv2d)
def convert_conv(lower, node, module, x):
    if module.padding_mode != "zeros":
        raise lower.unsupported(f"padding_mode={module.padding_mode!r}: plnet supports "
                                f"zero padding only (padding_mode='zeros')")
    return _conv(lower, node, x, module.weight, module.bias, module.stride, module.padding,
                 module.dilation, module.groups)


@converts_function(F.conv1d, F.conv2d)
def convert_functional_conv(lower, node, x, weight, bias=None, stride=1, padding=0,
                            dilation=1, groups=1):
    return _conv(lower, node, x, weight, bias, stride, padding, dilation, groups)


def _conv_transpose(lower, node, x, weight, bias, stride, padding, output_padding, groups,
                    dilation, output_size=None):
    tv = lower.tensor(x)
    n = weight.ndim - 2
    if n not in (1, 2) or len(lower.shape(tv)) != n + 1:
        raise lower.unsupported(f"transposed convolution with a {n}-d kernel on per-sample "
                                f"input {lower.shape(tv)}: plnet supports batched 1-d and "
                                f"2-d transposed convolutions")
    stride, padding, dilation = _tuple(stride, n), _tuple(padding, n), _tuple(dilation, n)
    if output_size is not None:
        output_padding = _output_padding_for(lower, lower.shape(tv)[1:], weight.shape[2:],
                                             stride, padding, dilation, output_size)
    name = lower.node_name(node)
    w_name = lower.param(weight, f"{_param_base(node)}.weight")
    b_name = lower.param(bias, f"{_param_base(node)}.bias")
    return TensorValue(lower.builder.conv_transpose(
        tv.node, w_name, b_name, stride=stride, padding=padding,
        output_padding=_tuple(output_padding, n), dilation=dilation, groups=int(groups),
        name=name))


def _output_padding_for(lower, spatial, kernel, stride, padding, dilation, output_size):
    """torch's rule: ``output_size`` picks an output_padding in ``[0, stride)`` per axis."""
    if not isinstance(output_size, (list, tuple)) or not all(
            isinstance(v, int) for v in output_size):
        raise lower.unsupported(f"output_size={output_size!r}: plnet needs the sizes as "
                                f"constant ints when the model is traced")
    n = len(spatial)
    if len(output_size) not in (n, n + 2):
        raise lower.unsupported(f"output_size={list(output_size)} must have {n} or {n + 2} "
                                f"entries")
    extra = []
    for want, length, k, s, p, d in zip(output_size[-n:], spatial, kernel, stride, padding,
                                        dilation):
        smallest = (length - 1) * s - 2 * p + d * (k - 1) + 1
        if not 0 <= want - smallest < s:
            raise lower.unsupported(f"output_size={list(output_size)}: each size must lie in "
                                    f"[{smallest}, {smallest + s - 1}] for this geometry (as "
                                    f"torch requires)")
        extra.append(want - smallest)
    return tuple(extra)


@converts_module(nn.ConvTranspose1d, nn.ConvTranspose2d)
def convert_conv_transpose(lower, node, module, x, output_size=None):
    if module.padding_mode != "zeros":
        raise lower.unsupported(f"padding_mode={module.padding_mode!r}: plnet supports "
                                f"zero padding only (padding_mode='zeros')")
    return _conv_transpose(lower, node, x, module.weight, module.bias, module.stride,
                           module.padding, module.output_padding, module.groups,
                           module.dilation, output_size)


@converts_function(F.conv_transpose1d, F.conv_transpose2d)
def convert_functional_conv_transpose(lower, node, x, weight, bias=None, stride=1, padding=0,
                                      output_padding=0, groups=1, dilation=1):
    return _conv_transpose(lower, node, x, weight, bias, stride, padding, output_padding,
                           groups, dilation)


def _batch_norm(lower, value, scale, shift, expected_ranks, what):
    rank = len(lower.shape(value))
    if rank not in expected_ranks:
        raise lower.unsupported(f"{what} expects per-sample inputs of rank {expected_ranks}, "
                                f"got shape {lower.shape(value)}")
    channels = lower.shape(value)[0]
    if channels != scale.shape[0]:
        raise lower.unsupported(f"{what} has {scale.shape[0]} features but the input has "
                                f"{channels} channels")
    bshape = (channels,) + (1,) * (rank - 1)
    base = value if isinstance(value, AffineValue) else AffineValue(lower.tensor(value))
    return base.then(scale=scale.reshape(bshape), shift=shift.reshape(bshape))


@converts_module(*_BATCH_NORMS)
def convert_batch_norm(lower, node, module, x):
    scale, shift = batch_norm_affine(lower, node, module)
    ranks = (1, 2) if isinstance(module, nn.BatchNorm1d) else (3,)
    return _batch_norm(lower, x, scale, shift, ranks, type(module).__name__)


@converts_function(F.batch_norm)
def convert_functional_batch_norm(lower, node, x, running_mean, running_var, weight=None,
                                  bias=None, training=False, momentum=0.1, eps=1e-5):
    if training:
        raise lower.unsupported("batch_norm with training=True normalizes with batch "
                                "statistics; call module.eval() before converting")
    if running_mean is None or running_var is None:
        raise lower.unsupported("batch_norm without running statistics is not a fixed map")
    scale, shift = _affine_from_stats(running_mean, running_var, weight, bias, eps)
    return _batch_norm(lower, x, scale, shift, (1, 2, 3), "batch_norm")


