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


def test_table1_lists_every_grid_model_the_rule_saw(tmp_path, tiny):
    result = run("table1", quick=True, out=tmp_path)
    grid = result["grid"]
    values = result["grid_values"]
    assert [(g["lambda"], g["C"]) for g in grid] == [(None, None)] + [
        (lam, C) for lam in values["lambda"] for C in values["C"]]
    assert grid[0]["val_acc"] == result["rows"][0]["val_acc"]
    assert all(g["val_eps2_p50"] > 0 for g in grid)
    assert result["table"].count("\n  lambda=") == len(grid) - 1


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


def test_figure1_counts_the_regions_of_every_pane_and_certifies_training_points(tmp_path,
                                                                                 tiny):
    from plnet.reproduce.figure1 import BOUNDS, MODELS

    result = run("figure1", quick=True, out=tmp_path)
    check_common(result, "figure1", tmp_path)
    assert [r["loss"] for r in result["rows"]] == [m[0] for m in MODELS]
    box = (BOUNDS[1] - BOUNDS[0]) * (BOUNDS[3] - BOUNDS[2])
    for row in result["rows"]:
        assert row["regions"] >= row["linear_regions"] >= 1
        # the regions tile the box: their median area is at most the box's
        assert 0 < row["median_region_area"] <= box
        assert set(row["eps2"]) == PERCENTILE_KEYS
        assert row["eps1"]["P50"] >= row["eps2"]["P50"] >= 0
        assert 1 <= row["clr"] <= 200 and 0 <= row["acc"] <= 1


def test_table3_certifies_testing_sequences_and_figure3_reuses_its_models(tmp_path, tiny):
    result = run("table3", quick=True, out=tmp_path)
    check_common(result, "table3", tmp_path)
    vanilla = result["rows"][0]
    assert vanilla["loss"] == "vanilla" and vanilla["C"] is None
    for row in result["rows"]:
        assert {"loss", "C", "lambda", "acc", "clr", "eps1", "eps2"} <= set(row)
        assert row["eps1"]["P50"] >= row["eps2"]["P50"] > 0
        # 30 testing sequences, regions of different lengths counted apart
        assert 1 <= row["clr"] <= 30
    assert [(g["lambda"], g["C"]) for g in result["grid"]] == [(None, None), (0.5, 1.0)]
    cached = list(tmp_path.glob("vowels-quick-seed0/*.npz"))
    figure = run("figure3", quick=True, out=tmp_path)
    check_common(figure, "figure3", tmp_path)
    assert sorted(tmp_path.glob("vowels-quick-seed0/*.npz")) == sorted(cached)
    assert [r["percentile"] for r in figure["rows"]] == [50, 75]
    for row in figure["rows"]:
        for name in ("vanilla", "roll"):
            bounds = row[name]
            assert len(bounds["minus"]) == len(bounds["plus"]) == row["length"] == len(row["x"])
            assert all(v is None or v >= 0 for v in bounds["minus"] + bounds["plus"])
