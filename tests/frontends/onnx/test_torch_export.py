"""Torch modules exported with torch.onnx.export (both exporters) load and match torch."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest

import plnet

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
nn = torch.nn


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(2, 4, 3, padding=1)
        self.c2 = nn.Conv2d(4, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 3 * 3, 3)

    def forward(self, x):
        h = torch.relu(self.c1(x))
        h = h + torch.relu(self.bn(self.c2(h)))
        h = nn.functional.avg_pool2d(h, 2)
        return self.fc(h.flatten(1))


class Recurrent(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(3, 5, nonlinearity="relu", batch_first=True)
        self.fc = nn.Linear(5, 2)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.fc(y[:, -1])


class Mixed(nn.Module):
    """The ops of exported CNNs beyond conv and pooling: bilinear upsampling (Resize),
    chunk (Split or Slice), an elementwise maximum (Max) and a global mean (ReduceMean)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.fc = nn.Linear(2, 3)

    def forward(self, x):
        h = torch.relu(self.conv(x))
        h = nn.functional.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False)
        a, b = torch.chunk(h, 2, dim=1)
        return self.fc(torch.maximum(a, b).mean((2, 3)))


def _module(kind):
    torch.manual_seed(0)
    if kind == "mlp":
        return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 6), nn.LeakyReLU(0.1),
                             nn.Linear(6, 3)), (4,)
    if kind == "cnn":
        return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(3, 4, 3), nn.LeakyReLU(0.2),
                             nn.AvgPool2d(2, ceil_mode=True), nn.Flatten(),
                             nn.Linear(16, 2)), (1, 10, 10)
    if kind == "residual":
        module = Residual()
        with torch.no_grad():  # non-trivial running statistics for the folded batch norm
            module.bn.running_mean.uniform_(-1, 1)
            module.bn.running_var.uniform_(0.5, 2)
        return module, (2, 6, 6)
    return Recurrent(), (4, 3)


def _export(module, shape, dynamo, opset=None):
    module.eval()
    x = torch.randn(2, *shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            program = torch.onnx.export(module, (x,), dynamo=True, verbose=False,
                                        dynamic_shapes=({0: torch.export.Dim("batch")},))
            return program.model_proto.SerializeToString()
        buffer = io.BytesIO()
        torch.onnx.export(module, (x,), buffer, dynamo=False, input_names=["x"],
                          dynamic_axes={"x": {0: "N"}}, opset_version=opset)
        return buffer.getvalue()


def _assert_matches_torch(module, shape, data):
    net = plnet.from_onnx(data)
    assert net.input_shape == shape
    x = torch.randn(5, *shape, dtype=torch.float64)
    with torch.no_grad():
        expected = module.double()(x).numpy()
    module.float()
    assert np.allclose(net(x.numpy()), expected, rtol=1e-4, atol=1e-5)
    return net


@pytest.mark.parametrize("kind", ["mlp", "cnn", "residual", "rnn"])
def test_legacy_exporter(kind):
    module, shape = _module(kind)
    _assert_matches_torch(module, shape, _export(module, shape, dynamo=False))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["mlp", "cnn", "residual", "rnn"])
def test_dynamo_exporter(kind):
    pytest.importorskip("onnxscript")
    module, shape = _module(kind)
    _assert_matches_torch(module, shape, _export(module, shape, dynamo=True))


def test_exported_unit_counts_match_the_torch_architecture():
    module, shape = _module("cnn")
    net = plnet.from_onnx(_export(module, shape, dynamo=False))
    # ReLU on 3x10x10, max-pool 3x5x5 windows of 4 (3 rows each), LeakyReLU on 4x3x3
    assert net.num_units == 300 + 75 * 3 + 36


@pytest.mark.parametrize("dynamo,opset", [(False, 11), (False, None),
                                          pytest.param(True, None, marks=pytest.mark.slow)])
def test_a_cnn_with_upsampling_chunk_maximum_and_mean_matches_torch_in_float32(dynamo, opset):
    if dynamo:
        pytest.importorskip("onnxscript")
    torch.manual_seed(0)
    module = Mixed().eval()
    data = _export(module, (2, 5, 6), dynamo, opset)
    ops = {node.op_type for node in onnx.load_from_string(data).graph.node}
    assert {"Resize", "Max", "ReduceMean"} <= ops
    net = plnet.from_onnx(data)
    x = torch.randn(4, 2, 5, 6)
    with torch.no_grad():
        expected = module(x).numpy()
    np.testing.assert_allclose(net(x.numpy().astype(np.float64)), expected, rtol=0, atol=1e-5)
