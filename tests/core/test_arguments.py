"""The public analyses refuse bad scalar arguments with errors naming the argument."""

from __future__ import annotations

import numpy as np
import pytest

import plnet
from plnet.analysis.margins import check_p
from plnet.errors import InvalidInputError


@pytest.fixture
def net():
    b = plnet.NetworkBuilder((2,))
    return b.build(b.dense(b.relu(b.dense(b.input, np.eye(2), np.ones(2))), np.ones((1, 2))))


X = np.array([[0.3, -0.2], [0.1, 0.4]])


@pytest.mark.parametrize("batch_size", [0, 1.5, -1, True, "4"])
def test_count_refuses_a_bad_batch_size(net, batch_size):
    with pytest.raises(InvalidInputError, match="batch_size"):
        plnet.count_linear_regions(net, X, batch_size=batch_size)


@pytest.mark.parametrize("p", [True, False, np.True_, 3, "two"])
def test_p_refuses_bools_and_other_values(net, p):
    with pytest.raises(InvalidInputError, match="p must be"):
        check_p(p)
    with pytest.raises(InvalidInputError, match="p must be"):
        plnet.margin(net, X, p=p)


@pytest.mark.parametrize("gap", [0, -1.0, True, float("nan"), float("inf")])
def test_bisection_refuses_a_bad_gap(net, gap):
    with pytest.raises(InvalidInputError, match="gap"):
        plnet.l1_margin_bisection(net, X, gap=gap)


def test_named_choices_are_checked(net):
    with pytest.raises(InvalidInputError, match="method"):
        plnet.directional_margin(net, X, np.ones(2), method="exact")
    with pytest.raises(InvalidInputError, match="on_tie"):
        plnet.count_linear_regions(net, X, on_tie="ignore")
    with pytest.raises(InvalidInputError, match="check"):
        plnet.l1_margin_bisection(net, X, check="exact")


@pytest.mark.parametrize("v", [np.ones(3), np.ones((3, 2)), np.array([np.nan, 1.0]),
                               np.zeros(2), "up"])
def test_directions_of_wrong_shape_or_value_are_refused(net, v):
    for method in ("ratio", "bisection"):
        with pytest.raises(InvalidInputError, match="direction"):
            plnet.directional_margin(net, X, v, method=method)


def test_nan_points_are_refused(net):
    bad = X.copy()
    bad[1, 0] = np.nan
    for analysis in (plnet.margin, plnet.l1_margin_bisection, plnet.count_linear_regions):
        with pytest.raises(InvalidInputError, match="NaN"):
            analysis(net, bad)
