"""The public hypothesis strategies for sequence models draw what they promise."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import plnet.sequence as ps
from plnet.errors import InvalidInputError
from plnet.testing import strategies as pst


@settings(max_examples=40)
@given(pst.elman_model_and_batch(batch_size=st.integers(1, 4), max_length=6))
def test_drawn_models_run_on_drawn_batches(model_xs):
    model, xs = model_xs
    assert isinstance(model, ps.SequenceModel) and model.recipe["kind"] == "elman"
    assert 1 <= len(xs) <= 4 and all(1 <= len(x) <= 6 for x in xs)
    outputs = model(xs)
    assert len(outputs) == len(xs)
    assert all(np.isfinite(np.asarray(y)).all() for y in outputs)


@settings(max_examples=10)
@given(pst.elman_models(readouts=["h_n"], bidirectional=True, max_length=3))
def test_options_fix_the_readout_directions_and_lengths(model):
    assert model.recipe["readout"] == "h_n" and model.max_length == 3
    assert all(layer["reverse"] is not None for layer in model.recipe["layers"])


def test_the_strategies_cover_every_readout_and_both_directions():
    seen = set()

    @settings(max_examples=60, derandomize=True)
    @given(pst.elman_models())
    def collect(model):
        seen.add((model.recipe["readout"], model.recipe["layers"][0]["reverse"] is None))

    collect()
    assert {r for r, _ in seen} == set(ps.READOUTS)
    assert {d for _, d in seen} == {True, False}


def test_options_that_admit_no_model_are_refused():
    with pytest.raises(InvalidInputError, match="nonlinearities"):
        pst.elman_models(nonlinearities=["tanh"])
    with pytest.raises(InvalidInputError, match="readouts"):
        pst.elman_models(readouts=["mean"])
