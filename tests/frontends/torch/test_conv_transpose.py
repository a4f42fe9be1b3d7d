"""nn.ConvTranspose1d/2d and F.conv_transpose1d/2d: converted and compared with torch."""

from __future__ import annotations

import pytest

import plnet
from plnet.errors import UnsupportedOpError

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional


@pytest.mark.parametrize("stride,padding,output_padding,dilation,groups", [
    (1, 0, 0, 1, 1), (2, 1, 1, 1, 1), (3, 2, 2, 2, 2), (1, 1, 1, 2, 1), (2, 0, 0, 3, 2),
])
def test_conv_transpose1d_matches_torch(convert_and_compare, stride, padding, output_padding,
                                        dilation, groups):
    layer = nn.ConvTranspose1d(4, 6, 3, stride=stride, padding=padding, groups=groups,
                               output_padding=output_padding, dilation=dilation)
    net = convert_and_compare(nn.Sequential(layer, nn.ReLU()), (4, 7))
    assert net.op("0").type_name == "conv_transpose"


@pytest.mark.parametrize("stride,padding,output_padding,dilation,groups,kernel", [
    (1, 0, 0, 1, 1, 3), ((2, 1), (1, 0), (1, 0), 1, 1, (3, 2)),
    (2, 1, (0, 1), (1, 2), 3, (2, 3)), ((1, 3), (0, 2), (1, 2), (2, 1), 1, 2),
])
def test_conv_transpose2d_matches_torch(convert_and_compare, stride, padding, output_padding,
                                        dilation, groups, kernel):
    layer = nn.ConvTranspose2d(3, 6, kernel, stride=stride, padding=padding, groups=groups,
                               output_padding=output_padding, dilation=dilation,
                               bias=groups == 1)
    convert_and_compare(nn.Sequential(layer, nn.LeakyReLU(0.1)), (3, 4, 5))


def test_a_following_batch_norm_becomes_a_scale_shift(convert_and_compare):
    module = nn.Sequential(nn.ConvTranspose2d(2, 3, 2, stride=2), nn.BatchNorm2d(3))
    with torch.no_grad():
        module[1].running_mean.uniform_(-1, 1)
        module[1].running_var.uniform_(0.5, 2.0)
    net = convert_and_compare(module, (2, 3, 3))
    assert [net.op(n).type_name for n in net.order] == ["input", "conv_transpose",
                                                        "scale_shift"]


class _Functional(nn.Module):
    def __init__(self):
        super().__init__()
        self.w1 = nn.Parameter(torch.randn(4, 3, 2, 3))
        self.w2 = nn.Parameter(torch.randn(6, 2, 3))
        self.b2 = nn.Parameter(torch.randn(2))

    def forward(self, x):
        h = F.relu(F.conv_transpose2d(x, self.w1, None, (2, 1), (1, 0), (1, 0), 2, (1, 2)))
        h = h.flatten(2)
        return F.conv_transpose1d(h, self.w2, self.b2, stride=2, padding=1, output_padding=1)


def test_functional_transposed_convolutions_match_torch(convert_and_compare):
    net = convert_and_compare(_Functional(), (4, 3, 3))
    assert [net.op(n).type_name for n in net.order].count("conv_transpose") == 2


class _WithOutputSize(nn.Module):
    def __init__(self, size):
        super().__init__()
        self.up = nn.ConvTranspose2d(2, 2, 3, stride=3, padding=1)
        self.size = size

    def forward(self, x):
        return self.up(x, output_size=self.size)


@pytest.mark.parametrize("size", [[10, 11], [2, 2, 12, 10]])
def test_output_size_picks_the_output_padding_as_torch_does(convert_and_compare, size):
    net = convert_and_compare(_WithOutputSize(size), (2, 4, 4))
    assert net.output_shape == (2, *size[-2:])


def test_an_output_size_torch_cannot_reach_is_refused():
    with pytest.raises(UnsupportedOpError, match=r"output_size=\[13, 10\].*\[10, 12\]"):
        plnet.from_torch(_WithOutputSize([13, 10]), torch.randn(1, 2, 4, 4))


def test_non_zero_padding_modes_are_refused():
    layer = nn.ConvTranspose1d(1, 1, 2)
    layer.padding_mode = "reflect"  # torch's constructor refuses it; a loaded model may not
    with pytest.raises(UnsupportedOpError, match="padding_mode='reflect'"):
        plnet.from_torch(nn.Sequential(layer), torch.randn(1, 1, 4))


def test_three_d_transposed_convolution_is_refused_naming_what_is_supported():
    with pytest.raises(UnsupportedOpError, match="'ConvTranspose3d'.*ConvTranspose1d/2d"):
        plnet.from_torch(nn.Sequential(nn.ConvTranspose3d(1, 1, 2)), torch.randn(1, 1, 3, 3, 3))
