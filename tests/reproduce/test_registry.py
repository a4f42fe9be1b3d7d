"""The registry of reproductions, the model-selection rule and the paper's numbers."""

from __future__ import annotations

import pytest

from plnet.errors import InvalidInputError, MissingDependencyError
from plnet.reproduce import NAMES, paper, registry, run
from plnet.reproduce.common import percentile_object, select_models
from plnet.reproduce.registry import load_all

MARGIN_KEYS = {"loss", "C", "lambda", "acc", "clr", "eps1", "eps2"}
PERCENTILE_KEYS = {"P25", "P50", "P75", "P100"}


def test_a_pending_reproduction_fails_saying_what_it_needs(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "REPRODUCTIONS", dict(load_all()))
    registry.register_pending("table9", "Table 9", "a model of the future")
    with pytest.raises(MissingDependencyError,
                       match="needs a model of the future.*Nothing was run"):
        run("table9", quick=True, out=tmp_path)
    assert not list(tmp_path.iterdir())


def test_every_offered_name_is_registered_and_unknown_names_are_refused(tmp_path):
    assert set(NAMES) == set(load_all())
    with pytest.raises(InvalidInputError, match="unknown reproduction"):
        run("table9", out=tmp_path)


def test_selection_takes_the_largest_margin_at_equal_and_at_one_point_lower_accuracy():
    candidates = [{"val_acc": 0.90, "val_eps2_p50": 1.0}, {"val_acc": 0.895, "val_eps2_p50": 5.0},
                  {"val_acc": 0.85, "val_eps2_p50": 50.0}, {"val_acc": 0.91, "val_eps2_p50": 2.0}]
    chosen = select_models(0.90, candidates)
    assert chosen == [candidates[3], candidates[1]]
    assert chosen[0]["selected"] == ["same accuracy"] and chosen[1]["selected"] == [
        "-1% accuracy"]


def test_selection_lists_one_model_once_and_none_when_all_fall_short():
    one = [{"val_acc": 0.95, "val_eps2_p50": 3.0}]
    assert select_models(0.90, one) == one
    assert one[0]["selected"] == ["same accuracy", "-1% accuracy"]
    assert select_models(0.99, one) == []


def test_percentile_objects_interpolate_as_numpy():
    assert percentile_object([1, 2, 3, 4, 5]) == {"P25": 2.0, "P50": 3.0, "P75": 4.0,
                                                  "P100": 5.0}


def test_the_paper_rows_follow_the_result_schema():
    for row in paper.TABLE1 + paper.TABLE3:
        assert set(row) == MARGIN_KEYS and set(row["eps2"]) == PERCENTILE_KEYS
    assert paper.TABLE1[0]["eps2"]["P50"] == pytest.approx(6e-4)
    assert paper.TABLE3[2]["eps1"]["P100"] == pytest.approx(71235e-6)
    for row in paper.TABLE4:
        assert {"p_at_1", "p_at_5", "expected_l1", "max_l1"} <= set(row)
    assert {r["setting"] for r in paper.TABLE2} >= {"vanilla", "roll_full_backprop"}
