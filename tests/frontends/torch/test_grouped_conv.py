"""The float64 check runs torch's grouped convolutions on one thread, and only those."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch.overrides import TorchFunctionMode  # noqa: E402

from plnet.frontends.torch.grouped_conv import (  # noqa: E402
    single_threaded_grouped_convolutions)


class ThreadsSeen(TorchFunctionMode):
    """Records the thread count each convolution runs with."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in (torch.conv1d, torch.conv2d, F.conv1d, F.conv2d):
            self.seen.append(torch.get_num_threads())
        return func(*args, **(kwargs or {}))


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_grouped_convolutions_run_on_one_thread_and_others_on_the_pool(two_threads):
    x = torch.randn(2, 4, 6, 6, dtype=torch.float64)
    w_grouped = torch.randn(4, 1, 3, 3, dtype=torch.float64)
    w_dense = torch.randn(4, 4, 3, 3, dtype=torch.float64)
    with ThreadsSeen() as probe, single_threaded_grouped_convolutions():
        grouped = F.conv2d(x, w_grouped, None, 1, 1, 1, 4)
        torch.conv1d(x[:, :, 0], w_grouped[..., 0], groups=4)
        F.conv2d(x, w_dense, padding=1)
    assert probe.seen == [1, 1, 2]
    assert torch.get_num_threads() == 2
    assert torch.equal(grouped, F.conv2d(x, w_grouped, None, 1, 1, 1, 4))


def test_the_thread_count_is_restored_when_a_grouped_convolution_fails(two_threads):
    with single_threaded_grouped_convolutions(), pytest.raises(RuntimeError):
        F.conv2d(torch.randn(1, 3, 5, 5), torch.randn(4, 1, 3, 3), groups=4)
    assert torch.get_num_threads() == 2
