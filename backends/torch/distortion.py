"""Gradient distortion (paper, §5.3 and Appendix J) and integrated gradients (Appendix K).

For a labelled point ``(x, y)`` the l1 gradient distortion of ``x'`` is
``||grad f(x')_y - grad f(x)_y||_1``. Over the box ``B = B_inf(x, eps) ∩ [lo, hi]^D`` the
paper reports its expectation under the uniform distribution (estimated from samples) and
its maximum (searched by a genetic algorithm, since the distortion is piecewise constant and
has no useful gradient). Everything runs batched over points and candidates, on the device
of the module, in chunks of ``chunk_size`` candidate points per autograd pass.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from plnet.errors import InvalidInputError

#: Appendix J: population size, epochs, kept share, crossover weight interval.
GA_POPULATION, GA_EPOCHS, GA_KEEP, GA_ALPHA = 4800, 30, 0.25, (-0.25, 1.25)
#: §5.3: samples of the expected distortion, and the l_inf radius used on images.
EXPECTATION_SAMPLES, IMAGE_EPS = 8000, 8 / 256
#: Bytes the candidates of one group of points may take: points are processed in groups so
#: that 1,000 images x 8,000 samples x D never sit in memory at once.
CANDIDATE_BYTES = 1 << 28


def _point_groups(module_input: torch.Tensor, candidates: int):
    """Slices of the batch whose ``[b, candidates, D]`` candidates fit CANDIDATE_BYTES."""
    per_point = candidates * module_input[0].numel() * module_input.element_size()
    size = max(1, CANDIDATE_BYTES // max(per_point, 1))
    return [slice(i, i + size) for i in range(0, module_input.shape[0], size)]


def _module_input(module, x) -> torch.Tensor:
    param = next(module.parameters(), None)
    dtype = param.dtype if param is not None else torch.get_default_dtype()
    device = param.device if param is not None else torch.device("cpu")
    return torch.as_tensor(x).to(device=device, dtype=dtype)


def _labels(y, batch: int, device) -> torch.Tensor:
    y = torch.as_tensor(y, device=device).long().reshape(-1)
    if y.shape[0] != batch:
        raise InvalidInputError(f"y has {y.shape[0]} labels for {batch} points")
    return y


def label_gradients(module, x, y, *, chunk_size: int = 1024) -> torch.Tensor:
    """``grad_x f(x)_y`` of each point, flattened: ``[n, D]``.

    Args:
        module: a torch module mapping ``[n, *input_shape]`` to logits ``[n, classes]``
            (e.g. a compiled network).
        x: ``[n, *input_shape]``.
        y: ``[n]`` class indices.
        chunk_size: points per autograd pass.

    Returns:
        ``[n, D]`` the gradient of each point's logit ``y``, flattened.

    Example:
        >>> import torch
        >>> from plnet.backends import torch as pt
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [-0.5, -0.5]))
        >>> module = pt.compile(b.build(b.dense(h, [[1.0, 1.0], [-1.0, 0.0]], [0.0, 0.0])),
        ...                     dtype=torch.float64)
        >>> x = torch.tensor([[0.6, 0.4]], dtype=torch.float64)
        >>> pt.label_gradients(module, x, [0]).tolist()   # unit 0 active, unit 1 not
        [[1.0, 0.0]]
    """
    x = _module_input(module, x)
    y = _labels(y, x.shape[0], x.device)
    out = []
    for start in range(0, x.shape[0], chunk_size):
        xs = x[start:start + chunk_size].detach().requires_grad_(True)
        with torch.enable_grad():
            logits = module(xs).reshape(xs.shape[0], -1)
            picked = logits.gather(1, y[start:start + chunk_size, None]).sum()
            (grad,) = torch.autograd.grad(picked, xs)
        out.append(grad.reshape(xs.shape[0], -1).detach())
    return torch.cat(out) if out else x.new_zeros((0, math.prod(x.shape[1:])))


def box_bounds(x: torch.Tensor, eps: float, lo: float = 0.0, hi: float = 1.0):
    """Per-coordinate bounds of ``B_inf(x, eps) ∩ [lo, hi]^D``: ``(low, high)`` like ``x``."""
    if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps >= 0):
        raise InvalidInputError(f"eps must be a finite number >= 0, got {eps!r}")
    if not lo <= hi:
        raise InvalidInputError(f"the domain needs lo <= hi, got [{lo}, {hi}]")
    if ((x < lo) | (x > hi)).any():
        raise InvalidInputError(f"points lie outside the domain [{lo}, {hi}]: pass lo/hi that "
                                f"contain them (raw inputs, not normalized ones)")
    return (x - eps).clamp(min=lo), (x + eps).clamp(max=hi)


def _distortions(module, points, labels, base, chunk_size) -> torch.Tensor:
    """``[B, P]`` l1 distortions of candidates ``points [B, P, *shape]``."""
    b, p = points.shape[:2]
    flat = points.reshape(b * p, *points.shape[2:])
    grads = label_gradients(module, flat, labels.repeat_interleave(p), chunk_size=chunk_size)
    return (grads.reshape(b, p, -1) - base[:, None, :]).abs().sum(dim=2)


def _uniform(low, high, count: int, generator) -> torch.Tensor:
    u = torch.rand((low.shape[0], count, *low.shape[1:]), generator=generator,
                   dtype=torch.float64).to(device=low.device, dtype=low.dtype)
    return low[:, None] + u * (high - low)[:, None]


@dataclasses.dataclass
class Distortion:
    """Distortions of a batch of points.

    Attributes:
        values: ``[B, S]`` the distortion of every evaluated candidate (expectation), or
            ``[B]`` the best found (maximum).
        points: the candidates ``[B, S, *shape]`` (expectation, when asked for) or the
            maximizers ``[B, *shape]`` (maximum).

    Example:
        >>> import torch
        >>> from plnet.backends import torch as pt
        >>> d = pt.Distortion(torch.tensor([[0.0, 2.0], [1.0, 1.0]]))
        >>> d.mean.tolist()
        [1.0, 1.0]
    """

    values: torch.Tensor
    points: torch.Tensor | None = None

    @property
    def mean(self) -> torch.Tensor:
        """``[B]``: the estimated expectation (the values' mean over candidates)."""
        return self.values.mean(dim=1) if self.values.ndim == 2 else self.values


def expected_distortion(module, x, y, eps: float, *, samples: int = EXPECTATION_SAMPLES,
                        lo: float = 0.0, hi: float = 1.0, seed: int = 0,
                        chunk_size: int = 1024, keep_points: bool = False) -> Distortion:
    """Estimate ``E ||grad f(x')_y - grad f(x)_y||_1`` over uniform ``x'`` in the box.

    Args:
        module: a torch module giving logits ``[n, classes]`` (its device and dtype are used).
        x: ``[B, *input_shape]`` points inside ``[lo, hi]``; y: ``[B]`` labels.
        eps: the l_inf radius (the paper: 8/256 for images).
        samples: uniform draws per point (the paper: 8000).
        lo, hi: the input domain (raw pixel space [0, 1]).
        seed: seed of the draws (a CPU generator: the same numbers on every device).
        chunk_size: candidates per autograd pass.
        keep_points: also return the drawn candidates (memory ``B * samples * D``).

    Returns:
        :class:`Distortion` with ``values [B, samples]``; ``.mean`` is the estimate.

    Raises:
        InvalidInputError: ``samples`` is not a positive integer, or ``y`` does not hold
            one label per point.

    Example:
        >>> import torch
        >>> from plnet.backends import torch as pt
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [-0.5, -0.5]))
        >>> module = pt.compile(b.build(b.dense(h, [[1.0, 1.0], [-1.0, 0.0]], [0.0, 0.0])),
        ...                     dtype=torch.float64)
        >>> x = torch.tensor([[0.6, 0.4]], dtype=torch.float64)
        >>> d = pt.expected_distortion(module, x, [0], eps=0.25, samples=1000)
        >>> d.values.shape, round(d.mean.item(), 1)   # exact value: 0.3 + 0.3
        (torch.Size([1, 1000]), 0.6)
    """
    x = _module_input(module, x)
    y = _labels(y, x.shape[0], x.device)
    samples = _positive("samples", samples)
    low, high = box_bounds(x, eps, lo, hi)
    base = label_gradients(module, x, y, chunk_size=chunk_size)
    generator = torch.Generator().manual_seed(seed)
    values, kept = [], []
    for group in _point_groups(x, samples):
        points = _uniform(low[group], high[group], samples, generator)
        values.append(_distortions(module, points, y[group], base[group], chunk_size))
        if keep_points:
            kept.append(points)
    return Distortion(torch.cat(values), torch.cat(kept) if keep_points else None)


def max_distortion(module, x, y, eps: float, *, population: int = GA_POPULATION,
                   epochs: int = GA_EPOCHS, lo: float = 0.0, hi: float = 1.0, seed: int = 0,
                   chunk_size: int = 1024, initial: torch.Tensor | None = None) -> Distortion:
    """Search the maximum l1 gradient distortion in the box by Appendix J's genetic algorithm.

    The population starts uniform in the box (or at ``initial``). Each epoch evaluates
    every chromosome's distortion, keeps the top 25% (selection), replaces the other 75%
    by ``a c + (1 - a) c'`` of a random pair ``c, c'`` of the kept (with replacement, ``a ~
    U[-0.25, 1.25]`` per child: crossover), and clips every chromosome back into the box
    (projection). No mutation, as in the paper. The population is evaluated once more after
    the last epoch; the best chromosome ever evaluated is returned (the kept quarter always
    holds it, so this is the final population's best).

    Args:
        module, x, y, eps, lo, hi, chunk_size: as :func:`expected_distortion`.
        population: chromosomes per point (the paper: 4800), at least 2.
        epochs: generations (the paper: 30).
        seed: seed of the initial draw and of the crossover.
        initial: ``[B, population, *input_shape]`` starting chromosomes (projected into
            the box), e.g. the expectation's samples so the maximum bounds them all.

    Returns:
        :class:`Distortion` with ``values [B]`` and the maximizers ``points [B, *shape]``.

    Raises:
        InvalidInputError: ``population`` is below 2, ``epochs`` negative, ``initial`` of
            another shape than ``[B, population, *input_shape]``, or ``y`` does not hold one
            label per point.

    Example:
        >>> import torch
        >>> from plnet.backends import torch as pt
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [-0.5, -0.5]))
        >>> module = pt.compile(b.build(b.dense(h, [[1.0, 1.0], [-1.0, 0.0]], [0.0, 0.0])),
        ...                     dtype=torch.float64)
        >>> x = torch.tensor([[0.6, 0.4]], dtype=torch.float64)
        >>> d = pt.max_distortion(module, x, [0], eps=0.25, population=64, epochs=5)
        >>> d.values.tolist()            # both units switched: the largest distortion, 2
        [2.0]
    """
    x = _module_input(module, x)
    y = _labels(y, x.shape[0], x.device)
    population, epochs = _positive("population", population, 2), _positive("epochs", epochs, 0)
    low, high = box_bounds(x, eps, lo, hi)
    base = label_gradients(module, x, y, chunk_size=chunk_size)
    generator = torch.Generator().manual_seed(seed)
    if initial is not None:
        initial = torch.as_tensor(initial).to(x)
        if initial.shape != (x.shape[0], population, *x.shape[1:]):
            raise InvalidInputError(f"initial has shape {tuple(initial.shape)}; expected "
                                    f"{(x.shape[0], population, *x.shape[1:])}")
    found = []
    for group in _point_groups(x, population):
        pop = (_uniform(low[group], high[group], population, generator) if initial is None
               else initial[group])
        found.append(_search(module, pop, y[group], base[group], low[group], high[group],
                             epochs, generator, chunk_size))
    return Distortion(torch.cat([v for v, _ in found]), torch.cat([p for _, p in found]))


def _search(module, pop, y, base, low, high, epochs, generator, chunk_size):
    """Appendix J's loop for one group of points: ``(best values [b], best points)``."""
    b, population = pop.shape[:2]
    pop = torch.maximum(torch.minimum(pop, high[:, None]), low[:, None])
    kept = max(1, math.ceil(GA_KEEP * population))
    children = population - kept
    rows = torch.arange(b, device=low.device)[:, None]
    for _ in range(epochs):
        scores = _distortions(module, pop, y, base, chunk_size)
        elite = pop[rows, scores.argsort(dim=1, descending=True)[:, :kept]]
        pick = torch.randint(0, kept, (2, b, children), generator=generator).to(low.device)
        alpha = torch.empty((b, children), dtype=torch.float64).uniform_(
            *GA_ALPHA, generator=generator).to(low).reshape(b, children, *(1,) * (low.ndim - 1))
        offspring = alpha * elite[rows, pick[0]] + (1 - alpha) * elite[rows, pick[1]]
        pop = torch.cat([elite, offspring], dim=1)
        pop = torch.maximum(torch.minimum(pop, high[:, None]), low[:, None])
    scores = _distortions(module, pop, y, base, chunk_size)
    best = scores.argmax(dim=1)
    return scores[torch.arange(b), best], pop[torch.arange(b), best]


def integrated_gradients(module, x, y, *, baseline=None, steps: int = 64,
                         chunk_size: int = 1024) -> torch.Tensor:
    """Integrated gradients of logit ``y`` (Sundararajan et al., 2017; paper, Appendix K).

    ``IG(x)_i = (x_i - b_i) * mean_k grad_i f(b + (k - 1/2)/steps * (x - b))_y``: the midpoint
    rule on ``steps`` points of the straight path from the baseline ``b`` (default zeros).
    For a piecewise-linear network the path crosses finitely many regions, so the sum
    converges to the integral as ``steps`` grows; attributions sum to ``f(x)_y - f(b)_y``
    up to that quadrature error.

    Args:
        module: a torch module mapping ``[n, *input_shape]`` to logits ``[n, classes]``.
        x: ``[B, *input_shape]`` points.
        y: ``[B]`` class indices.
        baseline: ``[B, *input_shape]``, the start of each path; zeros when
            None.
        steps: points of the midpoint rule, at least 1.
        chunk_size: points per autograd pass.

    Returns:
        ``[B, *input_shape]`` attributions.

    Raises:
        InvalidInputError: ``steps`` is not a positive integer, or ``y`` does not hold one
            label per point.

    Example:
        >>> import torch
        >>> from plnet.backends import torch as pt
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [-0.5, -0.5]))
        >>> module = pt.compile(b.build(b.dense(h, [[1.0, 1.0], [-1.0, 0.0]], [0.0, 0.0])),
        ...                     dtype=torch.float64)
        >>> x = torch.tensor([[0.6, 0.4]], dtype=torch.float64)
        >>> start = torch.tensor([[0.5, 0.5]], dtype=torch.float64)
        >>> pt.integrated_gradients(module, x, [0], baseline=start).tolist()  # f(x) - f(b)
        [[0.09999999999999998, -0.0]]
    """
    x = _module_input(module, x)
    y = _labels(y, x.shape[0], x.device)
    steps = _positive("steps", steps)
    base = torch.zeros_like(x) if baseline is None else torch.as_tensor(baseline).to(x)
    base = base.expand_as(x)
    alphas = (torch.arange(steps, dtype=x.dtype, device=x.device) + 0.5) / steps
    path = base[:, None] + alphas.reshape(1, steps, *(1,) * (x.ndim - 1)) * (x - base)[:, None]
    grads = label_gradients(module, path.reshape(-1, *x.shape[1:]), y.repeat_interleave(steps),
                            chunk_size=chunk_size)
    mean = grads.reshape(x.shape[0], steps, -1).mean(dim=1).reshape(x.shape)
    return (x - base) * mean


def _positive(name: str, value, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidInputError(f"{name} must be an integer >= {low}, got {value!r}")
    return value
