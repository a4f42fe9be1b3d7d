"""benchmarks/run_all.py runs every benchmark and records ratios and failures as JSON."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

RUN_ALL = Path(__file__).resolve().parents[1] / "benchmarks" / "run_all.py"
BENCHMARKS = {"linearize", "gradients", "training", "conversion", "certify", "distributed",
              "regions", "sequences"}


def load_run_all():
    spec = importlib.util.spec_from_file_location("plnet_run_all", RUN_ALL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_run_all_smoke_writes_every_benchmark_with_positive_finite_ratios(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, str(RUN_ALL), "--smoke", "--device", "cpu",
                           "--json", str(out)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert {"device", "torch", "threads", "load_average", "started", "seconds",
            "benchmarks"} <= set(result)
    assert result["device"] == "cpu"
    assert set(result["benchmarks"]) == BENCHMARKS
    for name, record in result["benchmarks"].items():
        assert "error" not in record, (name, record.get("error"))
        assert {"seconds", "ratios", "table"} <= set(record), name
        assert record["ratios"] and record["table"], name
        for ratio, value in record["ratios"].items():
            assert isinstance(value, float) and math.isfinite(value) and value > 0, (name, ratio)
    # one progress line per benchmark on stderr
    for name in BENCHMARKS:
        assert f"[run_all] {name}:" in done.stderr


@pytest.mark.slow
def test_run_all_records_a_failing_benchmark_and_exits_nonzero(tmp_path, monkeypatch):
    run_all = load_run_all()
    out = tmp_path / "bench.json"
    monkeypatch.setitem(run_all.MODES["smoke"], "conversion", ["--only", "no_such_net"])
    status = run_all.main(["--smoke", "--device", "cpu", "--only", "linearize,conversion",
                           "--json", str(out)])
    assert status == 1
    records = json.loads(out.read_text())["benchmarks"]
    assert "no_such_net" in records["conversion"]["error"]
    assert records["linearize"]["ratios"]["ours / floor"] > 0
