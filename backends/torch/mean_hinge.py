"""Eq. 9 with ``gamma = 100`` as one autograd node: ``mean_units sq + C max(0, 1 - |z|)``.

The composed form (:func:`plnet.backends.torch.relaxations.hinge_losses`, then a mean)
writes five ``[B, N]`` temporaries forward and as many backward; this writes one each way,
and ``sq``'s gradient is a broadcast scalar per point. On the CPU a fresh temporary costs a
page fault per 4 KiB: the node is 5-7% of an approximate ROLL training step
(``benchmarks/bench_training.py``: the 784-300x4-10 MLP and the small CNN, batch 64).
"""

from __future__ import annotations

import torch


def mean_hinge(z: torch.Tensor, sq: torch.Tensor, C: float) -> torch.Tensor:
    """``(sq + C * relu(1 - |z|)).mean(dim=1)`` for ``z, sq [B, N]`` with ``N >= 1``.

    The gradient is the composed form's, kinks included: ``-C sign(z) / N`` where
    ``|z| < 1`` and 0 elsewhere (at ``|z| = 1`` and ``z = 0`` too, as torch's relu and abs
    give). The backward is made of ordinary ops, so it can be differentiated again.
    """
    return _MeanHinge.apply(z, sq, float(C))


class _MeanHinge(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, sq, C):
        slack = z.abs().neg_().add_(1.0).clamp_min_(0.0)  # max(0, 1 - |z|), one buffer
        ctx.save_for_backward(z)
        ctx.C = C
        return (sq.sum(dim=1) + C * slack.sum(dim=1)) / z.shape[1]

    @staticmethod
    def backward(ctx, g):
        z, = ctx.saved_tensors
        per_unit = (g / z.shape[1]).unsqueeze(1)
        g_z = None
        if ctx.needs_input_grad[0]:  # -C sign(z) / N on -1 < z < 1, in one more buffer
            scaled_sign = z.sign().mul_(-ctx.C * per_unit)
            g_z = torch.ops.aten.hardtanh_backward(scaled_sign, z, -1.0, 1.0)
        g_sq = per_unit.expand(z.shape) if ctx.needs_input_grad[1] else None
        return g_z, g_sq, None
