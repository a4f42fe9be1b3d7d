"""Helpers for the ONNX frontend tests: one-node models, onnxruntime runs, random networks."""

from __future__ import annotations

import types

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

#: float32 onnxruntime vs the float64 IR, relative to max(1, |y|).
ORT_RTOL = 1e-5


def make_model(nodes, inputs, output, initializers=None, opset=17, output_shape=None,
               extra_outputs=()):
    """A model from nodes; ``inputs`` is ``[(name, shape)]`` (None entries are symbolic)."""
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in (initializers or {}).items()]
    graph = helper.make_graph(
        nodes, "test",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT,
                                       [("N" if d is None else d) for d in s]) for n, s in inputs],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, output_shape)]
        + [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in extra_outputs],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = helper.find_min_ir_version_for([helper.make_opsetid("", opset)])
    return model


def one_node(op_type, in_shape, attrs=None, consts=None, opset=17, **kw):
    """A model of one node ``op_type(x, *consts)`` with input ``x`` of ONNX shape ``in_shape``."""
    consts = consts or {}
    inputs = ["x"] + list(consts)
    node = helper.make_node(op_type, inputs, ["y"], name=f"the_{op_type.lower()}",
                            **(attrs or {}))
    return make_model([node], [("x", in_shape)], "y", consts, opset=opset, **kw)


def run_ort(model, feeds, output=None):
    """onnxruntime's value of ``output`` (default: the first graph output)."""
    if output is not None and output not in [o.name for o in model.graph.output]:
        model = _with_output(model, output)
    # onnxruntime's Pad_Fusion wrongly folds a zero Pad into a following MaxPool
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"],
                                disabled_optimizers=["Pad_Fusion"])
    feeds = {k: np.asarray(v, np.float32) for k, v in feeds.items()}
    return sess.run(None if output is None else [output], feeds)[0]


def _with_output(model, name):
    """A copy of ``model`` that also outputs the intermediate value ``name``."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    copy.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    return copy


def random_batch(rng, net, batch=3):
    """float32-representable points, so both sides see the same input."""
    return rng.standard_normal((batch,) + net.input_shape).astype(np.float32).astype(np.float64)


def random_network(rng, kind: str):
    """Small hand-built networks covering every IR op."""
    from plnet import NetworkBuilder

    if kind == "mlp":
        b = NetworkBuilder((5,))
        h = b.relu(b.dense(b.input, rng.normal(size=(7, 5)), rng.normal(size=7)))
        h = b.leaky_relu(b.dense(h, rng.normal(size=(6, 7)), rng.normal(size=6)), 0.2)
        return b.build(b.dense(h, rng.normal(size=(3, 6)), rng.normal(size=3)))
    if kind == "cnn":
        b = NetworkBuilder((2, 7, 7))
        h = b.conv(b.input, rng.normal(size=(4, 2, 3, 3)), rng.normal(size=4), stride=2,
                   padding=((1, 0), (0, 1)))
        h = b.relu(h)
        h = b.max_pool(h, 2, stride=1, padding=((1, 0), (0, 1)), ceil_mode=True)
        h = b.avg_pool(h, 2, stride=2, ceil_mode=True, count_include_pad=False)
        h = b.scale_shift(h, rng.normal(size=(4, 1, 1)), rng.normal(size=(4, 1, 1)))
        h = b.pad(h, ((0, 0), (1, 1), (0, 2)))
        f = b.flatten(b.transpose(h, (1, 2, 0)))
        s = b.slice(f, 0, 1, 30, 2)
        k = b.take(f, 0, [0, 3, 5, 1, 2, 7, 8, 9, 10, 11, 12, 13, 14, 4, 6])
        r = b.reshape(b.add(s, k), (3, 5))
        c = b.concat(r, b.relu(r), axis=0)
        h = b.leaky_relu(b.dense(c, rng.normal(size=(4, 5)), rng.normal(size=4)), 0.1)
        return b.build(b.dense(b.flatten(h), rng.normal(size=(3, 24))))
    if kind == "conv1d":
        b = NetworkBuilder((3, 11))
        h = b.relu(b.conv(b.input, rng.normal(size=(6, 1, 3)), rng.normal(size=6), padding=2,
                          dilation=2, groups=3))
        h = b.max_pool(h, 3, stride=2, padding=1)
        h = b.avg_pool(h, 2, stride=1, padding=1, count_include_pad=True)
        return b.build(b.dense(b.flatten(h), rng.normal(size=(2, 6 * 7))))
    if kind == "rnn":
        b = NetworkBuilder((4, 3))
        h = b.rnn(b.input, rng.normal(size=(5, 3)), rng.normal(size=(5, 5)) * 0.5,
                  rng.normal(size=5), rng.normal(size=5))
        return b.build(b.dense(b.flatten(h), rng.normal(size=(2, 20))))
    raise ValueError(kind)


def ort_outputs(model, net, x):
    """onnxruntime on the batch ``x`` (network layout), batch moved first, like ``net(x)``.

    Files with a fixed batch, or loaded with ``batch_dim=None``, run one sample at a time.
    """
    spec = net.graph.graph
    axis = spec["output_batch_axis"]
    names = [name for name, _, _ in spec["onnx_inputs"]]
    offsets = [(off, shape) for _, off, shape in spec["onnx_inputs"]]
    flat = x.reshape(len(x), -1)

    def feeds(rows):
        out = {}
        for name, (off, shape) in zip(names, offsets):
            size = int(np.prod(shape))
            part = rows[:, off:off + size].reshape((len(rows),) + tuple(shape))
            out[name] = part[0] if spec["batch_dim"] is None else part
        return out

    dims = model.graph.input[0].type.tensor_type.shape.dim
    fixed = spec["batch_dim"] is None or dims[0].HasField("dim_value")
    chunks = [flat[i:i + 1] for i in range(len(flat))] if fixed else [flat]
    outs = []
    for rows in chunks:
        y = np.asarray(run_ort(model, feeds(rows), spec["onnx_output"]), np.float64)
        outs.append(y[None] if axis is None else np.moveaxis(y, axis, 0))
    return np.concatenate(outs)


def assert_close(got, expected, rtol=ORT_RTOL):
    assert got.shape == expected.shape, (got.shape, expected.shape)
    scale = max(1.0, float(np.abs(expected).max()))
    err = float(np.abs(got - expected).max())
    assert err <= rtol * scale, f"max error {err} > {rtol * scale}"


def convert_and_compare(model, batch=3, seed=0, **kwargs):
    """``from_onnx`` (with its own check), then an independent comparison with onnxruntime.

    Returns the network.
    """
    import plnet

    net = plnet.from_onnx(model, **kwargs)
    x = random_batch(np.random.default_rng(seed), net, batch)
    assert_close(net(x), ort_outputs(model, net, x))
    return net


@pytest.fixture(scope="session")
def ox():
    """This folder's helpers (test files cannot import each other): ``ox.one_node(...)``."""
    return types.SimpleNamespace(
        make_model=make_model, one_node=one_node, run_ort=run_ort, ort_outputs=ort_outputs,
        assert_close=assert_close, convert_and_compare=convert_and_compare,
        random_batch=random_batch, random_network=random_network)
