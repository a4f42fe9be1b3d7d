"""Linear, convolution and batch norm: converted and compared with torch (float64)."""

from __future__ import annotations

import pytest

import plnet
from plnet.errors import UnsupportedOpError

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional
pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same.")


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5,), (3, 5)])
def test_linear_matches_torch(convert_and_compare, bias, shape):
    net = convert_and_compare(nn.Sequential(nn.Linear(5, 4, bias=bias), nn.ReLU()), shape)
    assert [net.op(n).type_name for n in net.order] == ["input", "dense", "relu"]
    assert sorted(net.params) == (["0.bias", "0.weight"] if bias else ["0.weight"])


@pytest.mark.parametrize("stride,padding,dilation,groups", [
    (1, 0, 1, 1), (2, 1, 1, 1), (1, 2, 2, 1), (3, 0, 1, 2), (1, "same", 1, 1),
    (1, "same", 2, 2), (1, "valid", 1, 1), (2, 3, 2, 1),
])
def test_conv1d_matches_torch(convert_and_compare, stride, padding, dilation, groups):
    conv = nn.Conv1d(4, 6, 4, stride=stride, padding=padding, dilation=dilation, groups=groups)
    net = convert_and_compare(nn.Sequential(conv, nn.ReLU()), (4, 13))
    assert net.op("0").type_name == "conv"


@pytest.mark.parametrize("stride,padding,dilation,groups,kernel", [
    (1, 0, 1, 1, 3), ((2, 1), (1, 0), 1, 1, (3, 2)), (1, "same", (2, 1), 1, (3, 4)),
    (2, 2, 2, 3, 3), (1, "valid", 1, 3, (1, 2)), (1, "same", 1, 1, 4),
])
def test_conv2d_matches_torch(convert_and_compare, stride, padding, dilation, groups, kernel):
    conv = nn.Conv2d(3, 6, kernel, stride=stride, padding=padding, dilation=dilation,
                     groups=groups, bias=groups == 1)
    convert_and_compare(nn.Sequential(conv, nn.LeakyReLU(0.1)), (3, 8, 9))


def test_same_padding_puts_the_extra_zero_at_the_end():
    net = plnet.from_torch(nn.Sequential(nn.Conv1d(1, 1, 4, padding="same")),
                           torch.randn(2, 1, 9))
    assert net.op("0").padding == ((1, 2),)


def test_functional_linear_and_conv_match_torch(convert_and_compare):
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(4, 2, 3))
            self.b = nn.Parameter(torch.randn(4))
            self.lin = nn.Parameter(torch.randn(3, 4 * 5))

        def forward(self, x):
            h = F.relu(F.conv1d(x, self.w, self.b, stride=1, padding=1))
            return F.linear(h.flatten(1), self.lin)

    convert_and_compare(Functional(), (2, 5))


@pytest.mark.parametrize("padding_mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("wrap", [True, False])
def test_non_zero_padding_modes_are_refused(padding_mode, wrap):
    conv = nn.Conv2d(1, 2, 3, padding=1, padding_mode=padding_mode)
    model = nn.Sequential(conv) if wrap else conv  # a bare root module is traced through
    with pytest.raises(UnsupportedOpError, match="padding_mode"):
        plnet.from_torch(model, torch.randn(2, 1, 5, 5))


def test_conv3d_is_unsupported_and_named():
    with pytest.raises(UnsupportedOpError, match="Conv3d"):
        plnet.from_torch(nn.Conv3d(1, 1, 2), torch.randn(2, 1, 3, 3, 3))


# --- batch norm --------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU()),
    lambda: nn.Sequential(nn.Conv1d(2, 3, 3, bias=False), nn.BatchNorm1d(3), nn.ReLU()),
    lambda: nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU()),
])
def test_batch_norm_after_a_layer_is_folded_into_it(convert_and_compare, randomize_batch_norm,
                                                    make):
    model = randomize_batch_norm(make())
    shape = {nn.Conv2d: (2, 5, 5), nn.Conv1d: (2, 6), nn.Linear: (4,)}[type(model[0])]
    net = convert_and_compare(model, shape)
    types = [net.op(n).type_name for n in net.order]
    assert types == ["input", types[1], "relu"] and types[1] in ("conv", "dense")
    assert all(name.endswith("bn_folded") for name in net.params)


@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_alone_becomes_a_scale_shift(convert_and_compare, randomize_batch_norm,
                                                affine):
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.bn = nn.BatchNorm2d(3, affine=affine, eps=0.1)

        def forward(self, x):
            return torch.relu(self.bn(x))

    net = convert_and_compare(randomize_batch_norm(Model()), (3, 4, 4))
    assert [net.op(n).type_name for n in net.order] == ["input", "scale_shift", "relu"]


def test_batch_norm_1d_on_sequences_scales_channels(convert_and_compare, randomize_batch_norm):
    model = randomize_batch_norm(nn.Sequential(nn.ReLU(), nn.BatchNorm1d(3), nn.ReLU()))
    convert_and_compare(model, (3, 7))


def test_batch_norm_used_twice_is_not_folded(convert_and_compare, randomize_batch_norm):
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 2, 3, padding=1)
            self.bn = nn.BatchNorm2d(2)

        def forward(self, x):
            h = self.conv(x)
            return torch.relu(self.bn(h)) + h

    net = convert_and_compare(randomize_batch_norm(Model()), (2, 4, 4))
    assert "conv.weight" in net.params


def test_train_mode_batch_norm_asks_for_eval():
    model = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3), nn.ReLU()).train()
    with pytest.raises(UnsupportedOpError, match=r"\.eval\(\)") as info:
        plnet.from_torch(model, torch.randn(4, 3))
    assert "BatchNorm1d" in str(info.value)


def test_batch_norm_without_running_stats_is_refused():
    model = nn.Sequential(nn.BatchNorm1d(3, track_running_stats=False)).eval()
    with pytest.raises(UnsupportedOpError, match="track_running_stats"):
        plnet.from_torch(model, torch.randn(4, 3))


def test_folded_batch_norm_keeps_the_module_unchanged(randomize_batch_norm):
    model = randomize_batch_norm(nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    plnet.from_torch(model, torch.randn(2, 1, 4, 4))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_module_on_any_device_converts(device):
    model = nn.Sequential(nn.Conv1d(2, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(9, 2))
    net = plnet.from_torch(model.to(device), torch.randn(2, 2, 5, device=device))
    assert next(model.parameters()).device.type == device
    assert net.input_shape == (2, 5) and net.output_shape == (2,)
