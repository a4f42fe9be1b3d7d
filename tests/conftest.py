"""Shared test configuration: hypothesis profiles, devices, and the public ONNX corpus."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# CI: derandomized, no deadline (shared, noisy machines). Locally: random, still no deadline.
settings.register_profile("ci", derandomize=True, deadline=None, max_examples=25,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", deadline=None, max_examples=25,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", deadline=None, max_examples=300,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

REPO_ROOT = Path(__file__).resolve().parents[1]


def corpus_dir() -> Path:
    """The public ONNX corpus: $PLNET_CORPUS, else ../shared/onnx-corpus beside the repo."""
    env = os.environ.get("PLNET_CORPUS")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "onnx-corpus"


@pytest.fixture(scope="session")
def corpus() -> Path:
    path = corpus_dir()
    if not path.is_dir():
        message = f"the public ONNX corpus is not at {path} (set PLNET_CORPUS)"
        if os.environ.get("CI"):
            pytest.fail(message)  # in CI a missing corpus must not pass as skipped tests
        pytest.skip(message)
    return path


def _devices():
    out = ["cpu"]
    try:
        import torch

        if torch.cuda.is_available():
            out.append("cuda")
    except ImportError:
        pass
    return out


@pytest.fixture(params=_devices())
def device(request):
    """Every torch device present: "cpu", and "cuda" when a GPU is there."""
    return request.param
