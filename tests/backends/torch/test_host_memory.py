"""Large results on the host come from memory the kernel zeroes (``host_memory.zeros``), and
a writer told the memory is zeroed skips its own zeros: results stay exact."""

from __future__ import annotations

import numpy as np
import pytest

import plnet
from plnet.tolerances import REFERENCE_RTOL

torch = pytest.importorskip("torch")

from plnet.backends import torch as pt  # noqa: E402
from plnet.backends.torch import host_memory  # noqa: E402
from plnet.testing.window_nets import resnet_like, window_zoo  # noqa: E402


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_large_zeros_are_zero_even_where_the_allocator_reuses_dirty_memory(dtype):
    shape = (3, host_memory.LARGE_BYTES // 3 + 5)  # past the size numpy maps in huge pages
    for _ in range(3):  # freed dirty memory of this size is what malloc hands out next
        dirty = torch.full(shape, 7.0, dtype=dtype)
        del dirty
        zeros = host_memory.zeros(shape, dtype, "cpu")
        assert zeros.shape == shape and zeros.dtype == dtype and zeros.is_contiguous()
        assert not zeros.any()
        zeros[0, -1] = 1.0  # writable, and not shared with anything else
        assert float(zeros.sum()) == 1.0


@pytest.mark.parametrize("shape, dtype", [((4, 5), torch.float32),       # small
                                          ((3, 1 << 21), torch.bfloat16)])  # no numpy dtype
def test_small_or_unusual_zeros_come_from_torch(shape, dtype):
    zeros = host_memory.zeros(shape, dtype, torch.device("cpu"))
    assert zeros.shape == shape and zeros.dtype == dtype and not zeros.any()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_accelerator_zeros_stay_on_the_device():
    zeros = host_memory.zeros((3, 1 << 21), torch.float32, "cuda")
    assert zeros.device.type == "cuda" and not zeros.any()


@pytest.mark.parametrize("make_net", [resnet_like, window_zoo])
def test_a_large_fresh_result_from_patches_equals_the_reference(make_net):
    net = make_net(np.random.default_rng(5))
    module = pt.compile(net, device="cpu", dtype=torch.float64)
    per_point = module.num_units * module.input_size * 8
    batch = host_memory.LARGE_BYTES // per_point + 2  # the result comes from numpy's memory
    x = np.random.default_rng(6).normal(size=(batch,) + net.input_shape)
    with torch.no_grad():
        _, grad = pt.unit_gradients(module, x)
        nan_filled = torch.full(grad.shape, float("nan"), dtype=torch.float64)
        _, into = pt.unit_gradients(module, x, out=nan_filled)  # must write its own zeros
    assert grad.numel() * 8 >= host_memory.LARGE_BYTES
    assert torch.equal(grad, into)
    lin = plnet.linearize(net, x)
    np.testing.assert_allclose(grad.numpy(), lin.grad, rtol=REFERENCE_RTOL,
                               atol=REFERENCE_RTOL * (1 + np.abs(lin.grad).max()))
