"""Hypothesis strategies for sequence models and variable-length batches.

Use them to property-test code that consumes :class:`plnet.sequence.SequenceModel`::

    from hypothesis import given
    from plnet.testing import strategies as pst

    @given(pst.elman_model_and_batch(batch_size=4))
    def test_margins_are_per_sample(model_xs):
        model, xs = model_xs
        assert plnet.margin(model, xs).shape == (len(xs),)

Models are stacks of 1-2 Elman layers (ReLU or LeakyReLU, each bidirectional or not, with or
without biases and initial states), every readout, and a head of 0-2 dense layers. The
structure is drawn with hypothesis (so failures shrink); weights come from numpy with a
hypothesis-drawn seed, scaled so that activations stay of moderate size at every length.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from plnet.errors import InvalidInputError, require

_hypothesis = require("hypothesis", "test", "plnet.testing.strategies")
st = _hypothesis.strategies

from plnet.sequence import READOUTS, DenseLayer, SequenceModel, elman, torch_rnn_layers  # noqa: E402

_SEEDS = st.integers(0, 2**32 - 1)
NONLINEARITIES = ("relu", "leaky_relu")


def elman_models(*, max_layers: int = 2, max_hidden: int = 4, max_features: int = 3,
                 readouts: Sequence[str] = READOUTS, nonlinearities: Sequence[str] = NONLINEARITIES,
                 bidirectional: bool | None = None, max_head: int = 2,
                 max_length: int | None = None):
    """A strategy for small random stacked Elman :class:`SequenceModel` objects.

    Args:
        max_layers: the most RNN layers (1 or more).
        max_hidden: the widest hidden state.
        max_features: the most input channels F.
        readouts: the readouts drawn from (see :mod:`plnet.sequence.elman`).
        nonlinearities: ``"relu"`` and/or ``"leaky_relu"``.
        bidirectional: force every layer's directions; None draws it.
        max_head: the most dense layers after the readout.
        max_length: the model's ``max_length`` (None: any).

    Returns:
        A hypothesis strategy of :class:`plnet.sequence.SequenceModel`.

    Raises:
        InvalidInputError: options that admit no model.

    Example:
        >>> from hypothesis import given, settings, strategies as st
        >>> from plnet.testing import strategies as pst
        >>> @settings(max_examples=5, deadline=None)
        ... @given(pst.elman_models(max_layers=1, readouts=["last"]))
        ... def test_property(model):
        ...     x = np.zeros((1, 3, *model.feature_shape))      # one sequence, T = 3
        ...     assert model(x).shape[0] == 1
        >>> test_property()
    """
    if (max_layers < 1 or max_hidden < 1 or max_features < 1 or not readouts
            or set(readouts) - set(READOUTS) or not nonlinearities
            or set(nonlinearities) - set(NONLINEARITIES)):
        raise InvalidInputError(f"elman_models(): needs max_layers, max_hidden, max_features "
                                f">= 1, readouts among {READOUTS} and nonlinearities among "
                                f"{NONLINEARITIES}")
    return _elman_models(max_layers, max_hidden, max_features, tuple(readouts),
                         tuple(nonlinearities), bidirectional, max_head, max_length)


@st.composite
def _elman_models(draw, max_layers, max_hidden, max_features, readouts, nonlinearities,
                  bidirectional, max_head, max_length) -> SequenceModel:
    rng = np.random.default_rng(draw(_SEEDS))
    features = draw(st.integers(1, max_features))
    hidden = draw(st.integers(1, max_hidden))
    num_layers = draw(st.integers(1, max_layers))
    both = draw(st.booleans()) if bidirectional is None else bidirectional
    layers = torch_rnn_layers(num_layers, bidirectional=both, bias=draw(st.booleans()),
                              nonlinearity=draw(st.sampled_from(list(nonlinearities))),
                              alpha=draw(st.sampled_from([0.01, 0.2, -0.5])),
                              initial_state=draw(st.booleans()))
    params = {}
    fan_in = features
    for layer in layers:
        for d, _ in layer.directions:
            params[d.weight_ih] = rng.normal(size=(hidden, fan_in)) / np.sqrt(fan_in)
            # spectral norm below 1: states neither vanish at once nor blow up with length
            whh = rng.normal(size=(hidden, hidden))
            params[d.weight_hh] = 0.8 * whh / max(np.linalg.norm(whh, 2), 1e-12)
            for name in (d.bias_ih, d.bias_hh, d.h0):
                if name is not None:
                    params[name] = rng.normal(size=hidden) * 0.5
        fan_in = hidden * len(layer.directions)
    readout = draw(st.sampled_from(list(readouts)))
    width = hidden if readout == "h_n" else fan_in
    head = []
    depth = draw(st.integers(0, max_head))
    for k in range(depth):
        out = draw(st.integers(1, 4))
        params[f"head{k}.weight"] = rng.normal(size=(out, width)) / np.sqrt(width)
        bias = draw(st.booleans())
        if bias:
            params[f"head{k}.bias"] = rng.normal(size=out) * 0.5
        activation = None if k == depth - 1 else draw(st.sampled_from([None, *nonlinearities]))
        head.append(DenseLayer(f"head{k}.weight", f"head{k}.bias" if bias else None,
                               activation, 0.1))
        width = out
    return elman(params, layers, readout=readout, head=head, max_length=max_length)


@st.composite
def sequences_for(draw, model: SequenceModel, batch_size=3, max_length: int = 5,
                  scale: float = 1.0) -> list[np.ndarray]:
    """A strategy for a list of sequences ``[T_i, *feature_shape]`` of varied lengths.

    Args:
        model: the model the sequences are for (its length limits are kept).
        batch_size: an int or a strategy of ints (B >= 1).
        max_length: the longest sequence drawn (at most the model's ``max_length``).
        scale: the entries' typical magnitude.

    Returns:
        A hypothesis strategy of lists of float64 arrays.

    Raises:
        InvalidInputError: ``batch_size`` below 1, or ``max_length`` below the model's
            ``min_length``.

    Example:
        >>> from hypothesis import given, settings, strategies as st
        >>> from plnet.testing import strategies as pst
        >>> @settings(max_examples=5, deadline=None)
        ... @given(st.data())
        ... def test_property(data):
        ...     model = data.draw(pst.elman_models(max_layers=1))
        ...     xs = data.draw(pst.sequences_for(model, batch_size=2, max_length=4))
        ...     assert len(xs) == 2 and all(1 <= len(x) <= 4 for x in xs)
        >>> test_property()
    """
    b = draw(batch_size) if isinstance(batch_size, st.SearchStrategy) else int(batch_size)
    if b < 1:
        raise InvalidInputError(f"batch_size must be >= 1, got {b}")
    top = max_length if model.max_length is None else min(max_length, model.max_length)
    if top < model.min_length:
        raise InvalidInputError(f"sequences_for(): max_length {top} is below the model's "
                                f"min_length {model.min_length}")
    lengths = draw(st.lists(st.integers(model.min_length, top), min_size=b, max_size=b))
    rng = np.random.default_rng(draw(_SEEDS))
    return [rng.normal(size=(t,) + model.feature_shape) * scale for t in lengths]


@st.composite
def elman_model_and_batch(draw, batch_size=3, max_length: int = 5, **model_kwargs):
    """A strategy for ``(model, xs)``: a model from :func:`elman_models` and sequences.

    Args:
        batch_size: an int or a strategy of ints.
        max_length: the longest sequence.
        **model_kwargs: passed to :func:`elman_models`.

    Returns:
        A hypothesis strategy of ``(SequenceModel, list of [T_i, *feature_shape] arrays)``.

    Example:
        >>> from hypothesis import given, settings, strategies as st
        >>> from plnet.testing import strategies as pst
        >>> @settings(max_examples=5, deadline=None)
        ... @given(pst.elman_model_and_batch(batch_size=2, max_layers=1))
        ... def test_margins_are_nonnegative(model_xs):
        ...     model, xs = model_xs
        ...     assert (plnet.margin(model, xs, p=2) >= 0).all()
        >>> test_margins_are_nonnegative()
    """
    model = draw(elman_models(**model_kwargs))
    return model, draw(sequences_for(model, batch_size=batch_size, max_length=max_length))


__all__ = ["elman_model_and_batch", "elman_models", "sequences_for"]
