"""Every registered IR op goes through every path: a numpy forward of its own, one torch
lowering, one ONNX exporter, and a hypothesis family that draws it.

The recipe for adding an op is ``docs/adding-an-op.md``; this test names the op and the
missing piece when a step of it is skipped.
"""

from __future__ import annotations

import collections
import dataclasses
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from plnet.ops import OP_REGISTRY, Op, register_op
from plnet.testing import strategies as pst

torch = pytest.importorskip("torch")

from plnet.backends.torch.lowerings import LOWERINGS  # noqa: E402
from plnet.frontends.onnx.export_registry import EXPORTERS, load_exporters  # noqa: E402

RECIPE = Path(__file__).resolve().parents[1] / "docs" / "adding-an-op.md"
#: a concrete repository path in backticks (paths with a ``<family>`` placeholder are not)
RECIPE_PATH = re.compile(r"`((?:plnet|frontends|backends|tests|docs)/[\w./-]*\.(?:py|md))`")

#: networks drawn per family to compare the declared table with what is drawn
DRAWS_PER_FAMILY = 150
DRAW = settings(max_examples=DRAWS_PER_FAMILY, derandomize=True, database=None,
                deadline=None, suppress_health_check=list(HealthCheck))


def missing_pieces(registry=None, family_ops=None) -> list[str]:
    """One line per registered op and piece it lacks (empty when every op is complete)."""
    load_exporters()
    registry = OP_REGISTRY if registry is None else registry
    family_ops = pst.FAMILY_OPS if family_ops is None else family_ops
    drawn_by = {name for ops in family_ops.values() for name in ops}
    problems = []
    for name, cls in sorted(registry.items()):
        where = f"op {name!r} ({cls.__name__})"
        if cls.forward is Op.forward:
            problems.append(f"{where}: no numpy forward (override Op.forward in plnet/ops/)")
        if cls not in LOWERINGS:
            problems.append(f"{where}: no torch lowering (@lowers in "
                            f"backends/torch/lowerings/)")
        if cls not in EXPORTERS:
            problems.append(f"{where}: no ONNX exporter (@exports in "
                            f"frontends/onnx/exporters/)")
        if name != "input" and name not in drawn_by:
            problems.append(f"{where}: no hypothesis family draws it (add it to a family in "
                            f"plnet/testing/ and to FAMILY_OPS in strategies.py)")
    return problems


def test_every_registered_op_has_every_piece():
    problems = missing_pieces()
    assert not problems, "\n".join(problems)


def test_a_registered_op_without_its_pieces_is_reported(monkeypatch):
    @dataclasses.dataclass(frozen=True)
    class Dummy(Op):
        type_name = "dummy_for_completeness"

    from plnet.ops import base

    monkeypatch.setattr(base, "OP_REGISTRY", dict(OP_REGISTRY))  # the real one stays as is
    register_op(Dummy)
    problems = missing_pieces(registry=base.OP_REGISTRY)
    named = [p for p in problems if "'dummy_for_completeness'" in p]
    assert len(named) == 4
    for piece in ("numpy forward", "torch lowering", "ONNX exporter", "hypothesis family"):
        assert any(piece in p for p in named), piece
    assert len(problems) == 4  # every real op stays complete


def test_an_op_missing_from_the_family_table_is_reported():
    table = {family: ops - {"prelu"} for family, ops in pst.FAMILY_OPS.items()}
    problems = missing_pieces(family_ops=table)
    assert len(problems) == 1
    assert problems[0].startswith("op 'prelu' (PReLU): no hypothesis family draws it")


@pytest.mark.parametrize("family", pst.FAMILIES)
def test_each_family_draws_exactly_the_ops_it_declares(family):
    seen = collections.Counter()

    @DRAW
    @given(pst.networks(families=[family]))
    def collect(net):
        seen.update(net.op(n).type_name for n in net.graph)

    collect()
    drawn = set(seen) - {"input"}
    declared = pst.FAMILY_OPS[family]
    assert drawn <= declared, f"{family} draws undeclared ops {sorted(drawn - declared)}"
    assert declared <= drawn, (f"{family} declares ops it never drew in {DRAWS_PER_FAMILY} "
                               f"networks: {sorted(declared - drawn)}")


def test_the_recipe_names_files_that_exist():
    named = set(RECIPE_PATH.findall(RECIPE.read_text()))
    assert "plnet/testing/strategies.py" in named  # the pattern finds the recipe's paths
    missing = sorted(p for p in named if not (RECIPE.parents[1] / p).exists())
    assert not missing, f"docs/adding-an-op.md names files that do not exist: {missing}"
