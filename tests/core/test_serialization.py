"""Networks survive save/load; corrupt files raise SerializationError naming the file."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings

import plnet
from plnet.errors import SerializationError
from plnet.testing import strategies as pst


@settings(max_examples=40)
@given(pst.network_and_points(batch_size=2))
def test_save_and_load_round_trip_random_networks(net_x):
    net, x = net_x
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "net.npz"
        net.save(path)
        loaded = plnet.load(path)
    assert loaded.to_dict() == net.to_dict()
    assert loaded.order == net.order and loaded.shapes == net.shapes
    assert loaded.params.keys() == net.params.keys()
    for name, value in net.params.items():
        np.testing.assert_array_equal(loaded.params[name], value)
    np.testing.assert_array_equal(loaded(x), net(x))
    assert loaded.num_units == net.num_units
    for node in net.graph:
        assert loaded.op(node) == net.op(node)


def test_tied_parameters_stay_tied_after_loading(tmp_path):
    b = plnet.NetworkBuilder((3, 2))
    rng = np.random.default_rng(0)
    out = b.rnn(b.input, rng.normal(size=(4, 2)), rng.normal(size=(4, 4)), np.zeros(4),
                np.zeros(4), name="rnn")
    net = b.build(out)
    net.save(tmp_path / "rnn.npz")
    loaded = plnet.load(tmp_path / "rnn.npz")
    dense_weights = {loaded.op(n).weight for n in loaded.graph
                     if loaded.op(n).type_name == "dense"}
    assert dense_weights == {"rnn.weight_ih", "rnn.weight_hh"}
    assert len(loaded.params) == 4


def _write_npz(path, **arrays):
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def _graph(net, **changes):
    desc = net.to_dict()
    desc.update(changes)
    return np.array(json.dumps(desc))


@pytest.fixture
def saved(tmp_path):
    b = plnet.NetworkBuilder((2,))
    net = b.build(b.relu(b.dense(b.input, np.eye(2), np.ones(2))))
    net.save(tmp_path / "ok.npz")
    return net, tmp_path


def test_a_missing_file_is_reported(tmp_path):
    with pytest.raises(SerializationError, match="nope.npz: no such file"):
        plnet.load(tmp_path / "nope.npz")


def test_garbage_and_truncated_files_are_refused(saved):
    net, tmp = saved
    (tmp / "garbage.npz").write_bytes(b"\x00not a network at all" * 10)
    with pytest.raises(SerializationError, match="garbage.npz: cannot read a plnet network"):
        plnet.load(tmp / "garbage.npz")
    data = (tmp / "ok.npz").read_bytes()
    (tmp / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(SerializationError, match="cut.npz"):
        plnet.load(tmp / "cut.npz")


def test_files_that_are_not_plnet_networks_are_refused(saved):
    net, tmp = saved
    _write_npz(tmp / "other.npz", weights=np.ones(3))
    with pytest.raises(SerializationError, match="other.npz"):
        plnet.load(tmp / "other.npz")
    _write_npz(tmp / "format.npz", __graph__=_graph(net, format="something.else"))
    with pytest.raises(SerializationError, match="format.npz: not a plnet network file"):
        plnet.load(tmp / "format.npz")
    _write_npz(tmp / "version.npz", __graph__=_graph(net, version=99))
    with pytest.raises(SerializationError, match="version.npz: format version 99"):
        plnet.load(tmp / "version.npz")
    _write_npz(tmp / "json.npz", __graph__=np.array("{not json"))
    with pytest.raises(SerializationError, match="json.npz: cannot read a plnet network"):
        plnet.load(tmp / "json.npz")


def test_unknown_ops_and_missing_parameters_are_refused(saved):
    net, tmp = saved
    desc = net.to_dict()
    desc["nodes"][1]["op"] = {"type": "sigmoid"}
    arrays = {f"p{i}": net.params[name] for i, name in enumerate(desc["params"])}
    _write_npz(tmp / "op.npz", __graph__=np.array(json.dumps(desc)), **arrays)
    with pytest.raises(SerializationError, match="unknown op type 'sigmoid'"):
        plnet.load(tmp / "op.npz")
    _write_npz(tmp / "params.npz", __graph__=_graph(net))  # the arrays are missing
    with pytest.raises(SerializationError, match="params.npz"):
        plnet.load(tmp / "params.npz")


def test_save_writes_no_pickles(saved):
    _, tmp = saved
    with np.load(tmp / "ok.npz", allow_pickle=False) as data:
        assert "__graph__" in data.files
        json.loads(str(data["__graph__"]))
    assert isinstance(io.BytesIO((tmp / "ok.npz").read_bytes()).read(2), bytes)


def test_metadata_survives_save_and_load(tmp_path):
    b = plnet.NetworkBuilder((2,))
    net = b.build(b.relu(b.input))
    net.graph.graph.update({"source": "model.onnx", "dropped": ["Softmax"], "opaque": object()})
    net.save(tmp_path / "net.npz")
    meta = plnet.load(tmp_path / "net.npz").graph.graph
    assert meta["source"] == "model.onnx" and meta["dropped"] == ["Softmax"]
    assert "opaque" not in meta  # not JSON: left out rather than pickled
