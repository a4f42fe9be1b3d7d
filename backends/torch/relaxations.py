"""Margin relaxations: the per-point regularizers that ROLL training minimizes.

Adding a relaxation
-------------------
A relaxation turns every unit's value ``z`` and squared input-gradient norm
``sq = ||grad_x z||_2^2`` into one loss per point; training adds ``lam`` times its batch mean
to the task loss. Write a function of that signature and register it under a name::

    import torch
    from plnet.backends.torch import register_relaxation

    @register_relaxation("hinge_sq", sampling_unbiased=True)  # affine in sq
    def hinge_sq(z, sq, *, C, gamma):
        # z, sq: [B, N] tensors; return a [B] tensor, differentiable in z and sq.
        return (sq + C * torch.relu(1 - z.abs()) ** 2).mean(dim=1)

    fit(net, data, relaxation="hinge_sq", lam=0.5, C=1.0)

Every registered function receives ``C`` and ``gamma`` as keywords (use them or ignore
them), must accept ``N = 0`` units (return zeros), and must not produce NaN gradients where
``sq == 0``. Pass ``sampling_unbiased=True`` (or a predicate of ``gamma``) only when the
loss is an affine function of ``sq``: then the sampled estimate of ``sq`` used by
approximate learning (paper, Eq. 10) keeps the loss unbiased; otherwise training refuses
``samples=...`` with this relaxation rather than silently optimize a biased objective.
A callable may also be passed directly as ``relaxation=`` without registering it.

Zero-gradient units follow :func:`plnet.margin`: a unit with ``grad z = 0`` is constant on
the region and draws no boundary, so the distance relaxations ignore it (and a point with
no constraining unit contributes 0: it has no finite margin to enlarge). The paper's relaxed
losses (Eq. 7, Eq. 9) sum over every unit of the network as written: a zero-gradient unit
contributes its hinge ``C max(0, 1 - |z|)`` and nothing else. Keeping it there keeps the
hinge part of Eq. 9 a function of one forward pass, and the Eq. 10 estimator unbiased (a few
sampled axes cannot tell which units have a zero gradient).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Callable

from plnet.errors import InvalidInputError

#: name -> relaxation function ``(z [B, N], sq [B, N], *, C, gamma) -> [B]``.
RELAXATIONS: dict[str, Callable] = {}


def register_relaxation(name: str, *, sampling_unbiased=False, overwrite: bool = False):
    """Decorator registering a margin relaxation under ``name``.

    Args:
        name: the name that ``fit(relaxation=...)`` and ``roll_regularizer`` accept.
        sampling_unbiased: True, or a predicate of ``gamma``, when the loss is affine in
            ``sq`` so that Eq. 10's sampled ``sq`` estimate keeps it unbiased.
        overwrite: replace an existing entry of the same name (else an error).

    Returns:
        The decorator; it returns the function unchanged (with ``sampling_unbiased`` and
        ``relaxation_name`` attributes set).

    Raises:
        InvalidInputError: the name is taken, empty, or the object is not callable.

    Example:
        >>> import torch
        >>> from plnet.backends import torch as pt
        >>> @pt.register_relaxation("mean_hinge_example", sampling_unbiased=True)
        ... def mean_hinge(z, sq, *, C, gamma):
        ...     return (sq + C * torch.relu(1 - z.abs())).mean(dim=1)     # [B, N] -> [B]
        >>> pt.get_relaxation("mean_hinge_example") is mean_hinge
        True
    """
    if not isinstance(name, str) or not name:
        raise InvalidInputError(f"a relaxation name must be a non-empty string, got {name!r}")

    def decorator(fn):
        if not callable(fn):
            raise InvalidInputError(f"register_relaxation({name!r}) needs a function "
                                    f"(z, sq, *, C, gamma) -> [B], got {fn!r}")
        if name in RELAXATIONS and not overwrite:
            raise InvalidInputError(f"a relaxation named {name!r} is already registered; "
                                    f"pick another name or pass overwrite=True")
        fn.sampling_unbiased = sampling_unbiased
        fn.relaxation_name = name
        RELAXATIONS[name] = fn
        return fn

    return decorator


def get_relaxation(relaxation) -> Callable:
    """The relaxation function registered as ``relaxation`` (a callable passes through).

    Raises:
        InvalidInputError: an unknown name, listing the registered ones.

    Args:
        relaxation: a registered name or a callable ``(z, sq, *, C, gamma) -> [B]``.

    Returns:
        The callable.

    Example:
        >>> from plnet.backends import torch as pt
        >>> pt.get_relaxation("roll").__name__, sorted(pt.RELAXATIONS)[:2]
        ('roll', ['distance', 'max'])
    """
    if callable(relaxation):
        return relaxation
    fn = RELAXATIONS.get(relaxation) if isinstance(relaxation, str) else None
    if fn is None:
        raise InvalidInputError(f"unknown relaxation {relaxation!r}: registered ones are "
                                f"{sorted(RELAXATIONS)} (add one with @register_relaxation)")
    return fn


def is_sampling_unbiased(fn: Callable, gamma: float) -> bool:
    """Whether ``fn`` stays unbiased when ``sq`` is replaced by Eq. 10's sampled estimate."""
    flag = getattr(fn, "sampling_unbiased", False)
    return bool(flag(gamma)) if callable(flag) else bool(flag)


