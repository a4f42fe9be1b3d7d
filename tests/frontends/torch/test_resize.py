"""F.interpolate and nn.Upsample: converted exactly and compared with torch (float64)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402


class Interpolate(nn.Module):
    def __init__(self, **kwargs):
        super().__init__()
        self.kwargs = kwargs

    def forward(self, x):
        return F.interpolate(x, **self.kwargs)


@pytest.mark.parametrize("kwargs", [
    dict(scale_factor=2, mode="nearest"), dict(size=(7, 3), mode="nearest"),
    dict(scale_factor=1.7, mode="nearest"), dict(size=(9, 11), mode="nearest-exact"),
    dict(scale_factor=2, mode="bilinear", align_corners=False),
    dict(scale_factor=2, mode="bilinear", align_corners=True),
    dict(size=(3, 7), mode="bilinear", align_corners=False),
    dict(size=(3, 7), mode="bilinear", align_corners=True),
    dict(scale_factor=0.6, mode="bilinear", recompute_scale_factor=True),
    dict(size=(8, 9), mode="bicubic", align_corners=False),
    dict(size=(4, 3), mode="area"),
], ids=lambda k: "-".join(f"{a}={b}" for a, b in k.items()))
def test_interpolate_2d_matches_torch(convert_exactly, kwargs):
    convert_exactly(Interpolate(**kwargs), (2, 5, 6))


@pytest.mark.parametrize("kwargs", [
    dict(scale_factor=3, mode="nearest"), dict(size=11, mode="linear", align_corners=True),
    dict(size=4, mode="linear", align_corners=False),
], ids=lambda k: "-".join(f"{a}={b}" for a, b in k.items()))
def test_interpolate_1d_matches_torch(convert_exactly, kwargs):
    convert_exactly(Interpolate(**kwargs), (2, 7))


def test_upsample_module_matches_torch(convert_exactly):
    convert_exactly(nn.Sequential(nn.Conv2d(2, 3, 3), nn.Upsample(scale_factor=2,
                                                                  mode="bilinear")), (2, 6, 6))
