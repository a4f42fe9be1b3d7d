"""Vector norms that neither overflow nor underflow, and the finiteness check of evaluations.

A naive l2 norm squares its entries: in float64 a gradient entry above ~1e154 squares to
inf (the margin comes out 0) and one below ~1e-154 squares to 0. As LAPACK's ``nrm2``
does, a row whose naive norm falls outside the range where squaring is exact is recomputed
after dividing by its largest magnitude. Only those rows pay for the second pass.
"""

from __future__ import annotations

import numpy as np

from plnet.errors import NonFiniteError


def trusted_norm_range(finfo) -> tuple[float, float]:
    """``(lo, hi)``: a sum-of-squares norm in this range lost nothing to over/underflow.

    ``finfo`` is ``np.finfo`` or ``torch.finfo`` of the dtype. Squares of entries below
    ``sqrt(tiny)`` underflow; a sum above ``max`` overflows; one factor of ``eps`` of
    headroom on each side keeps the error of the entries that did underflow below round-off
    for any realistic D.
    """
    return float(np.sqrt(finfo.tiny) / finfo.eps), float(np.sqrt(finfo.max) * finfo.eps)


def dual_norms(grad: np.ndarray, q: float) -> np.ndarray:
    """``||grad||_q`` over the last axis, overflow- and underflow-safe (float64).

    Args:
        grad: ``[..., D]``.
        q: 1, 2 or inf.

    Returns:
        ``grad.shape[:-1]``; inf only where the true norm exceeds the float64 range.
    """
    if q == np.inf:
        return np.abs(grad).max(axis=-1, initial=0.0)
    with np.errstate(over="ignore", under="ignore"):
        norms = np.linalg.norm(grad, ord=q, axis=-1)
    lo, hi = trusted_norm_range(np.finfo(np.float64))
    redo = ~((norms >= lo) & (norms <= hi)) & (np.abs(grad).max(axis=-1, initial=0.0) > 0)
    if redo.any():
        rows = grad[redo]
        scale = np.abs(rows).max(axis=-1)
        with np.errstate(over="ignore"):
            norms[redo] = scale * np.linalg.norm(rows / scale[:, None], ord=q, axis=-1)
    return norms


def safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` for denominators > 0, inf elsewhere (no constraint).

    A quotient beyond the float64 range is clamped to the largest float (a certified radius
    must stay a lower bound, and inf means "unbounded").
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.minimum(numerator / denominator, np.finfo(np.float64).max)
    return np.where(denominator > 0, ratio, np.inf)


def non_finite_message(node: str, op_name: str, what: str = "output") -> str:
    """The message of a :class:`NonFiniteError` at ``node`` (shared by the backends)."""
    return (f"node {node!r} ({op_name}) produced inf or NaN in its {what}: the weights or "
            f"inputs are too large for floating point here; rescale the weights or the inputs "
            f"(margins scale linearly with the input scale)")


def check_finite(value: np.ndarray, node: str, op_name: str, what: str = "output") -> None:
    """Raise :class:`NonFiniteError` naming ``node`` when ``value`` holds inf or NaN."""
    if not np.isfinite(value).all():
        raise NonFiniteError(non_finite_message(node, op_name, what), node)
