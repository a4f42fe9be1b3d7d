"""Activations (ReLU, LeakyReLU, PReLU with one slope or one per channel, clamp/ReLU6/
Hardtanh and abs as exact ReLU combinations), identity-like layers, and the registry of
layers that are not piecewise linear."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from plnet.frontends.torch.registry import (NOT_PIECEWISE_LINEAR, converts_function,
                                            converts_method, converts_module)
from plnet.frontends.torch.values import TensorValue


def _relu(lower, node, x):
    tv = lower.tensor(x, batch_first=False)  # elementwise: the batch may sit anywhere
    return TensorValue(lower.builder.relu(tv.node, name=lower.node_name(node)), tv.batch_axis)


def _leaky(lower, node, x, alpha):
    tv = lower.tensor(x, batch_first=False)
    return TensorValue(lower.builder.leaky_relu(tv.node, float(alpha),
                                                name=lower.node_name(node)), tv.batch_axis)


@converts_module(nn.ReLU)
def convert_relu_module(lower, node, module, x):
    return _relu(lower, node, x)


@converts_function(F.relu, torch.relu, torch.relu_, F.relu_)
@converts_method("relu", "relu_")
def convert_relu(lower, node, x, inplace=False):
    return _relu(lower, node, x)


@converts_module(nn.LeakyReLU)
def convert_leaky_relu_module(lower, node, module, x):
    return _leaky(lower, node, x, module.negative_slope)


@converts_function(F.leaky_relu, F.leaky_relu_)
def convert_leaky_relu(lower, node, x, negative_slope=0.01, inplace=False):
    return _leaky(lower, node, x, negative_slope)


def _prelu(lower, node, x, weight):
    """torch's prelu: ``weight`` holds 1 slope, or one per channel (dim 1 of ``x``)."""
    tv = lower.tensor(x)
    shape = lower.shape(tv)
    count = int(weight.numel())
    if count == 1:
        slope_shape = ()
    elif shape and count == shape[0]:
        slope_shape = (count,) + (1,) * (len(shape) - 1)  # right-aligned: per channel
    else:
        raise lower.unsupported(f"prelu with {count} slopes on an input of shape "
                                f"[B, *{shape}]: torch needs 1 slope or one per channel "
                                f"(dim 1)")
    name = lower.node_name(node)
    slope = lower.param(weight, f"{name}.slope", shape=slope_shape)
    return TensorValue(lower.builder.prelu(tv.node, slope, name=name))


@converts_module(nn.PReLU)
def convert_prelu_module(lower, node, module, x):
    return _prelu(lower, node, x, module.weight)


@converts_function(F.prelu)
def convert_prelu(lower, node, x, weight):
    return _prelu(lower, node, x, weight)


@converts_module(nn.Identity)
def convert_identity(lower, node, module, x, *args, **kwargs):
    return x


@converts_module(nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.AlphaDropout,
                 nn.FeatureAlphaDropout)
def convert_dropout_module(lower, node, module, x):
    if module.training and module.p > 0:
        raise lower.unsupported(f"{type(module).__name__}(p={module.p}) is in training mode, "
                                f"where it is random; call module.eval() before converting "
                                f"(in eval mode it is the identity)")
    return x


@converts_function(F.dropout, F.dropout1d, F.dropout2d, F.alpha_dropout,
                   F.feature_alpha_dropout, torch.dropout)
def convert_dropout(lower, node, x, p=0.5, training=True, inplace=False, *, train=None):
    training = train if train is not None else training
    if training and p > 0:
        raise lower.unsupported(f"dropout with p={p} and training=True is random; pass "
                                f"training=self.training and call module.eval() before "
                                f"converting")
    return x


@converts_method("contiguous", "clone", "detach")
def convert_identity_method(lower, node, x, *args, **kwargs):
    return x


_SMOOTH = ("it is smooth and nonlinear: replace it with ReLU/LeakyReLU, or, for a final "
           "softmax/log-softmax/sigmoid that only turns logits into probabilities, convert "
           "with drop_trailing=True")
_NONLINEAR = "replace it with ReLU, LeakyReLU or max pooling before converting"
_NORMALIZING = ("it divides by statistics of its own input; plnet supports BatchNorm in eval "
                "mode (fixed statistics) instead")
