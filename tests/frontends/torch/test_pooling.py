"""Average, adaptive average and max pooling: converted and compared with torch (float64)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import plnet
from plnet.errors import UnsupportedOpError

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional


@pytest.mark.parametrize("kernel,stride,padding,ceil_mode,count_include_pad", [
    (2, None, 0, False, True), (3, 2, 1, False, True), (3, 2, 1, True, True),
    (3, 2, 1, True, False), (4, 3, 2, True, False), (2, 1, 1, False, False), (5, 3, 0, True, True),
])
def test_avg_pool1d_matches_torch(convert_and_compare, kernel, stride, padding, ceil_mode,
                                  count_include_pad):
    pool = nn.AvgPool1d(kernel, stride, padding, ceil_mode, count_include_pad)
    net = convert_and_compare(nn.Sequential(pool), (2, 11))
    assert net.op("0").type_name == "avg_pool"


@pytest.mark.parametrize("kernel,stride,padding,ceil_mode,count_include_pad", [
    (2, None, 0, False, True), ((3, 2), (2, 1), (1, 0), True, True), (3, 2, 1, True, False),
    ((2, 4), 3, (1, 2), True, False), (3, 1, 1, False, True),
])
def test_avg_pool2d_matches_torch(convert_and_compare, kernel, stride, padding, ceil_mode,
                                  count_include_pad):
    pool = nn.AvgPool2d(kernel, stride, padding, ceil_mode, count_include_pad)
    convert_and_compare(nn.Sequential(pool, nn.ReLU()), (2, 7, 8))


def test_functional_avg_pool_matches_torch(convert_and_compare):
    class Model(nn.Module):
        def forward(self, x):
            return F.avg_pool2d(F.avg_pool1d(x.flatten(2), 2).unflatten(2, (4, 2)), 2, 1, 1)

    convert_and_compare(Model(), (3, 4, 4))


def test_divisor_override_is_refused():
    with pytest.raises(UnsupportedOpError, match="divisor_override"):
        plnet.from_torch(nn.AvgPool2d(2, divisor_override=3), torch.randn(2, 1, 4, 4))


@pytest.mark.parametrize("cls,shape,size", [
    (nn.AdaptiveAvgPool1d, (3, 12), 4), (nn.AdaptiveAvgPool1d, (3, 12), 1),
    (nn.AdaptiveAvgPool2d, (2, 6, 8), (3, 2)), (nn.AdaptiveAvgPool2d, (2, 6, 8), 1),
    (nn.AdaptiveAvgPool2d, (2, 6, 8), (None, 4)), (nn.AdaptiveMaxPool2d, (2, 6, 8), (2, 4)),
    (nn.AdaptiveMaxPool1d, (2, 9), 3),
])
def test_adaptive_pooling_with_divisible_sizes_matches_torch(convert_and_compare, cls, shape,
                                                             size):
    convert_and_compare(nn.Sequential(cls(size), nn.Flatten()), shape)


@pytest.mark.parametrize("kernel,stride,padding,dilation,ceil_mode", [
    (2, None, 0, 1, False), (3, 2, 1, 1, False), (3, 2, 1, 1, True), (3, 2, 1, 2, True),
    (2, 3, 1, 1, True), (4, 1, 2, 2, False), (3, 3, 0, 1, True),
])
def test_max_pool1d_matches_torch(convert_and_compare, kernel, stride, padding, dilation,
                                  ceil_mode):
    pool = nn.MaxPool1d(kernel, stride, padding, dilation, ceil_mode=ceil_mode)
    net = convert_and_compare(nn.Sequential(nn.Conv1d(2, 2, 1), pool), (2, 12))
    assert net.op("1").type_name == "max_pool" and net.num_units > 0


@pytest.mark.parametrize("kernel,stride,padding,dilation,ceil_mode", [
    (2, None, 0, 1, False), ((3, 2), (2, 1), (1, 1), 1, True), (3, 2, 1, (2, 1), True),
    (2, 2, 1, 1, True),
])
def test_max_pool2d_matches_torch(convert_and_compare, kernel, stride, padding, dilation,
                                  ceil_mode):
    pool = nn.MaxPool2d(kernel, stride, padding, dilation, ceil_mode=ceil_mode)
    convert_and_compare(nn.Sequential(pool, nn.Flatten(), nn.Linear(_out(pool), 3)), (2, 7, 6))


def _out(pool):
    return pool(torch.zeros(1, 2, 7, 6)).numel()


def test_functional_max_pool_matches_torch(convert_and_compare):
    class Model(nn.Module):
        def forward(self, x):
            return F.max_pool1d(F.max_pool2d(x, 2, ceil_mode=True).flatten(2), 3, 1, 1)

    convert_and_compare(Model(), (2, 5, 5))


@pytest.mark.parametrize("model", [nn.MaxPool2d(2, return_indices=True),
                                   nn.AdaptiveMaxPool2d(2, return_indices=True)])
def test_max_pool_return_indices_is_refused(model):
    with pytest.raises(UnsupportedOpError, match="return_indices"):
        plnet.from_torch(model, torch.randn(2, 1, 4, 4))


@given(st.data())
def test_random_window_geometries_match_torch(data):
    """Conv then pooling with drawn kernel/stride/padding/dilation/ceil_mode, in 1-d and 2-d."""
    n = data.draw(st.sampled_from([1, 2]))
    spatial = tuple(data.draw(st.integers(3, 9)) for _ in range(n))
    k = data.draw(st.integers(1, 3))
    conv = (nn.Conv1d if n == 1 else nn.Conv2d)(
        2, 2, k, stride=data.draw(st.integers(1, 2)), padding=data.draw(st.integers(0, 2)),
        dilation=data.draw(st.integers(1, 2)), groups=data.draw(st.sampled_from([1, 2])))
    pk = data.draw(st.integers(1, 3))
    kind = data.draw(st.sampled_from(["max", "avg"]))
    stride, pad = data.draw(st.integers(1, 3)), data.draw(st.integers(0, pk // 2))
    ceil = data.draw(st.booleans())
    if kind == "max":
        pool = (nn.MaxPool1d if n == 1 else nn.MaxPool2d)(
            pk, stride, pad, dilation=data.draw(st.integers(1, 2)), ceil_mode=ceil)
    else:
        pool = (nn.AvgPool1d if n == 1 else nn.AvgPool2d)(
            pk, stride, pad, ceil_mode=ceil, count_include_pad=data.draw(st.booleans()))
    model = nn.Sequential(conv, nn.ReLU(), pool).double().eval()
    example = torch.randn((2, 2) + spatial, dtype=torch.float64)
    try:
        model(example)
    except RuntimeError:
        assume(False)  # torch itself rejects this geometry
    try:
        net = plnet.from_torch(model, example, check_samples=4)
    except plnet.ShapeError as exc:
        # a dilated max-pool window can fall entirely on padding: torch outputs -inf there,
        # the IR refuses the geometry
        assert "entirely in the padding" in str(exc)
        with torch.no_grad():
            assert torch.isinf(model(example)).any()
        return
    x = torch.randn((3, 2) + spatial, dtype=torch.float64)
    with torch.no_grad():
        want = model(x).numpy()
    np.testing.assert_allclose(net(x.numpy()), want, rtol=1e-10, atol=1e-12)


def test_ceil_mode_window_longer_than_the_input_matches_torch():
    # torch's ceil_mode emits one window even when it hangs past the end of the input
    model = nn.Sequential(nn.MaxPool1d(3, 2, dilation=2, ceil_mode=True)).double()
    example = torch.randn(2, 1, 4, dtype=torch.float64)
    net = plnet.from_torch(model, example)
    assert net.output_shape == (1, 1)
    with torch.no_grad():
        np.testing.assert_allclose(net(example.numpy()), model(example).numpy())


def test_window_longer_than_the_input_without_ceil_mode_is_refused():
    model = nn.Sequential(nn.MaxPool1d(3, 2, dilation=2))
    with pytest.raises(RuntimeError):
        model(torch.randn(2, 1, 4))  # torch refuses it too
    with pytest.raises(plnet.ShapeError, match="larger than the padded input"):
        plnet.from_torch(model, torch.randn(2, 1, 4))
