"""FxToIR.param: one name per shared tensor, and per derived value's key."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from plnet.frontends.torch.fx_to_ir import FxToIR  # noqa: E402


@pytest.fixture
def lower():
    return FxToIR(None, None, (3,))


def test_the_same_tensor_gets_one_name(lower):
    weight = torch.randn(2, 3)
    assert lower.param(weight, "a.weight") == lower.param(weight, "b.weight") == "a.weight"
    assert lower.param(torch.randn(2, 3), "a.weight") == "a.weight_1"


def test_values_derived_from_the_same_sources_get_one_name(lower):
    weight, norm = torch.randn(2, 3), torch.nn.BatchNorm1d(2)
    first = lower.param(np.ones((2, 3)), "w.bn_folded", key=(weight, norm))
    again = lower.param(np.ones((2, 3)), "w.bn_folded", key=(weight, norm))
    other = lower.param(np.ones((2, 3)), "w.bn_folded", key=(weight, torch.nn.BatchNorm1d(2)))
    assert first == again == "w.bn_folded" and other == "w.bn_folded_1"
