"""F.pad in every mode and the padding modules: converted exactly and compared with torch
(float64)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import plnet  # noqa: E402
from plnet.errors import UnsupportedOpError  # noqa: E402


class Pad(nn.Module):
    def __init__(self, pad, **kwargs):
        super().__init__()
        self.pad, self.kwargs = pad, kwargs

    def forward(self, x):
        return F.pad(x, self.pad, **self.kwargs)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("pad", [(1, 2), (2, 0, 1, 3), (0, 0, 3, 1)])
def test_pad_modes_match_torch(convert_exactly, mode, pad):
    convert_exactly(Pad(pad, mode=mode), (2, 4, 5) if len(pad) > 2 else (3, 5))


@pytest.mark.parametrize("pad,value", [((1, 2), 0.0), ((1, 2, 0, 1), 1.5),
                                       ((2, -1, -1, 2), -0.25), ((0, 0, 0, 0, 1, 1), 3.0)])
def test_constant_pad_matches_torch(convert_exactly, pad, value):
    convert_exactly(Pad(pad, mode="constant", value=value), (2, 4, 5))


@pytest.mark.parametrize("module,shape", [
    (nn.ZeroPad2d((1, 0, 2, 1)), (2, 4, 5)), (nn.ZeroPad1d(2), (2, 4)),
    (nn.ConstantPad2d(1, 0.7), (2, 4, 5)), (nn.ConstantPad1d((0, 2), -1.0), (2, 4)),
    (nn.ReflectionPad2d(2), (2, 4, 5)), (nn.ReflectionPad1d((1, 2)), (2, 4)),
    (nn.ReplicationPad2d((0, 1, 2, 3)), (2, 4, 5)), (nn.ReplicationPad1d(3), (2, 4)),
    (nn.CircularPad2d(1), (2, 4, 5)), (nn.CircularPad1d((2, 1)), (2, 4)),
], ids=lambda v: type(v).__name__ if isinstance(v, nn.Module) else str(v))
def test_padding_modules_match_torch(convert_exactly, module, shape):
    convert_exactly(module, shape)


def test_reflect_padding_by_the_axis_length_is_refused():
    with pytest.raises(UnsupportedOpError, match="reflect"):
        plnet.from_torch(Pad((3, 3), mode="reflect"), torch.randn(2, 2, 3), check=False)


@given(st.data())
def test_random_pads_in_every_mode_match_torch(data):
    """Drawn amounts (negative crops in constant mode) on 1 or 2 padded axes."""
    mode = data.draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    n = data.draw(st.sampled_from([1, 2]))
    spatial = tuple(data.draw(st.integers(2, 6)) for _ in range(n))
    low = -1 if mode == "constant" else 0
    high = {"reflect": min(spatial) - 1, "circular": min(spatial)}.get(mode, 3)
    pad = tuple(data.draw(st.integers(low, high)) for _ in range(2 * n))
    # pairs run from the last axis backwards; a crop that leaves nothing is not a tensor
    assume(all(length + pad[2 * i] + pad[2 * i + 1] > 0
               for i, length in enumerate(reversed(spatial))))
    value = data.draw(st.floats(-2, 2)) if mode == "constant" else None
    model = Pad(pad, mode=mode, value=value) if mode == "constant" else Pad(pad, mode=mode)
    example = torch.randn((2, 2) + spatial, dtype=torch.float64)
    net = plnet.from_torch(model, example, check=False)
    x = np.random.default_rng(0).normal(size=(3, 2) + spatial)
    want = model(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(net(x), want, rtol=0, atol=0)
