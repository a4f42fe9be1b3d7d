"""``fit``'s per-epoch metrics: the JSON lines file and the certified margins it reports."""

from __future__ import annotations

import json

import numpy as np
import pytest

import plnet

torch = pytest.importorskip("torch")

from plnet.backends.torch import fit  # noqa: E402

MARGIN_KEYS = [f"margin_{p}_p{q}" for p in ("l2", "l1") for q in (25, 50, 75, 100)]
EPOCH_KEYS = {"epoch", "train_loss", "train_task_loss", "train_regularizer", "train_accuracy",
              "val_loss", "val_accuracy", "margin_set", "margin_points", "clr_lower",
              "clr_upper", "clr_tied_points", "best_epoch", "seconds", *MARGIN_KEYS}


def blobs(n=40, d=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    return rng.normal(0, 2.0, (classes, d))[y] + rng.normal(0, 0.7, (n, d)), y


def run(net, tmp_path, **kwargs):
    opts = dict(val_data=blobs(n=25, seed=1), epochs=3, batch_size=16, lr=0.02, lam=0.2,
                progress=False, device="cpu", metrics_path=tmp_path / "metrics.jsonl",
                margin_points=20, seed=0)
    opts.update(kwargs)
    return fit(net, blobs(), **opts)


def read_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_metrics_are_one_well_formed_json_object_per_epoch(mlp_net, tmp_path):
    result = run(mlp_net, tmp_path)
    rows = read_lines(tmp_path / "metrics.jsonl")
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    for row, record in zip(rows, result.history):
        assert set(row) == EPOCH_KEYS
        assert row["margin_points"] == 20 and row["margin_set"] == "val"
        for p in ("l2", "l1"):
            values = [row[f"margin_{p}_p{q}"] for q in (25, 50, 75, 100)]
            assert values == sorted(values) and values[0] >= 0
        # eps_2 <= eps_1 holds point by point, hence for every percentile
        assert all(row[f"margin_l2_p{q}"] <= row[f"margin_l1_p{q}"] * (1 + 1e-6)
                   for q in (25, 50, 75, 100))
        assert 1 <= row["clr_lower"] <= row["clr_upper"] <= 20
        assert row["train_regularizer"] > 0 and 0 <= row["val_accuracy"] <= 1
        assert row == {k: v for k, v in record.items()}


@pytest.mark.parametrize("engine", ["certify", "reference"])
def test_reported_margins_equal_the_reference_on_the_validation_points(mlp_net, tmp_path,
                                                                        engine):
    val = blobs(n=25, seed=1)
    result = run(mlp_net, tmp_path, val_data=val, margin_engine=engine, epochs=1)
    net = result.last_module.to_network()
    points = val[0][:20]
    rtol = 1e-9 if engine == "reference" else 1e-3  # certify runs in the module's float32
    row = result.history[-1]
    for p, name in ((2, "l2"), (1, "l1")):
        expected = np.percentile(plnet.margin(net, points, p=p), [25, 50, 75, 100])
        got = [row[f"margin_{name}_p{q}"] for q in (25, 50, 75, 100)]
        np.testing.assert_allclose(got, expected, rtol=rtol)
    lo, hi = plnet.count_linear_regions(net, points)
    assert (row["clr_lower"], row["clr_upper"]) == (lo, hi)


def test_without_validation_data_margins_come_from_the_training_points(mlp_net, tmp_path):
    result = run(mlp_net, tmp_path, val_data=None, lam=0.0, epochs=1)
    row = result.history[0]
    assert row["margin_set"] == "train" and row["val_loss"] is None
    assert row["train_regularizer"] is None
    assert result.best_score == row["train_task_loss"]


def test_resume_truncates_the_metrics_to_the_checkpoint(mlp_net, tmp_path):
    ckpt = tmp_path / "ckpt"
    run(mlp_net, tmp_path, epochs=2, checkpoint_dir=ckpt)
    with open(tmp_path / "metrics.jsonl", "a") as fh:  # a line from an epoch never saved
        fh.write(json.dumps({"epoch": 3, "stale": True}) + "\n")
    run(mlp_net, tmp_path, epochs=3, checkpoint_dir=ckpt, resume=True)
    rows = read_lines(tmp_path / "metrics.jsonl")
    assert [r["epoch"] for r in rows] == [1, 2, 3] and "stale" not in rows[-1]


def test_metrics_can_be_switched_off(mlp_net, tmp_path):
    result = run(mlp_net, tmp_path, eval_margins=False, metrics_path=None, epochs=1)
    assert not any(k.startswith("margin_") for k in result.history[0])
    assert not (tmp_path / "metrics.jsonl").exists()


def test_an_unknown_margin_engine_is_refused(mlp_net, tmp_path):
    with pytest.raises(plnet.InvalidInputError, match="margin_engine"):
        run(mlp_net, tmp_path, margin_engine="fast")
def test_a_network_without_units_reports_infinite_margins(tmp_path):
    b = plnet.NetworkBuilder((3,))
    net = b.build(b.dense(b.input, np.ones((2, 3))))
    X = np.random.default_rng(0).normal(size=(20, 3))
    result = fit(net, (X, (X[:, 0] > 0).astype(int)), lam=1.0, epochs=1, progress=False,
                 device="cpu", metrics_path=tmp_path / "m.jsonl")
    row = read_lines(tmp_path / "m.jsonl")[0]
    assert row["margin_l2_p50"] == "inf" and result.history[0]["margin_l2_p50"] == np.inf
    assert row["train_regularizer"] == 0.0 and (row["clr_lower"], row["clr_upper"]) == (1, 1)


def test_metrics_file_folders_are_created(mlp_net, tmp_path):
    from plnet.backends.torch import fit

    rng = np.random.default_rng(0)
    X = rng.normal(size=(32,) + mlp_net.input_shape)
    y = rng.integers(0, int(np.prod(mlp_net.output_shape)), size=32)
    path = tmp_path / "new" / "folder" / "metrics.jsonl"
    fit(mlp_net, (X, y), epochs=1, progress=False, device="cpu", metrics_path=path,
        eval_margins=False)
    assert len(path.read_text().splitlines()) == 1
