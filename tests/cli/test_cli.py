"""The command line behaves like other CLIs: output, JSON, exit statuses, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import plnet
from plnet.cli import main
from plnet.demo import demo_grid, demo_network


def run(argv, capsys):
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_python_dash_m_runs_the_demo():
    proc = subprocess.run([sys.executable, "-m", "plnet", "demo", "--points", "5"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "certified margins" in proc.stdout
    assert "complete linear regions" in proc.stdout


def test_demo_json_matches_the_library(capsys):
    status, out, _ = run(["demo", "--points", "7", "--json"], capsys)
    assert status == 0
    report = json.loads(out)
    net, x = demo_network(0), demo_grid(7)
    expected = plnet.margin(net, x, p=2)
    assert report["points"] == 49
    assert report["margins"]["2"]["P50"] == pytest.approx(float(np.median(expected)))
    lo, hi = plnet.count_linear_regions(net, x, on_tie="exclude")
    assert (report["clr"]["lower"], report["clr"]["upper"]) == (lo, hi)
    assert report["l1_bisection_max_gap"] <= 1e-7


def test_no_command_prints_usage_and_exits_2(capsys):
    status, _, err = run([], capsys)
    assert status == 2
    assert "usage: plnet" in err


def test_bad_p_is_a_usage_error(tmp_path, capsys):
    path = tmp_path / "net.npz"
    demo_network().save(path)
    status, _, err = run(["certify", str(path), "--input", "x.npy", "--p", "3"], capsys)
    assert status == 2
    assert "p must be 1, 2 or inf" in err


def test_inspect_saved_network(tmp_path, capsys):
    path = tmp_path / "net.npz"
    net = demo_network()
    net.save(path)
    status, out, _ = run(["inspect", str(path), "--json"], capsys)
    assert status == 0
    report = json.loads(out)
    assert report["N"] == net.num_units and report["D"] == net.input_size
    assert [row["op"] for row in report["nodes"]] == [net.op(n).type_name for n in net.order]


def test_certify_prints_margins_and_percentiles(tmp_path, capsys):
    path, xs = tmp_path / "net.npz", tmp_path / "x.npy"
    net = demo_network()
    net.save(path)
    x = demo_grid(4)
    np.save(xs, x)
    status, out, _ = run(["certify", str(path), "--input", str(xs), "--p", "inf", "--json",
                          "--batch-size", "5"], capsys)
    assert status == 0
    report = json.loads(out)
    np.testing.assert_allclose(report["margins"]["inf"], plnet.margin(net, x, p=np.inf))
    assert report["percentiles"]["inf"]["P100"] == pytest.approx(plnet.margin(net, x, p=np.inf).max())

    status, out, _ = run(["certify", str(path), "--input", str(xs)], capsys)
    assert status == 0 and "percentiles:" in out and "complete linear regions" in out
    assert len(out.splitlines()) == len(x) + 3  # header, one row per point, two summaries


def test_certify_rejects_points_of_the_wrong_shape(tmp_path, capsys):
    path, xs = tmp_path / "net.npz", tmp_path / "x.npy"
    demo_network().save(path)
    np.save(xs, np.zeros((3, 5)))
    status, _, err = run(["certify", str(path), "--input", str(xs)], capsys)
    assert status == 1
    assert "plnet: error:" in err and "(3, 5)" in err


def test_missing_and_unknown_model_files(tmp_path, capsys):
    status, _, err = run(["inspect", str(tmp_path / "nope.onnx")], capsys)
    assert status == 1 and "no such file" in err
    other = tmp_path / "model.pt"
    other.write_bytes(b"x")
    status, _, err = run(["inspect", str(other)], capsys)
    assert status == 1 and "unknown model format" in err


def test_convert_npz_to_onnx_and_back(tmp_path, capsys):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    src, out = tmp_path / "net.npz", tmp_path / "net.onnx"
    net = demo_network()
    net.save(src)
    status, _, _ = run(["convert", str(src), "-o", str(out)], capsys)
    assert status == 0 and out.exists()
    again = plnet.from_onnx(str(out))
    x = demo_grid(5)
    np.testing.assert_allclose(again(x), net(x), rtol=1e-4, atol=1e-5)


def test_inspect_corpus_model(corpus, capsys):
    pytest.importorskip("onnxruntime")
    status, out, _ = run(["inspect", str(corpus / "mnist2x10.onnx")], capsys)
    assert status == 0
    assert "D=784" in out and "N=20" in out


def test_drop_trailing_softmax_only_when_asked(tmp_path, capsys):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    model = plnet.to_onnx(demo_network())
    graph = model.graph
    logits = graph.output[0].name
    graph.node.append(onnx.helper.make_node("Softmax", [logits], ["probs"], axis=1))
    out = onnx.helper.make_tensor_value_info("probs", onnx.TensorProto.FLOAT, None)
    graph.output.pop()
    graph.output.append(out)
    path = tmp_path / "softmax.onnx"
    onnx.save(model, str(path))

    status, _, err = run(["inspect", str(path)], capsys)
    assert status == 1 and "Softmax" in err and "not piecewise linear" in err
    status, out, _ = run(["inspect", str(path), "--drop-trailing", "--json"], capsys)
    assert status == 0 and json.loads(out)["N"] == demo_network().num_units


@pytest.mark.slow
def test_demo_train_reports_roll_against_vanilla(capsys):
    pytest.importorskip("torch")
    status, out, _ = run(["demo", "--train", "--json"], capsys)
    assert status == 0
    report = json.loads(out)
    assert set(report) >= {"vanilla", "roll"}
    assert report["roll"]["l2"][1] > report["vanilla"]["l2"][1]


def test_certify_torch_backend_equals_the_reference(tmp_path, capsys):
    pytest.importorskip("torch")
    path, xs = tmp_path / "net.npz", tmp_path / "x.npy"
    net = demo_network()
    net.save(path)
    np.save(xs, demo_grid(6))
    reports = {}
    for backend in ("numpy", "torch"):
        status, out, _ = run(["certify", str(path), "--input", str(xs), "--p", "1", "--json",
                              "--backend", backend, "--batch-size", "7"], capsys)
        assert status == 0
        reports[backend] = json.loads(out)
    np.testing.assert_allclose(reports["torch"]["margins"]["1"],
                               reports["numpy"]["margins"]["1"], rtol=1e-9)
    assert reports["torch"]["clr"] == reports["numpy"]["clr"]
    lo, hi = plnet.count_linear_regions(net, demo_grid(6), on_tie="exclude")
    assert (reports["numpy"]["clr"]["lower"], reports["numpy"]["clr"]["upper"]) == (lo, hi)


def test_norms_are_named_alike_in_every_command(tmp_path, capsys):
    path, xs = tmp_path / "net.npz", tmp_path / "x.npy"
    demo_network().save(path)
    np.save(xs, demo_grid(3))
    _, out, _ = run(["demo", "--points", "3", "--json"], capsys)
    assert set(json.loads(out)["margins"]) == {"1", "2", "inf"}
    for p in ("1", "2", "inf"):
        _, out, _ = run(["certify", str(path), "--input", str(xs), "--p", p, "--json"], capsys)
        assert json.loads(out)["p"] == [p]


def test_the_cli_package_is_packaged_with_its_entry_point():
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    assert "plnet.cli" in project["tool"]["setuptools"]["packages"]
    assert project["project"]["scripts"]["plnet"] == "plnet.cli:main"
