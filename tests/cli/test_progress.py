"""Progress goes to stderr, per point, often enough on slow models; it never changes stdout."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

import plnet
from plnet.cli.batching import BatchPlan


def same_report(a: dict, b: dict) -> None:
    """Equal reports, margins up to round-off (other batch sizes sum in another order)."""
    np.testing.assert_allclose(a.pop("margins")["2"], b.pop("margins")["2"], rtol=1e-12)
    a.pop("percentiles"), b.pop("percentiles")
    assert a == b


def sizes_of(plan: BatchPlan, seconds_per_point: float) -> list[int]:
    sizes = []
    while not plan.finished:
        lo, hi = plan.next_range()
        sizes.append(hi - lo)
        plan.advance(seconds_per_point * (hi - lo))
    return sizes


def test_adaptive_batches_start_at_one_point_and_at_most_double():
    sizes = sizes_of(BatchPlan(100, cap=16, adaptive=True), seconds_per_point=1e-4)
    assert sizes[:6] == [1, 2, 4, 8, 16, 16] and sum(sizes) == 100


def test_adaptive_batches_stay_small_when_points_are_slow():
    assert sizes_of(BatchPlan(5, cap=64, adaptive=True), seconds_per_point=20.0) == [1] * 5
    sizes = sizes_of(BatchPlan(40, cap=64, adaptive=True), seconds_per_point=0.3)
    assert max(sizes) == 3  # about a second per batch


def test_fixed_batches_use_the_cap():
    assert sizes_of(BatchPlan(10, cap=4, adaptive=False), 1.0) == [4, 4, 2]


def test_shrinking_halves_the_batch_down_to_one():
    plan = BatchPlan(10, cap=8, adaptive=False)
    assert [plan.shrink(), plan.shrink(), plan.shrink(), plan.shrink()] == [4, 2, 1, 0]


def test_progress_flag_shows_points_on_stderr_only(cli, saved_net, points, monkeypatch):
    seen = []
    real = plnet.linearize

    def recording(net, x):
        seen.append(x.shape[0])
        return real(net, x)

    monkeypatch.setattr(plnet, "linearize", recording)
    _, quiet, quiet_err = cli("certify", saved_net, "--input", points[0], "--json")
    assert quiet_err == "" and seen == [16]
    seen.clear()
    status, out, err = cli("certify", saved_net, "--input", points[0], "--json", "--progress")
    assert status == 0
    same_report(json.loads(out), json.loads(quiet))
    assert "certify" in err and "16/16" in err
    assert seen[0] == 1 and sum(seen) == 16  # the first pass is one point


def test_progress_without_tqdm_is_a_plain_line(cli, saved_net, points, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    status, _, err = cli("certify", saved_net, "--input", points[0], "--progress")
    assert status == 0
    assert "\rcertify: 16/16 pt (100%)" in err


def test_quiet_and_progress_exclude_each_other(cli, saved_net, points):
    status, _, err = cli("certify", saved_net, "--input", points[0], "--progress", "-q")
    assert status == 2 and "not allowed with argument" in err


def test_torch_backend_progress_counts_points(cli, saved_net, points):
    pytest.importorskip("torch")
    _, quiet, _ = cli("certify", saved_net, "--input", points[0], "--json", "--backend",
                      "torch")
    status, out, err = cli("certify", saved_net, "--input", points[0], "--json", "--backend",
                           "torch", "--progress")
    assert status == 0
    same_report(json.loads(out), json.loads(quiet))
    assert "16/16" in err


def test_demo_train_progress_counts_epochs(cli, monkeypatch):
    def fake_train_demo(seed=0, on_epoch=None):
        import plnet.demo

        for _ in range(2 * plnet.demo.TRAIN_EPOCHS):
            on_epoch()
        stats = {"accuracy": 1.0, "l2": [1.0] * 4, "l1": [1.0] * 4, "clr": [1, 1]}
        return {"vanilla": stats, "roll": stats}

    monkeypatch.setattr("plnet.demo.train_demo", fake_train_demo)
    status, out, err = cli("demo", "--train", "--progress")
    assert status == 0 and "ROLL's median l2 margin" in out
    assert "train" in err and "100/100" in err
    _, _, err = cli("demo", "--train")
    assert err == ""


def test_train_demo_reports_each_epoch():
    pytest.importorskip("torch")
    from plnet.demo import train_demo

    calls = []
    train_demo(epochs=2, on_epoch=lambda: calls.append(1))
    assert len(calls) == 4
