"""The perturbation algorithm (paper, Section 4.1 and Appendix C), in tangent form.

First one forward pass fixes the activation pattern of every point (:func:`freeze_pattern`).
With the pattern frozen the network is linear in its input, so pushing the one-hot
input perturbations e_k through the frozen network gives every unit's partial derivative
along axis k, for all units at once. The tangents are kept tangent-major,
``[R, k, *shape]``, so that an affine op sees them as one batch of ``R * k`` ordinary inputs
(one big GEMM or convolution per layer) and needs no Jacobian code. Until the first
pattern op the tangents do not depend on the point, and R stays 1.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import torch


@dataclasses.dataclass
class FrozenPattern:
    """The activation pattern of a batch, with the forward pass that produced it.

    Attributes:
        output: the logits ``[B, *output_shape]``.
        z: every unit's value ``[B, N]``.
        indicators: pattern node -> its lowering's indicator.
    """

    output: torch.Tensor
    z: torch.Tensor
    indicators: dict

    @property
    def batch_size(self) -> int:
        return int(self.z.shape[0])


def freeze_pattern(module, x) -> FrozenPattern:
    """Run ``module`` on ``x`` (already prepared) and record its activation pattern."""
    indicators, parts = {}, []

    def visit(step, z):
        ind = step.lowering.indicator(z)
        indicators[step.name] = ind
        parts.append(step.lowering.units(z, ind))

    output = module.run(x, visit)
    z = torch.cat(parts, dim=1) if parts else x.new_zeros((x.shape[0], 0))
    return FrozenPattern(output, z, indicators)


def one_hot_columns(columns, size, dtype, device):
    """``[size, k]`` with a 1 at ``(columns[i], i)``: the Jacobian of the input."""
    eye = torch.zeros((size, len(columns)), dtype=dtype, device=device)
    eye[columns, torch.arange(len(columns), device=device)] = 1
    return eye


def propagate_tangents(module, pattern: FrozenPattern, columns, sink, workspace=None):
    """Push one-hot tangents of the input axes ``columns`` through the frozen network.

    Every pattern node's unit gradients go to ``sink`` as ``[B, n, k]``. With a
    ``workspace`` (only when no autograd graph is needed), the pattern ops write their
    tangents into memory reused from call to call.

    Returns:
        The output's tangents ``[R, k, *output_shape]`` (R = 1 if no pattern op is upstream).
    """
    params = module.param_tensors()
    dtype, device = module.dtype, module.device
    k = len(columns)
    env = [None] * len(module.steps)
    fusions, done = pool_fusions(module), set()
    for i, step in enumerate(module.steps):
        low = step.lowering
        if i in done:  # computed together with its ReLU
            for j in step.free:
                env[j] = None
            continue
        if not step.inputs:
            eye = one_hot_columns(columns, module.input_size, dtype, device)
            env[i] = eye.t().reshape((1, k) + module.input_shape)
            continue
        tangents = [env[j] for j in step.inputs]
        if low.carries_pattern:
            ind = pattern.indicators[step.name]
            sink.put(step.unit_slice, low.unit_tangents(tangents[0], ind).transpose(1, 2))
            out = None
            if workspace is not None and i != module.output_index:
                out = functools.partial(workspace.like, ("tangent", i), like=tangents[0])
            pool = fusions.get(i)
            if pool is not None and tangents[0].shape[0] == 1:
                env[pool] = _masked_avg_pool(module.steps[pool].lowering, tangents[0],
                                             low.local_slopes(ind, dtype), workspace, pool)
                done.add(pool)
            else:
                env[i] = low.apply(tangents[0], ind, out=out)
        else:
            rows = max(t.shape[0] for t in tangents)
            flat = [t.expand((rows,) + t.shape[1:]).reshape((rows * k,) + t.shape[2:])
                    for t in tangents]
            out = low.linear(flat, params)
            env[i] = out.reshape((rows, k) + out.shape[1:])
        for j in step.free:
            env[j] = None
    return env[module.output_index]


def pool_fusions(module) -> dict[int, int]:
    """ReLU steps whose only consumer is a non-overlapping average pool: step -> pool step.

    Right after the first pattern op the tangents are still shared by all points; masking
    them per point and then pooling would write and read a ``[B, k, *shape]`` tensor,
    while pooling the masked shared tangent window slot by window slot writes only the
    pooled ``[B, k, *pooled]`` result.
    """
    cached = getattr(module, "_pool_fusions", None)
    if cached is not None:
        return cached
    from plnet.backends.torch.lowering import AvgPoolLowering
    from plnet.backends.torch.lowering_pattern import ReluLowering

    index = {step.name: i for i, step in enumerate(module.steps)}
    fusions = {}
    for i, step in enumerate(module.steps):
        consumers = list(module.net.graph.successors(step.name))
        if not isinstance(step.lowering, ReluLowering) or len(consumers) != 1 \
                or step.name == module.net.output:
            continue
        pool = module.steps[index[consumers[0]]].lowering
        if isinstance(pool, AvgPoolLowering) and pool.plain and pool.n_spatial == 2 and \
                tuple(pool.op.stride) == tuple(pool.op.kernel):
            fusions[i] = index[consumers[0]]
    module._pool_fusions = fusions
    return fusions


def _masked_avg_pool(pool, shared, slopes, workspace, slot):
    """``avg_pool(shared * slopes)`` for shared ``[1, k, C, H, W]`` and ``[B, 1, C, H, W]``."""
    kh, kw = pool.op.kernel
    ho, wo = pool.out_shape[1:]
    b = slopes.shape[0]
    shape = (b, shared.shape[1], shared.shape[2], ho, wo)
    acc = None
    for a in range(kh):
        for c in range(kw):
            t = shared[..., a:a + kh * ho:kh, c:c + kw * wo:kw]
            m = slopes[..., a:a + kh * ho:kh, c:c + kw * wo:kw]
            if acc is None:
                acc = (torch.mul(t, m, out=workspace.like(("tangent", slot), shape, shared))
                       if workspace is not None else t * m)
            elif workspace is not None:
                acc.addcmul_(t, m)
            else:
                acc = acc + t * m
    return acc.mul_(1.0 / (kh * kw)) if workspace is not None else acc / (kh * kw)


class Workspace:
    """Reusable flat buffers keyed by slot.

    Large fresh temporaries cost a page fault per 4 KiB page on every call; buffers kept
    here are reused by later calls of the same shapes (hold it on the module).
    """

    def __init__(self):
        self.buffers = {}

    def get(self, slot, shape, like):
        size = math.prod(shape)
        buf = self.buffers.get(slot)
        if buf is None or buf.numel() < size or buf.dtype != like.dtype or \
                buf.device != like.device:
            buf = self.buffers[slot] = torch.empty(size, dtype=like.dtype, device=like.device)
        return buf[:size].view(tuple(shape))

    def like(self, slot, shape, like):
        """A buffer of ``shape`` laid out in memory like ``like`` (e.g. channels-last),
        so that elementwise ops keep the layout the next convolution wants."""
        inner = sorted(range(1, len(shape)), key=lambda d: -like.stride(d))
        perm = [0] + inner
        flat = self.get(slot, tuple(shape[d] for d in perm), like)
        return flat.permute([perm.index(d) for d in range(len(shape))])

    def clear(self):
        self.buffers.clear()
