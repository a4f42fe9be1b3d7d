"""Approximate ROLL written by hand in eager PyTorch: the alternative to plnet a user would pick.

Without plnet, a user who wants Eq. 10's sampled squared gradient norms on their own
``torch.nn.Sequential`` carries, for every point, its forward row and the k one-hot tangent
rows through every layer: an affine layer runs on all ``B (1 + k)`` rows (its bias on the
forward rows only), a ReLU multiplies every row by the forward row's frozen pattern and
records the units' values and squared tangents. :func:`sequential_copy` gives the benchmark
networks as such a model (its parameters copied from plnet's compiled module) and
:func:`hand_written_step` trains it; ``bench_training.py`` checks that it computes the same
regularizer as ``pt.roll_regularizer`` (:func:`check_hand_written`) before timing the two
side by side. :func:`tangent_row_work` times what each tangent row costs at least, for the
approximate step's floor.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from plnet.backends import torch as pt
from plnet.backends.torch.losses import sample_axes


def sequential_copy(module) -> nn.Sequential:
    """The dense/conv/ReLU/flatten chain of a compiled plnet module as ``nn.Sequential``."""
    params = module.param_tensors()
    layers = []
    for step in module.steps[1:]:
        kind, op = type(step.lowering).__name__, step.lowering.op
        if kind == "ReluLowering":
            layers.append(nn.ReLU())
        elif kind == "ReshapeLowering":
            layers.append(nn.Flatten())
        elif kind in ("ConvLowering", "DenseLowering"):
            weight = params[op.weight].detach()
            bias = params[op.bias].detach() if op.bias is not None else None
            if kind == "DenseLowering":
                layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
            else:
                layer = nn.Conv2d(weight.shape[1], weight.shape[0], weight.shape[2:],
                                  stride=op.stride, padding=[b for b, _ in op.padding],
                                  bias=bias is not None)
            with torch.no_grad():
                layer.weight.copy_(weight)
                if bias is not None:
                    layer.bias.copy_(bias)
            layers.append(layer)
        else:
            raise ValueError(f"no hand-written counterpart for {kind} ({step.name})")
    return nn.Sequential(*layers)


def hand_written_terms(model: nn.Sequential, x, columns, scale):
    """``(logits, z [B, N], sq [B, N])`` of Eq. 10 on the sampled input ``columns``."""
    b, k = x.shape[0], len(columns)
    eye = torch.zeros((k, x[0].numel()), dtype=x.dtype, device=x.device)
    eye[torch.arange(k, device=x.device), columns] = 1
    tangents = eye.reshape((1, k) + x.shape[1:]).expand((b, k) + x.shape[1:])
    rows = torch.cat([x.unsqueeze(1), tangents], dim=1)  # [B, 1 + k, *shape]
    values, squares = [], []
    for layer in model:
        if isinstance(layer, nn.ReLU):
            z, t = rows[:, 0], rows[:, 1:]
            pattern = (z > 0).to(z.dtype)
            values.append(z.flatten(1))
            squares.append(t.square().sum(dim=1).flatten(1))
            rows = torch.cat([(z * pattern).unsqueeze(1), t * pattern.unsqueeze(1)], dim=1)
        elif isinstance(layer, nn.Flatten):
            rows = rows.flatten(2)
        else:
            flat = rows.flatten(0, 1)
            out = F.linear(flat, layer.weight) if isinstance(layer, nn.Linear) \
                else layer._conv_forward(flat, layer.weight, None)
            out = out.reshape((b, 1 + k) + out.shape[1:])
            if layer.bias is not None:
                bias = layer.bias.reshape((-1,) + (1,) * (out.dim() - 3))
                out = torch.cat([(out[:, 0] + bias).unsqueeze(1), out[:, 1:]], dim=1)
            rows = out
    return rows[:, 0], torch.cat(values, dim=1), torch.cat(squares, dim=1) * scale


def hand_written_regularizer(model, x, samples, generator, C=1.0):
    """``(logits, mean over points and units of sq + C max(0, 1 - |z|))``; the axes are
    drawn as plnet draws them (same generator, same draws)."""
    d = x[0].numel()
    columns = sample_axes(d, samples, x.device, generator)
    logits, z, sq = hand_written_terms(model, x, columns, d / samples)
    return logits, (sq + C * torch.relu(1 - z.abs())).mean()


def hand_written_step(model, x, y, lam, samples, generator):
    """One SGD (Nesterov) step of cross-entropy + lam * the hand-written regularizer."""
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5, nesterov=True)

    def step():
        opt.zero_grad(set_to_none=True)
        logits, reg = hand_written_regularizer(model, x, samples, generator)
        loss = F.cross_entropy(logits, y) + lam * reg
        loss.backward()
        opt.step()

    return step


def tangent_row_work(net, x, device):
    """Forward and backward (no update) of the layers after the first ReLU on ``B`` rows.

    Each of the k tangent rows of a point pays at least this in an approximate step (before
    the first ReLU the tangents are shared by the batch), so ``vanilla + k x this`` is the
    step's floor on this machine, measured in the same run."""
    model = sequential_copy(pt.compile(net, device=device)).to(device)
    first = next(i for i, layer in enumerate(model) if isinstance(layer, nn.ReLU))
    with torch.no_grad():
        rows = model[:first + 1](x)
    if rows.dim() == 4:  # the stacked pass's rows are channels-last
        rows = rows.contiguous(memory_format=torch.channels_last)
    rows.requires_grad_(True)
    suffix = model[first + 1:]

    def run():
        suffix.zero_grad(set_to_none=True)
        suffix(rows).sum().backward()

    return run


def check_hand_written(module, model, x, samples):
    """The hand-written step must compute plnet's logits and regularizer (same draws)."""
    ours = pt.roll_regularizer(module, x, C=1.0, samples=samples, return_logits=True,
                               generator=torch.Generator().manual_seed(1))
    theirs = hand_written_regularizer(model, x, samples, torch.Generator().manual_seed(1))
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
