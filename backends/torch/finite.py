"""Overflow-safe dual norms and the finiteness check of the torch certificates.

The gradient engines reduce each unit's gradient to a sum of squares (l2) or of absolute
values (l1) on the fly. In float32 a gradient entry above ~1e19 squares to inf (in float64,
~1e154), which would turn a margin into 0; below ~1e-19 it squares to 0, which would drop a
constraint. As in :mod:`plnet.analysis.norms`, a unit whose norm falls outside the range
where that is exact is recomputed from its full gradient, divided by its largest magnitude
first (LAPACK's ``nrm2`` scaling). Only points holding such a unit pay for it.
"""

from __future__ import annotations

import math

import torch

from plnet.analysis.norms import non_finite_message, trusted_norm_range
from plnet.backends.torch.gradients import unit_gradients
from plnet.errors import NonFiniteError

#: p -> the order of the dual norm q of the gradient
_DUAL_ORDER = {1.0: math.inf, 2.0: 2.0, math.inf: 1.0}


def dual_norms(module, x, norms, p) -> torch.Tensor:
    """``||grad z||_q`` for every unit, ``[B, N]``, from the engines' reductions.

    Args:
        module: the :class:`CompiledNetwork` the reductions came from.
        x: the batch they were computed on.
        norms: ``{kind: [B, N]}`` holding ``"max"`` and, for p = 2 / inf, ``"sq"`` / ``"abs"``.
        p: 1.0, 2.0 or inf.
    """
    largest = norms["max"]
    if p == 1.0:
        return largest  # l_inf of the gradient: exact, nothing is summed
    value = (norms["sq"].sqrt() if p == 2.0 else norms["abs"]).clone()
    lo, hi = trusted_norm_range(torch.finfo(module.dtype))
    redo = ~((value >= lo) & (value <= hi)) & (largest > 0)
    for i in redo.any(dim=1).nonzero().flatten().tolist():
        _, grad = unit_gradients(module, x[i:i + 1])
        scale = grad.abs().amax(dim=2, keepdim=True)
        scaled = grad / torch.where(scale > 0, scale, torch.ones_like(scale))
        exact = torch.linalg.vector_norm(scaled, ord=_DUAL_ORDER[p], dim=2) * scale[..., 0]
        value[i] = exact[0].to(value.dtype)
    return value


def check_finite_results(module, x, pattern, norms, output_jacobian=None) -> None:
    """Raise :class:`NonFiniteError` naming the first node at fault if a result overflowed."""
    b = pattern.z.shape[0]
    parts = [pattern.z, pattern.output.reshape(b, -1), norms["max"]]
    if output_jacobian is not None:
        parts.append(output_jacobian.reshape(b, -1))
    ok = torch.ones(b, dtype=torch.bool, device=pattern.z.device)
    for part in parts:
        ok &= torch.isfinite(part).all(dim=1)
    if not bool(ok.all()):
        raise_non_finite(module, x, ok)


def raise_non_finite(module, x, ok: torch.Tensor) -> None:
    """Raise :class:`NonFiniteError` for the first point of ``x`` whose ``ok`` is False."""
    first = int((~ok).nonzero()[0, 0])
    node, what = locate_non_finite(module, x[first:first + 1])
    hint = ("" if module.dtype == torch.float64 else
            f", or compile with dtype=torch.float64 (this module computes in {module.dtype})")
    raise NonFiniteError(non_finite_message(node, type(module.net.op(node)).__name__, what)
                         + hint + f"; first at point {first} of the batch", node)


def locate_non_finite(module, x) -> tuple[str, str]:
    """``(node, what)``: the first node whose output, or units' gradients, is not finite."""
    x = module.prepare_input(x)
    params = module.param_tensors()
    env = [None] * len(module.steps)
    with torch.no_grad():
        for i, step in enumerate(module.steps):
            if not step.inputs:
                env[i] = x
                continue
            env[i] = step.lowering.forward([env[j] for j in step.inputs], params)
            if not bool(torch.isfinite(env[i]).all()):
                return step.name, "output"
        _, grad = unit_gradients(module, x)
    for name, units in module.unit_slices.items():
        if not bool(torch.isfinite(grad[:, units]).all()):
            return name, "units' input-gradients"
    return module.net.output, "output's input-gradient"
