"""Each reproduction runs end to end (tiny settings) and writes the documented schema."""

from __future__ import annotations

import json

import pytest

from plnet.reproduce import run

PERCENTILE_KEYS = {"P25", "P50", "P75", "P100"}


def check_common(result, name, tmp_path):
    assert {"name", "quick", "rows", "paper", "figures"} <= set(result)
    assert result["name"] == name and result["quick"] is True
    for figure in result["figures"]:
        assert open(figure, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    written = json.loads(open(result["json"]).read())
    assert written["rows"] == json.loads(json.dumps(result["rows"]))


@pytest.mark.parametrize("name", ["table1", "relaxations"])
def test_margin_tables_give_raw_space_percentiles_per_row(name, tmp_path, tiny):
    result = run(name, quick=True, out=tmp_path)
    check_common(result, name, tmp_path)
    assert result["rows"][0]["loss"] == "vanilla"
    for row in result["rows"]:
        assert {"loss", "C", "lambda", "acc", "clr", "eps1", "eps2"} <= set(row)
        assert set(row["eps2"]) == PERCENTILE_KEYS and row["eps2"]["P50"] > 0
        assert 0 <= row["acc"] <= 1 and row["clr"] >= 1


def test_table2_times_every_setting(tmp_path, tiny):
    result = run("table2", quick=True, out=tmp_path)
    check_common(result, "table2", tmp_path)
    assert [r["setting"] for r in result["rows"]][:3] == ["vanilla", "roll_full_backprop",
                                                         "roll_full_perturbation"]
    assert all(r["seconds_per_step"] > 0 for r in result["rows"])


def test_table4_and_figure4_share_one_experiment(tmp_path, tiny):
    result = run("table4", quick=True, out=tmp_path)
    check_common(result, "table4", tmp_path)
    for row in result["rows"]:
        assert {"p_at_1", "p_at_5", "expected_l1", "max_l1"} <= set(row)
        # the maximum found bounds the expectation, percentile by percentile
        assert row["max_l1"]["P100"] >= row["expected_l1"]["P100"]
    assert "substitute" in result["table"]
    figure = run("figure4", quick=True, out=tmp_path)
    check_common(figure, "figure4", tmp_path)
    assert [r["percentile"] for r in figure["rows"]] == [50, 75]
