"""Helpers for the torch frontend tests (exposed as fixtures: test files cannot import each
other under --import-mode=importlib)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

#: the converted network and the torch module (both float64) agree to this, relative
AGREE_RTOL = 1e-9
#: the same for ops lowered by exact rewrites (reductions, resizing, padding modes, the zoo)
EXACT_RTOL = 1e-10


def _max_rel_error(module, net, x: np.ndarray) -> float:
    with torch.no_grad():
        want = module(torch.as_tensor(x, dtype=torch.float64)).numpy()
    got = net(x)
    assert got.shape == want.shape
    return float(np.abs(got - want).max() / (1.0 + np.abs(want).max()))


def _convert_and_compare(module, example_shape, *, samples=6, seed=1, rtol=AGREE_RTOL,
                         **kwargs):
    """Convert ``module`` (float64, eval) at ``[2, *example_shape]`` and compare it with
    torch on fresh random inputs; return the network."""
    import plnet

    torch.manual_seed(seed)
    module = module.double().eval()
    rng = np.random.default_rng(seed)
    example = torch.as_tensor(rng.normal(size=(2,) + tuple(example_shape)))
    net = plnet.from_torch(module, example, **kwargs)
    x = rng.normal(size=(samples,) + tuple(example_shape)) * 2.0
    err = _max_rel_error(module, net, x)
    assert err <= rtol, f"converted network differs from torch by {err:.3e}"
    return net


@pytest.fixture
def convert_and_compare():
    """``convert_and_compare(module, per_sample_shape, **from_torch_kwargs) -> Network``."""
    return _convert_and_compare


@pytest.fixture
def convert_exactly():
    """``convert_and_compare`` within :data:`EXACT_RTOL`."""
    def convert(module, example_shape, **kwargs):
        return _convert_and_compare(module, example_shape, rtol=EXACT_RTOL, **kwargs)

    return convert


@pytest.fixture
def max_rel_error():
    """``max_rel_error(module, net, x) -> float``: torch (float64) vs the network."""
    return _max_rel_error


@pytest.fixture
def randomize_batch_norm():
    """``randomize_batch_norm(module, seed=0) -> module`` with random running statistics."""
    return load_zoo().randomize_batch_norm


class _Lambda(torch.nn.Module):
    """A module whose forward is a function of the input."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


@pytest.fixture
def as_module():
    """``as_module(fn) -> torch.nn.Module`` computing ``fn(x)``."""
    return _Lambda


def load_zoo():
    """The architectures of ``zoo.py`` (loaded by path: test modules do not import each
    other under --import-mode=importlib)."""
    import importlib.util
    import sys
    from pathlib import Path

    if "plnet_test_zoo" not in sys.modules:
        spec = importlib.util.spec_from_file_location("plnet_test_zoo",
                                                      Path(__file__).with_name("zoo.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules["plnet_test_zoo"] = module
        spec.loader.exec_module(module)
    return sys.modules["plnet_test_zoo"]


def pytest_generate_tests(metafunc):
    if "zoo_name" in metafunc.fixturenames:
        metafunc.parametrize("zoo_name", sorted(load_zoo().ZOO))
    if "refused_zoo_name" in metafunc.fixturenames:
        metafunc.parametrize("refused_zoo_name", sorted(load_zoo().REFUSED))


@pytest.fixture
def zoo():
    """The module ``zoo.py``: ``ZOO`` and ``REFUSED`` map names to builders."""
    return load_zoo()


_ZOO_CONVERSIONS: dict = {}


@pytest.fixture
def zoo_conversion():
    """``zoo_conversion(name) -> (module, net, x)``: the zoo's float64 module in eval mode
    with random batch-norm statistics, its conversion and four test inputs (each converted
    once per session)."""
    import plnet

    def convert(name):
        if name not in _ZOO_CONVERSIONS:
            zoo = load_zoo()
            module = zoo.build(name).double()
            shape = zoo.ZOO[name][1]
            rng = np.random.default_rng(0)
            net = plnet.from_torch(module, torch.as_tensor(rng.normal(size=(2,) + shape)))
            _ZOO_CONVERSIONS[name] = (module, net, rng.normal(size=(4,) + shape))
        return _ZOO_CONVERSIONS[name]

    return convert
