"""Hypothesis strategies for plnet: random networks, points and directions.

Use them to property-test code that consumes :class:`plnet.Network` objects, the way the
library's own tests check every certificate::

    from hypothesis import given
    from plnet.testing import strategies as pst

    @given(pst.network_and_points(batch_size=3))
    def test_margin_is_nonnegative(net_x):
        net, x = net_x
        assert (plnet.margin(net, x) >= 0).all()

Networks are drawn from four families that together use every IR op: MLPs (dense layers on
the last axis, residual n-ary adds, concat branches, scale/shift, slice, take, reshape and
transpose), 1-d and 2-d CNNs (convolutions with stride, asymmetric padding, dilation and
groups; transposed convolutions with output padding as well; max and average pooling with
ceil_mode; zero padding; residual and concat branches; channel mixing through transposes)
and unrolled Elman RNNs (ReLU and LeakyReLU); their activations are ReLUs, LeakyReLUs and
PReLUs (one slope, or one per channel or feature). The structure and shapes are drawn with
hypothesis, so failures shrink; weights come from numpy with a hypothesis-drawn seed
(drawing arrays element-wise would be slow). Weights and points are continuous random
values, so points on a region boundary (ties) are essentially never drawn; degenerate ties
(units constant on the region, such as two dead ReLUs in one max-pool window) do occur and
draw no boundary. :func:`tied_network_and_point` draws points exactly on a boundary, for
tests of tie handling.

Sizes stay small (D <= 64, N <= 200 by default) so that property tests run fast.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from plnet.errors import InvalidInputError, require

_hypothesis = require("hypothesis", "test", "plnet.testing.strategies")
st = _hypothesis.strategies
assume = _hypothesis.assume

from plnet.builder import NetworkBuilder  # noqa: E402  (after the dependency check)
from plnet.network import Network  # noqa: E402
from plnet.ops import OP_REGISTRY  # noqa: E402
from plnet.testing.conv_families import build_cnn  # noqa: E402
from plnet.testing.families import RNN_OPS, Draft, build_mlp, build_rnn, units_so_far  # noqa: E402

#: the network families :func:`networks` draws from
FAMILIES = ("mlp", "cnn1d", "cnn2d", "rnn")

_ACTIVATIONS = {"relu", "leaky_relu", "prelu"}
_HEAD = {"dense", "flatten"}
_CNN = {"conv", "conv_transpose", "max_pool", "avg_pool", "pad", "add", "concat", "slice", "take", "scale_shift",
        "transpose"} | _ACTIVATIONS | _HEAD
#: which op types each family draws (besides ``input``). A new op goes into the family
#: that draws it; ``tests/test_op_completeness.py`` checks this table against the drawn
#: networks and every registered op against the table.
FAMILY_OPS: dict[str, frozenset[str]] = {
    "mlp": frozenset({"add", "concat", "slice", "take", "scale_shift", "reshape", "transpose"}
                     | _ACTIVATIONS | _HEAD),
    "cnn1d": frozenset(_CNN),
    "cnn2d": frozenset(_CNN | {"reshape"}),
    "rnn": frozenset({"take", "add", "reshape", "concat", "scale_shift", "relu", "leaky_relu"}
                     | _HEAD),
}

#: every op type name (what ``ops=`` may contain)
ALL_OPS = frozenset(OP_REGISTRY) - {"input"}
#: the op types that carry an activation pattern (units)
PATTERN_OPS = frozenset(name for name, cls in OP_REGISTRY.items() if cls.carries_pattern)

_SEEDS = st.integers(0, 2**32 - 1)

_DEFAULT_SHAPES = {
    "mlp": st.one_of(st.tuples(st.integers(1, 8)), st.tuples(st.integers(1, 3), st.integers(1, 6))),
    "cnn1d": st.tuples(st.integers(1, 3), st.integers(3, 10)),
    "cnn2d": st.tuples(st.integers(1, 2), st.integers(2, 5), st.integers(2, 5)),
    "rnn": st.tuples(st.integers(1, 4), st.integers(1, 3)),
}
_RANKS = {"mlp": None, "cnn1d": (2,), "cnn2d": (3,), "rnn": (2,)}
_BUILDERS: dict[str, Callable] = {"mlp": build_mlp, "cnn1d": build_cnn, "cnn2d": build_cnn,
                                  "rnn": build_rnn}


def _family_usable(family: str, allowed: frozenset[str]) -> bool:
    if family == "rnn":
        return set(RNN_OPS) <= allowed and bool({"relu", "leaky_relu"} & allowed)
    return True


def networks(*, families: Sequence[str] = FAMILIES, ops: Sequence[str] | None = None,
             max_depth: int = 3, input_shapes=None, min_units: int = 1, max_units: int = 200,
             max_input_size: int = 64, max_width: int = 8):
    """A strategy for small random :class:`plnet.Network` objects.

    Args:
        families: any of ``"mlp"``, ``"cnn1d"``, ``"cnn2d"``, ``"rnn"``.
        ops: op type names the networks may use (default: all). Blocks that need another
            op are never drawn; with ``min_units >= 1`` at least one pattern op
            (:data:`PATTERN_OPS`: ``relu``, ``leaky_relu``, ``prelu``, ``max_pool``) must
            be allowed.
        max_depth: the most blocks (layers, residual blocks, branches, pools, views) drawn
            after the input.
        input_shapes: a strategy (or a list) of per-sample input shapes; families whose
            input rank does not fit are skipped (``mlp`` takes any rank, ``cnn1d`` and
            ``rnn`` rank 2, ``cnn2d`` rank 3). Default: small shapes per family.
        min_units: the fewest pattern-carrying units N.
        max_units: the most units N.
        max_input_size: the largest flattened input size D.
        max_width: the widest dense layer drawn.

    Returns:
        A hypothesis ``SearchStrategy`` of validated networks.

    Raises:
        InvalidInputError: an unknown family or op name, or options that admit no network.

    Example:
        >>> from hypothesis import given, settings, strategies as st
        >>> from plnet.testing import strategies as pst
        >>> @settings(max_examples=5, deadline=None)
        ... @given(pst.networks(families=["mlp", "cnn1d"], max_units=16))
        ... def test_property(net):
        ...     x = np.zeros((1, *net.input_shape))
        ...     assert net(x).shape == (1, *net.output_shape)
        >>> test_property()
    """
    unknown = set(families) - set(FAMILIES)
    if unknown or not families:
        raise InvalidInputError(f"networks(): unknown families {sorted(unknown)}; choose "
                                f"from {FAMILIES}")
    allowed = ALL_OPS if ops is None else frozenset(ops) - {"input"}
    if allowed - ALL_OPS:
        raise InvalidInputError(f"networks(): unknown op types {sorted(allowed - ALL_OPS)}; "
                                f"known: {sorted(ALL_OPS)}")
    if min_units > 0 and not PATTERN_OPS & allowed:
        raise InvalidInputError(f"networks(): min_units > 0 needs one of "
                                f"{sorted(PATTERN_OPS)} among the allowed ops")
    families = tuple(f for f in families if _family_usable(f, allowed))
    if not families or max_depth < 1 or min_units > max_units:
        raise InvalidInputError("networks(): these options admit no network (check "
                                "families, ops, max_depth, min_units <= max_units)")
    if isinstance(input_shapes, (list, tuple)):
        input_shapes = st.sampled_from([tuple(s) for s in input_shapes])
    return _networks(families, allowed, max_depth, input_shapes, min_units, max_units,
                     max_input_size, max_width)


@st.composite
def _networks(draw, families, allowed, max_depth, input_shapes, min_units, max_units,
              max_input_size, max_width):
    if input_shapes is None:
        family = draw(st.sampled_from(families))
        shape = draw(_DEFAULT_SHAPES[family])
    else:
        shape = tuple(int(s) for s in draw(input_shapes))
        fits = [f for f in families if _RANKS[f] is None or len(shape) in _RANKS[f]]
        if not fits:
            raise InvalidInputError(f"networks(): no family in {families} takes inputs of "
                                    f"shape {shape}")
        family = draw(st.sampled_from(fits))
    assume(math.prod(shape) <= max_input_size)

    builder = NetworkBuilder(shape)
    draft = Draft(draw, builder, np.random.default_rng(draw(_SEEDS)), allowed, max_depth,
                  max_width)
    node = _BUILDERS[family](draft, builder.input)
    if units_so_far(builder) < min_units:
        node = draft.activation(node)
    if units_so_far(builder) < min_units and "max_pool" in allowed and len(shape) > 1:
        node = builder.max_pool(node, (1,) * (len(builder.shape(node)) - 1))
    node = draft.head(node)
    assume(node != builder.input)
    assume(min_units <= units_so_far(builder) <= max_units)
    return builder.build(node)


def _batch(draw, batch_size) -> int:
    size = draw(batch_size) if isinstance(batch_size, st.SearchStrategy) else int(batch_size)
    if size < 1:
        raise InvalidInputError(f"batch_size must be >= 1, got {size}")
    return size


@st.composite
def points_for(draw, net: Network, batch_size=1, scale: float = 1.0):
    """A strategy for a batch of input points ``[B, *net.input_shape]`` for ``net``.

    Points are finite, of moderate scale (entries mostly within ``+-3 * scale``), drawn
    from a normal, a uniform or a sparse distribution with a hypothesis-drawn seed.

    Args:
        net: the network the points are for.
        batch_size: an int or a strategy of ints (B >= 1).
        scale: the points' typical magnitude.

    Returns:
        A hypothesis ``SearchStrategy`` of float64 arrays.

    Example:
        >>> from hypothesis import given, settings, strategies as st
        >>> from plnet.testing import strategies as pst
        >>> @settings(max_examples=5, deadline=None)
        ... @given(st.data())
        ... def test_property(data):
        ...     net = data.draw(pst.networks(max_units=8))
        ...     x = data.draw(pst.points_for(net, batch_size=3))
        ...     assert (plnet.margin(net, x, p=2) >= 0).all()
        >>> test_property()
    """
    b = _batch(draw, batch_size)
    rng = np.random.default_rng(draw(_SEEDS))
    kind = draw(st.sampled_from(["normal", "uniform", "sparse"]))
    shape = (b,) + tuple(net.input_shape)
    if kind == "normal":
        x = rng.normal(size=shape)
    elif kind == "uniform":
        x = rng.uniform(-2.0, 2.0, size=shape)
    else:  # mostly small, a few large coordinates
        x = rng.normal(size=shape) * 0.1 + rng.normal(size=shape) * (rng.random(shape) < 0.2)
    return x * scale


@st.composite
def directions_for(draw, net: Network, batch_size: int | None = None):
    """A strategy for unit-l2-norm directions: ``input_shape``, or ``[B, *input_shape]``.

    Directions are Gaussian, random sign vectors, or signed axis vectors (so that the
    coordinate directions of the l1 certificate are exercised).

    Args:
        net: the network the directions are for.
        batch_size: None for one input-shaped direction, else B directions.

    Returns:
        A hypothesis ``SearchStrategy`` of float64 arrays.

    Example:
        >>> from hypothesis import given, settings, strategies as st
        >>> from plnet.testing import strategies as pst
        >>> @settings(max_examples=5, deadline=None)
        ... @given(st.data())
        ... def test_property(data):
        ...     net, x = data.draw(pst.network_and_points())
        ...     v = data.draw(pst.directions_for(net))
        ...     assert (plnet.directional_margin(net, x, v) >= 0).all()
        >>> test_property()
    """
    b = 1 if batch_size is None else _batch(draw, batch_size)
    rng = np.random.default_rng(draw(_SEEDS))
    d = net.input_size
    kind = draw(st.sampled_from(["gaussian", "signs", "axis"]))
    if kind == "gaussian":
        v = rng.normal(size=(b, d))
    elif kind == "signs":
        v = rng.choice([-1.0, 1.0], size=(b, d))
    else:
        v = np.zeros((b, d))
        v[np.arange(b), rng.integers(0, d, size=b)] = rng.choice([-1.0, 1.0], size=b)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    v = v.reshape((b,) + tuple(net.input_shape))
    return v[0] if batch_size is None else v


@st.composite
def network_and_points(draw, batch_size=1, scale: float = 1.0, **network_kwargs):
    """A strategy for ``(net, x)``: a network from :func:`networks` and points for it.

    Args:
        batch_size: an int or a strategy of ints.
        scale: see :func:`points_for`.
        **network_kwargs: passed to :func:`networks`.

    Returns:
        A hypothesis ``SearchStrategy`` of ``(net, x)`` pairs.

    Example:
        >>> from hypothesis import given, settings, strategies as st
        >>> from plnet.testing import strategies as pst
        >>> @settings(max_examples=5, deadline=None)
        ... @given(pst.network_and_points(batch_size=2, families=["mlp"]))
        ... def test_property(case):
        ...     net, x = case
        ...     eps = plnet.margin(net, x, p=np.inf)
        ...     assert (eps <= plnet.margin(net, x, p=2) + 1e-12).all()   # l_inf <= l_2
        >>> test_property()
    """
    net = draw(networks(**network_kwargs))
    return net, draw(points_for(net, batch_size=batch_size, scale=scale))


@st.composite
def tied_network_and_point(draw, max_depth: int = 2):
    """A strategy for ``(net, x)`` with ``x`` (``[1, *input_shape]``) exactly on a boundary.

    Either a ReLU/LeakyReLU unit of the first layer has a pre-activation of exactly 0 and a
    non-zero gradient (integer weights and points make the arithmetic exact), or a max-pool
    window on the input holds two equal maxima. More random layers may follow.

    Args:
        max_depth: the most random blocks drawn after the tied layer.

    Returns:
        A hypothesis ``SearchStrategy`` of ``(net, x)`` pairs.

    Example:
        >>> from hypothesis import given, settings, strategies as st
        >>> from plnet.testing import strategies as pst
        >>> @settings(max_examples=5, deadline=None)
        ... @given(pst.tied_network_and_point())
        ... def test_property(case):
        ...     net, x = case
        ...     assert plnet.margin(net, x, p=2)[0] == 0      # on a boundary: margin 0
        >>> test_property()
    """
    rng = np.random.default_rng(draw(_SEEDS))
    if draw(st.booleans()):
        d, width = draw(st.integers(1, 6)), draw(st.integers(1, 6))
        builder = NetworkBuilder((d,))
        x = rng.integers(-3, 4, size=d).astype(float)
        w = rng.integers(-3, 4, size=(width, d)).astype(float)
        k = draw(st.integers(0, width - 1))
        w[k, draw(st.integers(0, d - 1))] = draw(st.sampled_from([-2.0, -1.0, 1.0, 2.0]))
        bias = rng.integers(-3, 4, size=width).astype(float)
        bias[k] = -w[k] @ x
        node = builder.dense(builder.input, w, bias)
        draft = Draft(draw, builder, rng, ALL_OPS, max_depth, 8)
        node = draft.activation(node)
    else:
        c, length = draw(st.integers(1, 2)), draw(st.integers(2, 8))
        builder = NetworkBuilder((c, length))
        x = rng.normal(size=(c, length))
        kernel = draw(st.integers(2, length))
        i = draw(st.integers(0, length - kernel))
        top = x[0, i:i + kernel].max() + 1.0
        x[0, i], x[0, i + kernel - 1] = top, top  # two equal maxima in one window
        node = builder.max_pool(builder.input, kernel, stride=1)
        draft = Draft(draw, builder, rng, ALL_OPS, max_depth, 8)
    if draw(st.booleans()):
        node = build_mlp(draft, node)
    return builder.build(node), x.reshape((1,) + builder.shape(builder.input))


# sequence models: plnet.sequence's Elman recipe and variable-length batches
from plnet.testing.sequence_strategies import (elman_model_and_batch, elman_models,  # noqa: E402
                                               sequences_for)

__all__ = ["ALL_OPS", "FAMILIES", "FAMILY_OPS", "PATTERN_OPS", "directions_for",
           "network_and_points", "networks", "points_for", "tied_network_and_point",
           "elman_model_and_batch", "elman_models", "sequences_for"]
