"""The float64 check runs the module's reference forward on one thread."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
import plnet  # noqa: E402
from plnet.frontends.torch.threads import one_thread  # noqa: E402


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_the_checks_reference_forward_runs_every_op_on_one_thread(two_threads):
    module = torch.nn.Sequential(torch.nn.Conv2d(4, 4, 3, groups=4), torch.nn.BatchNorm2d(4),
                                 torch.nn.ReLU(), torch.nn.Conv2d(4, 2, 3)).eval()
    seen = set()
    for layer in module:  # the check runs a float64 copy of the module: its layers too
        layer.register_forward_pre_hook(
            lambda m, args: seen.add(torch.get_num_threads()) if args[0].dtype == torch.float64
            else None)
    plnet.from_torch(module, torch.randn(2, 4, 7, 7))
    assert seen == {1}
    assert torch.get_num_threads() == 2


def test_the_thread_count_is_restored_when_the_block_fails(two_threads):
    with pytest.raises(RuntimeError), one_thread():
        torch.nn.functional.conv2d(torch.randn(1, 3, 5, 5), torch.randn(4, 1, 3, 3), groups=4)
    assert torch.get_num_threads() == 2
