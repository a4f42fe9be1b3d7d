"""`certify --input` reads .npy, .npz and .csv points; `convert -o` checks where it writes."""

from __future__ import annotations

import json

import numpy as np
import pytest

import plnet


def margins_of(cli, *argv):
    status, out, err = cli(*argv, "--json")
    assert status == 0, err
    return np.asarray(json.loads(out)["margins"]["2"])


def test_npz_with_one_array_is_read(cli, saved_net, points, tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, points[1])
    np.testing.assert_array_equal(margins_of(cli, "certify", saved_net, "--input", path),
                                  margins_of(cli, "certify", saved_net, "--input", points[0]))


def test_npz_with_several_arrays_needs_a_key(cli, saved_net, points, tmp_path):
    path = tmp_path / "two.npz"
    np.savez(path, train=points[1], test=points[1][:3])
    status, _, err = cli("certify", saved_net, "--input", path)
    assert status == 1
    assert "2 arrays (train, test)" in err and "--input-key NAME" in err
    assert margins_of(cli, "certify", saved_net, "--input", path, "--input-key", "test").shape \
        == (3,)
    status, _, err = cli("certify", saved_net, "--input", path, "--input-key", "val")
    assert status == 1 and "--input-key val" in err and "train, test" in err


def test_input_key_on_a_npy_file_is_an_error(cli, saved_net, points):
    status, _, err = cli("certify", saved_net, "--input", points[0], "--input-key", "x")
    assert status == 1 and "only a .npz input holds named arrays" in err


def test_csv_rows_are_points_reshaped_to_the_input(cli, tmp_path):
    net = plnet.NetworkBuilder((1, 2))
    saved = tmp_path / "net.npz"
    net.build(net.flatten(net.input)).save(saved)
    x = np.random.default_rng(0).normal(size=(5, 2))
    csv = tmp_path / "x.csv"
    np.savetxt(csv, x, delimiter=",")
    status, out, err = cli("certify", saved, "--input", csv, "--json")
    assert status == 0, err
    assert json.loads(out)["points"] == 5


def test_csv_matches_the_same_points_as_npy(cli, saved_net, points, tmp_path):
    csv = tmp_path / "x.csv"
    np.savetxt(csv, points[1], delimiter=",", fmt="%.17g")
    np.testing.assert_array_equal(margins_of(cli, "certify", saved_net, "--input", csv),
                                  margins_of(cli, "certify", saved_net, "--input", points[0]))


@pytest.mark.parametrize("text, line, cell", [
    ("x,y\n0.1,0.2\n", 1, "'x'"),
    ("0.1,0.2\n0.3,abc\n", 2, "'abc'"),
    ("0.1,0.2\n\n0.3,\n", 3, "''"),
])
def test_csv_with_a_non_numeric_cell_names_its_line(cli, saved_net, tmp_path, text, line, cell):
    csv = tmp_path / "bad.csv"
    csv.write_text(text)
    status, _, err = cli("certify", saved_net, "--input", csv)
    assert status == 1
    assert f"--input {csv}, line {line}: {cell} is not a number" in err


def test_csv_row_of_the_wrong_length_names_its_line(cli, saved_net, tmp_path):
    csv = tmp_path / "bad.csv"
    csv.write_text("0.1,0.2\n0.1,0.2,0.3\n")
    status, _, err = cli("certify", saved_net, "--input", csv)
    assert status == 1 and "line 2: 3 values, but the model's input has 2" in err


def test_unknown_input_suffix_lists_the_accepted_ones(cli, saved_net, tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("0.1 0.2\n")
    status, _, err = cli("certify", saved_net, "--input", path)
    assert status == 1
    assert "unknown format '.txt'" in err
    assert all(s in err for s in (".npy", ".npz", ".csv"))


def test_missing_input_file_is_named(cli, saved_net, tmp_path):
    status, _, err = cli("certify", saved_net, "--input", tmp_path / "nope.npy")
    assert status == 1 and "nope.npy: no such file" in err


def test_pickled_npy_is_refused_with_advice(cli, saved_net, tmp_path):
    path = tmp_path / "obj.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    status, _, err = cli("certify", saved_net, "--input", path)
    assert status == 1 and "pickled" in err and "numpy.save" in err


def test_convert_into_a_missing_folder_names_the_folder(cli, saved_net, tmp_path):
    out = tmp_path / "nonexistent" / "dir" / "out.onnx"
    status, _, err = cli("convert", saved_net, "-o", out)
    assert status == 1
    assert f"the folder {out.parent} does not exist" in err and "mkdir -p" in err


def test_convert_to_an_unknown_suffix_is_refused_before_loading(cli, tmp_path):
    status, _, err = cli("convert", tmp_path / "missing.onnx", "-o", tmp_path / "out.pt")
    assert status == 1 and "ending in .onnx or .npz" in err


def test_convert_to_npz_writes_a_loadable_network(cli, saved_net, tmp_path):
    out = tmp_path / "copy.npz"
    status, _, err = cli("convert", saved_net, "-o", out)
    assert status == 0 and f"wrote {out}" in err
    assert plnet.load(out).num_units == plnet.load(saved_net).num_units