for _key, _hint in [
    (nn.Sigmoid, _SMOOTH), (nn.Tanh, _NONLINEAR), (nn.Softmax, _SMOOTH),
    (nn.LogSoftmax, _SMOOTH), (nn.Softmin, _SMOOTH), (nn.GELU, _NONLINEAR),
    (nn.SiLU, _NONLINEAR), (nn.ELU, _NONLINEAR), (nn.SELU, _NONLINEAR), (nn.CELU, _NONLINEAR),
    (nn.Softplus, _NONLINEAR), (nn.Mish, _NONLINEAR), (nn.Hardswish, _NONLINEAR),
    (nn.LogSigmoid, _NONLINEAR), (nn.Softsign, _NONLINEAR), (nn.Tanhshrink, _NONLINEAR),
    (nn.LayerNorm, _NORMALIZING), (nn.GroupNorm, _NORMALIZING),
    (nn.InstanceNorm1d, _NORMALIZING), (nn.InstanceNorm2d, _NORMALIZING),
    (nn.LocalResponseNorm, _NORMALIZING),
    (nn.MultiheadAttention, "attention multiplies input-dependent tensors"),
    (nn.LSTM, "LSTM gates are sigmoids and tanhs; use nn.RNN(nonlinearity='relu')"),
    (nn.GRU, "GRU gates are sigmoids and tanhs; use nn.RNN(nonlinearity='relu')"),
    (torch.sigmoid, _SMOOTH), (F.sigmoid, _SMOOTH), (torch.tanh, _NONLINEAR),
    (F.tanh, _NONLINEAR), (F.softmax, _SMOOTH), (torch.softmax, _SMOOTH),
    (F.log_softmax, _SMOOTH), (torch.log_softmax, _SMOOTH), (F.gelu, _NONLINEAR),
    (F.silu, _NONLINEAR), (F.elu, _NONLINEAR), (F.selu, _NONLINEAR), (F.softplus, _NONLINEAR),
    (F.mish, _NONLINEAR), (F.hardswish, _NONLINEAR), (F.logsigmoid, _NONLINEAR),
    (torch.exp, _NONLINEAR), (torch.log, _NONLINEAR), (torch.sqrt, _NONLINEAR),
    (torch.pow, _NONLINEAR), (F.layer_norm, _NORMALIZING), (F.normalize, _NORMALIZING),
    ("sigmoid", _SMOOTH), ("tanh", _NONLINEAR), ("softmax", _SMOOTH), ("log_softmax", _SMOOTH),
    ("exp", _NONLINEAR), ("log", _NONLINEAR), ("sqrt", _NONLINEAR), ("pow", _NONLINEAR),
    ("__pow__", _NONLINEAR), ("Sigmoid", _SMOOTH), ("Tanh", _NONLINEAR),
]:
    NOT_PIECEWISE_LINEAR[_key] = _hint



def _elementwise(lower, node, x, build):
    """Run a builder macro on ``x``; the result keeps x's batch axis."""
    tv = lower.tensor(x)
    return TensorValue(build(lower.builder, tv.node, lower.node_name(node)), tv.batch_axis)


def _bound(lower, value, what):
    if value is None or isinstance(value, (int, float)):
        return value
    raise lower.unsupported(f"clamp with a tensor {what}: plnet supports constant (number) "
                            f"bounds")


def _clip(lower, node, x, lo, hi):
    lo, hi = _bound(lower, lo, "min"), _bound(lower, hi, "max")
    if lo is None and hi is None:
        return x
    return _elementwise(lower, node, x, lambda b, t, name: b.clip(t, lo, hi, name=name))


@converts_function(torch.clamp, torch.clip)
@converts_method("clamp", "clip", "clamp_", "clip_")
def convert_clamp(lower, node, x, min=None, max=None):
    return _clip(lower, node, x, min, max)


@converts_module(nn.ReLU6, nn.Hardtanh)
def convert_hardtanh_module(lower, node, module, x):
    return _clip(lower, node, x, module.min_val, module.max_val)


@converts_function(F.relu6)
def convert_relu6(lower, node, x, inplace=False):
    return _clip(lower, node, x, 0.0, 6.0)


@converts_function(F.hardtanh)
def convert_hardtanh(lower, node, x, min_val=-1.0, max_val=1.0, inplace=False):
    return _clip(lower, node, x, min_val, max_val)


@converts_module(nn.Hardsigmoid)
def convert_hardsigmoid_module(lower, node, module, x):
    return convert_hardsigmoid(lower, node, x)


@converts_function(F.hardsigmoid)
def convert_hardsigmoid(lower, node, x, inplace=False):
    """``hardsigmoid(x) = clip(x / 6 + 1/2, 0, 1)``, exactly."""
    def build(b, t, name):
        scaled = b.scale_shift(t, np.array(1.0 / 6.0), np.array(0.5), name=f"{name}.affine")
        return b.clip(scaled, 0.0, 1.0, name=name)

    return _elementwise(lower, node, x, build)


@converts_function(torch.abs)
@converts_method("abs")
def convert_abs(lower, node, x):
    return _elementwise(lower, node, x, lambda b, t, name: b.abs(t, name=name))


@converts_module(nn.Hardshrink, nn.Softshrink, nn.Threshold)
def convert_piecewise_linear_unsupported(lower, node, *args, **kwargs):
    raise lower.unsupported("this function is piecewise linear, but plnet has no op for it "
                            "and does not approximate: write it with ReLUs (e.g. "
                            "softshrink(x) = relu(x - l) - relu(-x - l))")


#: fx targets of a final probability map that drop_trailing may remove
TRAILING_MODULES = (nn.Softmax, nn.LogSoftmax, nn.Sigmoid)
TRAILING_FUNCTIONS = (F.softmax, torch.softmax, F.log_softmax, torch.log_softmax,
                      torch.sigmoid, F.sigmoid)
TRAILING_METHODS = ("softmax", "log_softmax", "sigmoid")


def trailing_dim(gm: torch.fx.GraphModule, node: torch.fx.Node) -> tuple[bool, int | None]:
    """Whether fx ``node`` is a softmax/log-softmax/sigmoid, and the dim it acts along."""
    if node.op == "call_module":
        module = gm.get_submodule(node.target)
        if isinstance(module, TRAILING_MODULES):
            return True, getattr(module, "dim", None)
    elif node.op == "call_function" and node.target in TRAILING_FUNCTIONS:
        return True, node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else None)
    elif node.op == "call_method" and node.target in TRAILING_METHODS:
        return True, node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else None)
    return False, None
