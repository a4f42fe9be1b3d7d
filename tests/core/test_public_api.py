"""The curated public API, lazy optional imports, and the installed package layout."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import plnet

REPO = Path(__file__).resolve().parents[2]

PUBLIC = [
    "ActivationPattern", "Bracket", "ConversionMismatch", "GraphError", "InvalidInputError",
    "Linearization", "MissingDependencyError", "Network", "NetworkBuilder",
    "NotPiecewiseLinearError", "PlnetError", "Polyhedron", "RegionCount", "SerializationError",
    "ShapeError", "TieError", "UnsupportedOpError", "__version__", "activation_pattern",
    "count_linear_regions", "directional_margin", "from_onnx", "from_torch",
    "l1_margin_bisection", "linearize", "load", "margin", "region", "to_onnx", "to_torch",
]


def test_all_is_exactly_the_curated_list_and_every_name_exists():
    assert sorted(plnet.__all__) == sorted(PUBLIC)
    assert len(set(plnet.__all__)) == len(plnet.__all__)
    for name in plnet.__all__:
        assert hasattr(plnet, name), name


def test_public_callables_have_docstrings():
    for name in plnet.__all__:
        obj = getattr(plnet, name)
        if callable(obj):
            assert obj.__doc__ and obj.__doc__.strip(), f"plnet.{name} has no docstring"
    from plnet import exact, regions
    from plnet.testing import sampling, strategies

    for module in (exact, regions, strategies, sampling):
        for name in getattr(module, "__all__", []):
            assert getattr(module, name).__doc__, f"{module.__name__}.{name}"


def test_import_plnet_loads_no_heavy_optional_dependency():
    code = ("import sys, json, plnet, numpy as np\n"
            "b = plnet.NetworkBuilder((2,))\n"
            "net = b.build(b.relu(b.input))\n"
            "plnet.margin(net, np.ones((1, 2)))\n"
            "heavy = ['torch', 'onnx', 'onnxruntime', 'cvxpy', 'hypothesis']\n"
            "print(json.dumps([m for m in heavy if m in sys.modules]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_lazy_submodules_load_on_attribute_access():
    code = ("import sys, plnet\n"
            "assert 'cvxpy' not in sys.modules\n"
            "import numpy as np\n"
            "b = plnet.NetworkBuilder((2,))\n"
            "net = b.build(b.relu(b.input))\n"
            "check = plnet.exact.verify_ball\n"
            "assert 'cvxpy' not in sys.modules\n"
            "assert check(net, np.ones(2), 0.5, p=1).verified\n"
            "assert 'cvxpy' in sys.modules\n"
            "plnet.testing.strategies.networks\n"
            "assert plnet.regions.facets(net, np.ones(2)).rows.tolist() == [0, 1]\n"
            "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    # silence is tested on its own (test_exact_is_silent.py); here only the lazy loading
    assert out.returncode == 0 and out.stdout.strip().splitlines()[-1] == "ok", out.stderr


def test_the_installed_distribution_exposes_plnet_frontends_and_backends():
    assert importlib.metadata.distribution("plnet").metadata["Name"] == "plnet"
    code = ("import json, plnet, plnet.frontends, plnet.backends\n"
            "print(json.dumps([plnet.__file__, plnet.frontends.__file__, "
            "plnet.backends.__file__]))\n")
    # run outside the repository so that the installed mapping, not the cwd, resolves them
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd="/")
    core, frontends, backends = (Path(p).resolve() for p in json.loads(out.stdout))
    assert core.parent == REPO / "plnet"
    assert frontends.parent == REPO / "frontends"
    assert backends.parent == REPO / "backends"


def test_every_package_folder_is_listed_for_a_wheel_install():
    """An editable install finds subpackages through the folder mapping, but a wheel ships
    only the listed packages: a folder missing from the list breaks ``pip install plnet``."""
    import tomllib

    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    on_disk = set()
    for prefix, folder in setuptools["package-dir"].items():
        root = REPO / folder
        for init in root.rglob("__init__.py"):
            relative = init.parent.relative_to(root).parts
            on_disk.add(".".join((prefix, *relative)))
    assert on_disk - listed == set(), "add these packages to [tool.setuptools] packages"
    assert listed - on_disk == set(), "these listed packages have no folder"


def test_packaging_declares_an_spdx_licence_with_its_file_and_ships_type_hints():
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == "BSD-3-Clause"  # an SPDX expression, not the table form
    for name in project["license-files"]:
        assert (REPO / name).is_file(), name
    assert (REPO / "CHANGELOG.md").is_file()
    import importlib.resources

    assert importlib.resources.files("plnet").joinpath("py.typed").is_file()
    assert importlib.metadata.distribution("plnet").metadata["License-Expression"] == "BSD-3-Clause"
