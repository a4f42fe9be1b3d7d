"""On the CPU, the perturbation engine feeding norms takes cache-sized chunks of axes
(``CPU_NODE_BYTES``); a dense result and an explicit ``chunk_size`` do not, and the
numbers are those of one chunk."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from plnet.backends.torch import compile, gradients  # noqa: E402
from plnet.backends.torch.certificates import margins  # noqa: E402
from plnet.backends.torch.gradients import unit_gradient_norms, unit_gradients  # noqa: E402
from plnet.demo import relu_mlp  # noqa: E402
from plnet.testing.window_nets import resnet_like  # noqa: E402


@pytest.fixture
def counted(monkeypatch):
    """The chunks each engine call streams: a list of their widths per call."""
    widths = []
    real = gradients._stream

    def stream(module, pattern, columns, sink, width, *rest):
        widths.append(min(width, len(columns)))
        return real(module, pattern, columns, sink, width, *rest)

    monkeypatch.setattr(gradients, "_stream", stream)
    return widths


@pytest.fixture
def setting():
    net = resnet_like(np.random.default_rng(11))
    module = compile(net, device="cpu", dtype=torch.float64)
    x = torch.tensor(np.random.default_rng(12).normal(size=(3,) + net.input_shape))
    return module, x


def test_norms_take_cache_sized_chunks_with_the_same_numbers(setting, counted, monkeypatch):
    module, x = setting
    with torch.no_grad():
        _, whole, jac = unit_gradient_norms(module, x, ("sq", "abs", "max"),
                                            method="perturbation", want_output=True)
        assert counted[-1] == module.input_size
        monkeypatch.setattr(gradients, "CPU_NODE_BYTES", 1)  # one axis a chunk
        _, blocked, blocked_jac = unit_gradient_norms(
            module, x, ("sq", "abs", "max"), method="perturbation", want_output=True)
    assert counted[-1] == 1
    for kind in whole:
        torch.testing.assert_close(blocked[kind], whole[kind], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(blocked_jac, jac, rtol=1e-12, atol=1e-12)


def test_a_moderate_budget_gives_equal_chunks_under_it(counted, monkeypatch):
    module = compile(relu_mlp((200, 30, 30, 3)), device="cpu", dtype=torch.float64)
    x = torch.tensor(np.random.default_rng(13).normal(size=(4, 200)))
    with torch.no_grad():
        expected = margins(module, x, p=2, method="perturbation")
        # the widest node is the input (200 values): 45 axes a chunk
        monkeypatch.setattr(gradients, "CPU_NODE_BYTES", 8 * len(x) * 200 * 45)
        found = margins(module, x, p=2, method="perturbation")
    assert counted == [200, 40]  # five equal chunks of at most 45 axes
    torch.testing.assert_close(found, expected, rtol=1e-12, atol=0)


def test_a_dense_result_and_a_given_chunk_size_ignore_the_cache_budget(setting, counted,
                                                                       monkeypatch):
    module, x = setting
    monkeypatch.setattr(gradients, "CPU_NODE_BYTES", 1)
    with torch.no_grad():
        unit_gradients(module, x, method="perturbation")
        assert counted[-1] == module.input_size  # strided [B, N, D] writes: whole chunks
        unit_gradient_norms(module, x, ("sq",), chunk_size=7, method="perturbation")
        assert counted[-1] == 7
