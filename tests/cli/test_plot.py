"""``plnet plot`` and ``plnet demo --plot``: the pictures, the JSON, and errors naming flags."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from plnet.demo import demo_network
from plnet.regions import slice2d
from tests.cli.test_json_schema import check_against_doc, documented_schemas


@pytest.fixture
def origin(tmp_path):
    path = tmp_path / "x0.npy"
    np.save(path, np.array([0.1, -0.2]))
    return path


def test_plot_json_gives_the_library_slice_along_the_first_two_axes(cli, saved_net, origin,
                                                                   tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "regions.png"
    status, stdout, err = cli("plot", saved_net, "--origin", origin, "--bounds", "-0.5", "0.5",
                              "-0.25", "0.75", "-o", out, "--json")
    assert status == 0, err
    report = json.loads(stdout)
    s = slice2d(demo_network(), [0.1, -0.2], [1, 0], [0, 1], bounds=(-0.5, 0.5, -0.25, 0.75))
    assert report["count"] == s.count and report["linear_count"] == s.linear_count
    np.testing.assert_allclose(report["areas"], s.areas)
    assert sum(report["areas"]) == pytest.approx(1.0)
    assert report["pattern_ids"] == s.pattern_ids.tolist()
    assert out.stat().st_size > 1000 and f"wrote {out}" in err
    check_against_doc(report, "plnet plot --json")


def test_plot_takes_the_plane_from_u_and_v(cli, saved_net, origin, tmp_path):
    u, v = tmp_path / "u.npy", tmp_path / "v.npy"
    np.save(u, np.array([1.0, 1.0]))
    np.save(v, np.array([0.0, 2.0]))
    status, stdout, _ = cli("plot", saved_net, "--origin", origin, "--u", u, "--v", v, "--json")
    assert status == 0
    s = slice2d(demo_network(), [0.1, -0.2], [1, 1], [0, 2])
    assert json.loads(stdout)["count"] == s.count


def test_plot_text_names_both_counts(cli, saved_net, origin):
    status, stdout, _ = cli("plot", saved_net, "--origin", origin, "--bounds", "0", "0.1", "0",
                            "0.1", "--json")
    assert status == 0
    count = json.loads(stdout)["count"]
    status, stdout, _ = cli("plot", saved_net, "--origin", origin, "--bounds", "0", "0.1", "0",
                            "0.1", "-o", origin.with_name("a.svg"))
    assert status == 0 and stdout.startswith(f"{count} linear regions by activation pattern")


@pytest.mark.parametrize("extra, words", [
    (["-o", "out.txt"], "-o out.txt: choose a picture ending in .png"),
    (["-o", "missing/out.png"], "the folder missing does not exist"),
    (["--json", "--bounds", "1", "0", "0", "1"], "--bounds 1 0 0 1: give finite"),
    (["--json", "--u", "U"], "give both --u and --v"),
    ([], "give -o OUT.png for the picture, --json"),
])
def test_plot_errors_name_the_flag(cli, saved_net, origin, extra, words, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    status, stdout, err = cli("plot", saved_net, "--origin", origin, *extra)
    assert status == 1 and stdout == ""
    assert words in err


def test_plot_origin_of_the_wrong_shape_names_origin(cli, saved_net, tmp_path):
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((2, 2)))
    status, _, err = cli("plot", saved_net, "--origin", bad, "--json")
    assert status == 1 and f"--origin {bad}: holds an array of shape (2, 2)" in err


def test_plot_without_matplotlib_names_the_extra(cli, saved_net, origin, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    status, _, err = cli("plot", saved_net, "--origin", origin, "-o", tmp_path / "a.png")
    assert status == 1 and 'pip install "plnet[plot]"' in err


def test_demo_plot_writes_the_picture_and_says_so(cli, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    status, stdout, err = cli("demo", "--points", "3")
    assert status == 0 and list(tmp_path.iterdir()) == []  # nothing written unasked
    assert "plnet demo --plot demo.png" in stdout
    status, _, err = cli("demo", "--points", "3", "--plot", "demo.png")
    assert status == 0 and "wrote demo.png" in err
    assert 1000 < (tmp_path / "demo.png").stat().st_size < 150_000


def test_demo_plot_with_train_is_refused(cli, tmp_path):
    status, _, err = cli("demo", "--train", "--plot", tmp_path / "a.png")
    assert status == 1 and "leave out --train" in err


def test_plot_json_is_documented():
    assert "plnet plot --json" in documented_schemas()
