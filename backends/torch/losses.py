"""ROLL regularizers (paper, Eq. 4, 7, 9 and the Eq. 10 estimator) on compiled networks.

Each function returns a scalar, differentiable in the module's parameters: the batch mean of
a per-point relaxation (see :mod:`plnet.backends.torch.relaxations`) of every unit's value
``z`` and squared input-gradient norm. Max-pool comparison rows are units like any ReLU.
"""

from __future__ import annotations

import math
import numbers

import torch

from plnet.backends.torch.relaxations import get_relaxation, is_sampling_unbiased
from plnet.errors import InvalidInputError


def check_C(C) -> float:
    """``C >= 0`` and finite, as a float."""
    if isinstance(C, bool) or not isinstance(C, numbers.Real) or not math.isfinite(C) or C < 0:
        raise InvalidInputError(f"C (the hinge weight of Eq. 7/9) must be a finite number >= 0, "
                                f"got {C!r}")
    return float(C)


def check_gamma(gamma) -> float:
    """``0 < gamma <= 100`` (a percentage of the units), as a float."""
    ok = (not isinstance(gamma, bool) and isinstance(gamma, numbers.Real)
          and math.isfinite(gamma) and 0 < gamma <= 100)
    if not ok:
        raise InvalidInputError(f"gamma is the percentage of units kept by Eq. 9 and must lie "
                                f"in (0, 100], got {gamma!r} (use relaxation='max' for Eq. 7)")
    return float(gamma)


def check_samples(samples, input_size: int):
    """``None`` (exact) or an integer ``1 <= samples <= D``."""
    if samples is None:
        return None
    if isinstance(samples, bool) or not isinstance(samples, numbers.Integral) or samples < 1:
        raise InvalidInputError(f"samples (the D' input axes of Eq. 10) must be a positive "
                                f"integer or None, got {samples!r}")
    if samples > input_size:
        raise InvalidInputError(f"samples={samples} exceeds the input size D={input_size}: "
                                f"sample at most D axes (samples=None computes all of them "
                                f"exactly)")
    return int(samples)


def sample_axes(input_size: int, samples: int, device, generator=None) -> torch.Tensor:
    """``samples`` distinct flat input axes, uniform over all subsets of that size.

    Drawn on the CPU (so a CPU ``torch.Generator`` drives it on every device) and shared by
    the whole batch.
    """
    perm = torch.randperm(input_size, generator=generator)
    return perm[:samples].sort().values.to(device)


def relaxation_terms(module, x, *, samples=None, generator=None):
    """The forward pass and every unit's (estimated) squared gradient norm.

    With ``samples = k``, ``k`` input axes are drawn uniformly without replacement (one draw
    per call, shared by the batch) and ``sq = D / k * sum over the drawn axes of
    (dz/dx_k)^2``. Each axis is drawn with probability ``k / D``, so this estimate of
    ``||grad z||^2`` is unbiased (paper, Eq. 10); it is not an estimate of the gradient.

    Returns:
        ``(logits [B, *output_shape], z [B, N], sq [B, N])``, differentiable in the
        parameters; the logits come from the same forward pass that fixes the pattern.
    """
    from plnet.backends.torch.fused import cone_terms, sampled_terms
    from plnet.backends.torch.gradients import prepare, unit_gradient_norms

    d = int(module.input_size)
    samples = check_samples(samples, d)
    if samples is None or samples == d:
        # on images every axis's tangents on its forward cone, while they fit; else the
        # engines (the recursion on dense chains, the perturbation engine)
        x = prepare(module, x)
        exact = cone_terms(module, x, torch.arange(d, device=x.device))
        if exact is not None:
            return exact
        pattern, norms, _ = unit_gradient_norms(module, x, ("sq",))
        return pattern.output, pattern.z, norms["sq"]
    axes = sample_axes(d, samples, module.device, generator)
    x = prepare(module, x)
    # forward and tangent rows share one call per layer (see fused): the same numbers at a
    # fraction of the per-op overhead
    fused = sampled_terms(module, x, axes, d / samples)
    if fused is not None:
        return fused
    # A few one-hot tangents through the frozen network cost k thin forward passes; the
    # layer-by-layer Jacobian recursion pays for per-point weight products whatever k is.
    pattern, norms, _ = unit_gradient_norms(module, x, ("sq",), axes=axes,
                                            method="perturbation")
    return pattern.output, pattern.z, norms["sq"] * (d / samples)


def roll_regularizer(module, x, *, C, gamma=100, samples=None, relaxation="roll",
                     generator=None, return_logits=False):
    """The ROLL regularizer of a batch: mean over points of a margin relaxation.

    With the defaults this is paper Eq. 9 with ``gamma = 100``:
    ``mean_x mean_units ||grad_x z||^2 + C max(0, 1 - |z|)``.

    To add ROLL to a training loop, ask for the logits too: the forward pass that fixes the
    activation pattern also gives them, so the task loss needs no second pass::

        logits, reg = pt.roll_regularizer(module, x, C=1.0, samples=3, return_logits=True)
        loss = F.cross_entropy(logits, y) + lam * reg

    Args:
        module: a compiled network (:func:`plnet.backends.torch.compile`).
        x: ``[B, *input_shape]`` (moved to the module's device and dtype).
        C: hinge weight (>= 0).
        gamma: percentage of units with the largest relaxed loss to average, in (0, 100].
        samples: None computes every gradient exactly; an integer ``D'`` uses Eq. 10's
            unbiased estimate from ``D'`` input axes drawn uniformly without replacement
            (one draw per batch). Only relaxations affine in ``sq`` (``"roll"`` with
            ``gamma = 100``) accept it.
        relaxation: a registered name (``"roll"``, ``"max"``, ``"distance"``,
            ``"softmin_distance"``, ...) or a callable ``(z, sq, *, C, gamma) -> [B]``.
        generator: a ``torch.Generator`` (CPU) for the axis draws; default: torch's global RNG.
        return_logits: also return the logits of the same forward pass (equal to
            ``module(x)``), as :func:`regularized_forward` does.

    Returns:
        A scalar tensor, differentiable in the module's parameters; with
        ``return_logits=True``, the pair ``(logits [B, *output_shape], scalar)``.

    Raises:
        InvalidInputError: C < 0, gamma outside (0, 100], samples not in [1, D], an unknown
            relaxation, or samples with a relaxation that sampling would bias.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> import torch
        >>> from plnet.backends import torch as pt
        >>> module = pt.compile(net, dtype=torch.float64)
        >>> pt.roll_regularizer(module, torch.tensor(x), C=1.0).item()   # mean(1.5, 1.75)
        1.625
        >>> logits, reg = pt.roll_regularizer(module, torch.tensor(x), C=1.0, return_logits=True)
    """
    logits, reg = regularized_forward(module, x, C=C, gamma=gamma, samples=samples,
                                      relaxation=relaxation, generator=generator)
    return (logits, reg) if return_logits else reg


