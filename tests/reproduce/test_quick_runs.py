"""The real ``--quick`` runs, as CI runs them: schema and the paper's direction."""

from __future__ import annotations

import json

import pytest

from plnet.cli import main


def quick_json(name, tmp_path, capsys) -> dict:
    assert main(["reproduce", name, "--quick", "--json", "-q", "--out", str(tmp_path)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"name", "quick", "rows", "paper", "figures"} <= set(result)
    assert result["name"] == name and result["quick"] is True and result["figures"]
    return result


@pytest.mark.slow
def test_quick_table1_roll_margins_exceed_vanilla(tmp_path, capsys):
    result = quick_json("table1", tmp_path, capsys)
    vanilla, *roll = result["rows"]
    assert vanilla["loss"] == "vanilla" and roll
    for row in roll:
        assert set(row["eps1"]) == set(row["eps2"]) == {"P25", "P50", "P75", "P100"}
        assert row["eps2"]["P50"] > vanilla["eps2"]["P50"]
        assert row["eps1"]["P50"] > vanilla["eps1"]["P50"]


@pytest.mark.slow
def test_quick_table4_roll_gradients_distort_less(tmp_path, capsys):
    result = quick_json("table4", tmp_path, capsys)
    vanilla, roll = result["rows"]
    for key in ("expected_l1", "max_l1"):
        assert roll[key]["P50"] < vanilla[key]["P50"]
