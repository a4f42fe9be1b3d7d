"""Pictures of slices and the exact sections of certified balls by the slice's plane."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from plnet.errors import InvalidInputError, MissingDependencyError
from plnet.regions import slice1d, slice2d
from plnet.regions.sections import ellipse, l1_polygon, linf_polygon
from tests.regions.slice_checks import locate
from tests.regions.test_slices import _mlp

AXES = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def test_sections_along_coordinate_axes_are_a_diamond_a_circle_and_a_square():
    diamond = l1_polygon(AXES, 0.5)
    assert {tuple(np.round(p, 12)) for p in diamond} == {(0.5, 0), (0, 0.5), (-0.5, 0), (0, -0.5)}
    square = linf_polygon(AXES, 0.5)
    assert {tuple(np.round(p, 12)) for p in square} == {(0.5, 0.5), (-0.5, 0.5), (-0.5, -0.5),
                                                         (0.5, -0.5)}
    width, height, _ = ellipse(AXES, 0.5)
    assert width == pytest.approx(1.0) and height == pytest.approx(1.0)


@pytest.mark.parametrize("p, shape, norm", [(1, l1_polygon, 1), (np.inf, linf_polygon, np.inf)])
def test_l1_and_linf_sections_of_an_oblique_plane_are_exact(p, shape, norm):
    rng = np.random.default_rng(0)
    dirs = rng.standard_normal((2, 7))
    poly = shape(dirs, 0.3)
    m = dirs.T
    # vertices on the sphere, and a point is inside the polygon iff inside the ball
    np.testing.assert_allclose(np.linalg.norm(poly @ m.T, ord=norm, axis=1), 0.3, rtol=1e-9)
    probe = rng.uniform(-1, 1, size=(2000, 2)) * np.abs(poly).max()
    inside_ball = np.linalg.norm(probe @ m.T, ord=norm, axis=1) < 0.3 * (1 - 1e-9)
    outside_ball = np.linalg.norm(probe @ m.T, ord=norm, axis=1) > 0.3 * (1 + 1e-9)
    nxt = np.roll(poly, -1, axis=0)
    cross = ((nxt[:, 0] - poly[:, 0])[None] * (probe[:, None, 1] - poly[None, :, 1])
             - (nxt[:, 1] - poly[:, 1])[None] * (probe[:, None, 0] - poly[None, :, 0]))
    inside_poly = (cross > 0).all(axis=1)
    assert (inside_poly[inside_ball]).all() and not inside_poly[outside_ball].any()


def test_l2_section_of_an_oblique_plane_is_the_ellipse_of_the_gram_matrix():
    dirs = np.array([[2.0, 0.0, 0.0], [0.0, 0.5, 0.0]])
    width, height, _ = ellipse(dirs, 1.0)
    assert sorted([width, height]) == pytest.approx([1.0, 4.0])


def test_certified_balls_in_the_picture_lie_inside_their_region():
    net = _mlp([8, 8], 0, d_in=4)
    rng = np.random.default_rng(1)
    s = slice2d(net, rng.standard_normal(4), rng.standard_normal(4), rng.standard_normal(4))
    import plnet
    for center in s.centers()[:10]:
        home = locate(s, center[None])[0]
        for p, shape in ((1, l1_polygon), (np.inf, linf_polygon)):
            eps = plnet.margin(net, s.to_input(center[None]), p=p)[0]
            ball = center + shape(s.directions, eps * (1 - 1e-7))
            assert (locate(s, ball) == home).all()


def test_plot_writes_a_picture_without_pyplot(tmp_path):
    pytest.importorskip("matplotlib")
    net = _mlp([6, 6], 0)
    s = slice2d(net, np.zeros(2), [1, 0], [0, 1])
    ax = s.plot(points=[[0.1, 0.2]], path=tmp_path / "s.png")
    assert (tmp_path / "s.png").stat().st_size > 1000
    assert len(ax.patches) == 3  # the l1, l2 and l_inf balls
    slice1d(net, np.zeros(2), [1, 0]).plot(path=tmp_path / "line.png")
    assert (tmp_path / "line.png").stat().st_size > 1000


def test_plotting_never_imports_pyplot(tmp_path):
    pytest.importorskip("matplotlib")
    code = ("import sys, numpy as np; from plnet.regions import slice2d; from plnet.builder "
            "import NetworkBuilder; b = NetworkBuilder((2,)); net = b.build(b.relu(b.input)); "
            f"slice2d(net, np.zeros(2), [1, 0], [0, 1]).plot(path={str(tmp_path / 'a.png')!r}); "
            "assert 'matplotlib.pyplot' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_plot_refuses_what_it_cannot_draw():
    pytest.importorskip("matplotlib")
    net = _mlp([3], 0)
    with pytest.raises(InvalidInputError, match="balls are drawn on 2-d slices"):
        slice1d(net, np.zeros(2), [1, 0]).plot(points=[[0.0]])
    with pytest.raises(InvalidInputError, match="unknown balls"):
        slice2d(net, np.zeros(2), [1, 0], [0, 1]).plot(points=[[0, 0]], balls=("l3",))


def test_plot_without_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    s = slice2d(_mlp([3], 0), np.zeros(2), [1, 0], [0, 1])
    with pytest.raises(MissingDependencyError, match=r'pip install "plnet\[plot\]"'):
        s.plot()
