"""Each exporter, as a one-op network: to_onnx -> onnxruntime equals the numpy forward."""

from __future__ import annotations

import numpy as np
import pytest

import plnet

#: float32 weights and activations against the float64 forward
FLOAT32_RTOL = 1e-5


def _one_op(shape, build):
    b = plnet.NetworkBuilder(shape)
    return b.build(build(b, b.input, np.random.default_rng(0)))


CASES = {
    # linear
    "dense": ((5,), lambda b, x, r: b.dense(x, r.normal(size=(3, 5)))),
    "dense_bias": ((2, 5), lambda b, x, r: b.dense(x, r.normal(size=(3, 5)), r.normal(size=3))),
    # conv
    "conv2d": ((2, 6, 5), lambda b, x, r: b.conv(x, r.normal(size=(4, 2, 3, 2)))),
    "conv2d_all": ((4, 7, 7), lambda b, x, r: b.conv(
        x, r.normal(size=(6, 2, 3, 3)), r.normal(size=6), stride=(2, 1),
        padding=((1, 0), (2, 1)), dilation=(1, 2), groups=2)),
    "conv1d": ((3, 9), lambda b, x, r: b.conv(x, r.normal(size=(2, 3, 4)), r.normal(size=2),
                                               stride=2, padding=(2, 1), dilation=2)),
    "conv_transpose2d": ((4, 3, 4), lambda b, x, r: b.conv_transpose(
        x, r.normal(size=(4, 3, 3, 2)), r.normal(size=6), stride=(2, 1),
        padding=((1, 0), (2, 1)), output_padding=(1, 0), dilation=(1, 2), groups=2)),
    "conv_transpose1d": ((3, 5), lambda b, x, r: b.conv_transpose(x, r.normal(size=(3, 2, 3)))),
    # onnxruntime refuses output_padding >= stride: exported as a Pad and the bias
    "conv_transpose_wide_output_padding": ((2, 4), lambda b, x, r: b.conv_transpose(
        x, r.normal(size=(2, 3, 2)), r.normal(size=3), dilation=3, output_padding=2)),
    "conv_transpose_wide_output_padding_no_bias": ((1, 3, 3), lambda b, x, r: b.conv_transpose(
        x, r.normal(size=(1, 2, 2, 2)), None, stride=(1, 2), dilation=(2, 1),
        padding=((0, 0), (0, 1)), output_padding=(1, 1))),
    # pooling
    "max_pool": ((2, 6, 6), lambda b, x, r: b.max_pool(x, 2)),
    "max_pool_all": ((1, 7, 6), lambda b, x, r: b.max_pool(
        x, (3, 2), stride=(2, 1), padding=((1, 0), (0, 1)), ceil_mode=True)),
    "max_pool_dilated": ((1, 9), lambda b, x, r: b.max_pool(x, 2, stride=2, dilation=3,
                                                            padding=1)),
    "avg_pool": ((2, 6, 6), lambda b, x, r: b.avg_pool(x, 3, stride=2)),
    "avg_pool_uncounted": ((1, 7, 7), lambda b, x, r: b.avg_pool(
        x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    "avg_pool_counted": ((1, 6), lambda b, x, r: b.avg_pool(x, 3, padding=((3, 2),),
                                                            count_include_pad=True)),
    "avg_pool_dilated": ((1, 9), lambda b, x, r: b.avg_pool(x, 2, dilation=2, padding=1)),
    # arithmetic
    "scale": ((3, 4), lambda b, x, r: b.scale_shift(x, r.normal(size=(3, 1)))),
    "shift": ((3, 4), lambda b, x, r: b.scale_shift(x, None, r.normal(size=4))),
    "scale_shift": ((3,), lambda b, x, r: b.scale_shift(x, r.normal(size=3), r.normal(size=3))),
    "identity_scale_shift": ((3,), lambda b, x, r: b.scale_shift(x)),
    "add_two": ((4,), lambda b, x, r: b.add(x, b.relu(x))),
    "add_three": ((4,), lambda b, x, r: b.add(x, b.relu(x), b.leaky_relu(x, 0.5))),
    # activations
    "relu": ((2, 3), lambda b, x, r: b.relu(x)),
    "leaky_relu": ((5,), lambda b, x, r: b.leaky_relu(x, 0.25)),
    "prelu": ((5,), lambda b, x, r: b.prelu(x, -0.4)),
    "prelu_per_channel": ((3, 2, 4), lambda b, x, r: b.prelu(
        x, np.array([-0.5, 0.3, 2.0]).reshape(3, 1, 1))),
    "prelu_per_feature": ((3, 4), lambda b, x, r: b.prelu(x, r.normal(size=4))),
    # views
    "flatten": ((2, 3, 2), lambda b, x, r: b.flatten(x)),
    "reshape": ((2, 6), lambda b, x, r: b.reshape(x, (3, 2, 2))),
    "transpose": ((2, 3, 4), lambda b, x, r: b.transpose(x, (2, 0, 1))),
    "slice": ((4, 9), lambda b, x, r: b.slice(x, 1, 1, 8, 3)),
    "slice_negative_axis": ((4, 9), lambda b, x, r: b.slice(x, -2, 0, 3)),
    "take": ((3, 5), lambda b, x, r: b.take(x, 1, [4, 0, 0, 2])),
    "take_scalar": ((3, 5), lambda b, x, r: b.take(x, 0, [2], keepdim=False)),
    "concat": ((2, 3), lambda b, x, r: b.concat(x, b.relu(x), axis=1)),
    "concat_negative_axis": ((2, 3), lambda b, x, r: b.concat(x, x, x, axis=-2)),
    "pad": ((2, 3, 3), lambda b, x, r: b.pad(x, ((0, 0), (1, 2), (0, 1)))),
}


@pytest.mark.parametrize("case", list(CASES))
def test_exported_op_runs_in_onnxruntime_like_the_numpy_forward(ox, case):
    shape, build = CASES[case]
    net = _one_op(shape, build)
    x = ox.random_batch(np.random.default_rng(1), net, 3)
    got = np.asarray(ox.run_ort(plnet.to_onnx(net), {net.input_name: x}), np.float64)
    ox.assert_close(got, net(x), rtol=FLOAT32_RTOL)


def test_every_ir_op_type_is_covered_by_a_case():
    from plnet.ops import OP_REGISTRY

    covered = {_one_op(*CASES[c]).op(n).type_name for c in CASES
               for n in _one_op(*CASES[c]).order}
    assert covered == set(OP_REGISTRY)


def test_a_dilated_average_pool_needs_opset_19():
    net = _one_op(*CASES["avg_pool_dilated"])
    assert plnet.to_onnx(net).opset_import[0].version == 19
    with pytest.raises(plnet.UnsupportedOpError, match="avg_pool.*needs opset >= 19.*18"):
        plnet.to_onnx(net, opset=18)


def test_a_dilated_max_pool_padded_beyond_its_kernel_is_refused():
    net = _one_op((1, 9), lambda b, x, r: b.max_pool(x, 2, dilation=2, padding=2))
    with pytest.raises(plnet.UnsupportedOpError, match="no such pool"):
        plnet.to_onnx(net)