def top_count(n_units: int, gamma: float) -> int:
    """``#I(x, gamma)``: ``ceil(gamma N / 100)`` units, at least one.

    Computed in exact rational arithmetic, so that e.g. 25% of 8 units is 2, not 3 by a
    rounding error.
    """
    return max(1, math.ceil(Fraction(gamma) * n_units / 100))


def hinge_losses(z, sq, C: float):
    """Per-unit relaxed (TSVM) loss ``||grad z||^2 + C max(0, 1 - |z|)``, ``[B, N]``."""
    import torch

    return sq + C * torch.relu(1.0 - z.abs())


def unit_distances(z, sq):
    """``|z| / ||grad z||_2`` per unit, ``[B, N]``; +inf where the gradient is zero.

    The square root is taken only where ``sq > 0`` so that gradients stay finite.
    """
    import torch

    positive = sq > 0
    safe = torch.where(positive, sq, torch.ones_like(sq))
    dist = z.abs() / safe.sqrt()
    return torch.where(positive, dist, torch.full_like(dist, math.inf))


@register_relaxation("distance")
def distance(z, sq, *, C=None, gamma=None):
    """Paper Eq. 4: ``-min_units |z| / ||grad z||_2``, the negated l2 margin.

    Zero-gradient units are ignored; a point with no constraining unit gives 0.
    """
    import torch

    if z.shape[1] == 0:
        return z.new_zeros(z.shape[0])
    nearest = unit_distances(z, sq).min(dim=1).values
    return torch.where(torch.isfinite(nearest), -nearest, torch.zeros_like(nearest))


@register_relaxation("max")
def max_hinge(z, sq, *, C, gamma=None):
    """Paper Eq. 7: ``max_units ||grad z||^2 + C max(0, 1 - |z|)``."""
    if z.shape[1] == 0:
        return z.new_zeros(z.shape[0])
    return hinge_losses(z, sq, C).max(dim=1).values


@register_relaxation("roll", sampling_unbiased=lambda gamma: gamma == 100)
def roll(z, sq, *, C, gamma=100):
    """Paper Eq. 9: mean of the relaxed loss over the top-gamma percent units.

    ``gamma = 100`` is a plain mean over all units (no sort); otherwise the
    ``ceil(gamma N / 100)`` largest per-unit losses are averaged (ties do not matter: only
    the values enter).
    """
    if z.shape[1] == 0:
        return z.new_zeros(z.shape[0])
    if gamma == 100:
        from plnet.backends.torch.mean_hinge import mean_hinge

        return mean_hinge(z, sq, C)
    losses = hinge_losses(z, sq, C)
    k = top_count(z.shape[1], gamma)
    return losses.topk(k, dim=1, sorted=False).values.mean(dim=1)


@register_relaxation("softmin_distance")
def softmin_distance(z, sq, *, C=None, gamma=None, temperature: float = 0.05):
    """A smooth Eq. 4: ``-softmin_T(d)`` with ``d_i = |z_i| / ||grad z_i||_2``.

    ``softmin_T(d) = -T log sum_i exp(-d_i / T)`` satisfies
    ``min d - T log n <= softmin_T(d) <= min d`` and tends to ``min d`` as ``T -> 0``, so the
    loss is an upper bound of Eq. 4's ``-min d`` that is tight within ``T log n``. Unlike
    the hard minimum, whose gradient reaches only the binding unit, its gradient is spread
    over the units within a few ``T`` of the margin, with softmax weights
    ``exp(-d_i/T) / sum_j exp(-d_j/T)``: every nearby boundary is pushed at once.
    ``T`` is in the input's units (set it to a fraction of the margins you expect). Use
    another temperature with ``functools.partial(softmin_distance, temperature=...)``.
    Zero-gradient units (``d = inf``) get weight 0; a point without constraining units
    gives 0.
    """
    import torch

    if z.shape[1] == 0:
        return z.new_zeros(z.shape[0])
    if not temperature > 0:
        raise InvalidInputError(f"softmin_distance: temperature must be > 0, got {temperature}")
    dist = unit_distances(z, sq)
    finite = torch.isfinite(dist)
    scaled = torch.where(finite, -dist / temperature, torch.full_like(dist, -math.inf))
    any_finite = finite.any(dim=1)
    # Rows without a finite distance would give logsumexp = -inf and NaN gradients.
    scaled = torch.where(any_finite[:, None], scaled, torch.zeros_like(scaled))
    loss = temperature * torch.logsumexp(scaled, dim=1)
    return torch.where(any_finite, loss, torch.zeros_like(loss))