def regularized_forward(module, x, *, C, gamma=100, samples=None, relaxation="roll",
                        generator=None) -> tuple[torch.Tensor, torch.Tensor]:
    """The logits and the ROLL regularizer of a batch from ONE forward pass.

    The same as ``roll_regularizer(..., return_logits=True)``; :func:`plnet.backends.torch.fit` trains with it.
    A loop that calls ``module(x)`` for its task loss and :func:`roll_regularizer` for the
    regularizer runs the network twice: use this (or ``return_logits=True``) instead.

    Args:
        module: a compiled network (:func:`plnet.backends.torch.compile`).
        x: ``[B, *input_shape]`` (moved to the module's device and dtype).
        C: hinge weight (>= 0).
        gamma: percentage of units kept, in (0, 100] (see :func:`roll_regularizer`).
        samples: None (exact gradients) or Eq. 10's number ``D'`` of sampled input axes.
        relaxation: a registered relaxation name or a callable (see
            :func:`roll_regularizer`).
        generator: a ``torch.Generator`` (CPU) for the axis draws.

    Returns:
        ``(logits [B, *output_shape], regularizer)``: the logits equal ``module(x)``; both
        are differentiable in the module's parameters.

    Raises:
        InvalidInputError: as :func:`roll_regularizer`.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> import torch
        >>> from plnet.backends import torch as pt
        >>> X = np.random.default_rng(0).normal(size=(64, 2))
        >>> y = (X[:, 0] > X[:, 1]).astype(np.float64)          # labels 0/1
        >>> module = pt.compile(net)
        >>> logits, reg = pt.regularized_forward(module, torch.tensor(X[:8]), C=1.0)
        >>> bce = torch.nn.functional.binary_cross_entropy_with_logits
        >>> loss = bce(logits[:, 0], torch.tensor(y[:8]).to(logits)) + reg
        >>> loss.backward()                  # one forward pass, gradients of both terms
    """
    C, gamma = check_C(C), check_gamma(gamma)
    fn = get_relaxation(relaxation)
    samples = check_samples(samples, int(module.input_size))
    if samples is not None and samples < module.input_size and not is_sampling_unbiased(fn, gamma):
        raise InvalidInputError(f"samples={samples} needs a relaxation that is affine in the "
                                f"squared gradient norms (relaxation='roll' with gamma=100); "
                                f"{relaxation!r} with gamma={gamma:g} would be biased by the "
                                f"Eq. 10 estimate: use samples=None")
    logits, z, sq = relaxation_terms(module, x, samples=samples, generator=generator)
    per_point = fn(z, sq, C=C, gamma=gamma)
    if per_point.shape != (z.shape[0],):
        raise InvalidInputError(f"relaxation {relaxation!r} returned shape "
                                f"{tuple(per_point.shape)}; expected one loss per point "
                                f"({z.shape[0]},)")
    return logits, per_point.mean()


def distance_regularizer(module, x) -> torch.Tensor:
    """Paper Eq. 4's regularizer: batch mean of ``-min_units |z| / ||grad z||_2``.

    Zero-gradient units add no constraint (as in :func:`plnet.margin`); a point without
    constraining units contributes 0.

    Args:
        module: a compiled network (:func:`plnet.backends.torch.compile`).
        x: ``[B, *input_shape]``.

    Returns:
        A scalar tensor, differentiable in the module's parameters.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> import torch
        >>> from plnet.backends import torch as pt
        >>> module = pt.compile(net, dtype=torch.float64)
        >>> pt.distance_regularizer(module, torch.tensor(x)).item()   # minus the mean margin
        -0.25
    """
    return roll_regularizer(module, x, C=0.0, relaxation="distance")


def max_relaxation(module, x, *, C) -> torch.Tensor:
    """Paper Eq. 7's regularizer: batch mean of ``max_units ||grad z||^2 + C max(0, 1-|z|)``.

    Args:
        module: a compiled network (:func:`plnet.backends.torch.compile`).
        x: ``[B, *input_shape]``.
        C: hinge weight (>= 0).

    Returns:
        A scalar tensor, differentiable in the module's parameters.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> import torch
        >>> from plnet.backends import torch as pt
        >>> module = pt.compile(net, dtype=torch.float64)
        >>> pt.max_relaxation(module, torch.tensor(x), C=1.0).item()    # max(1.5, 1.75)
        1.75
    """
    return roll_regularizer(module, x, C=C, relaxation="max")
