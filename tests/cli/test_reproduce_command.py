"""``plnet reproduce``: pending entries fail clearly, --json prints one object."""

from __future__ import annotations

import json

from plnet.cli import main


def test_a_pending_reproduction_exits_1_saying_what_it_needs(tmp_path, capsys, monkeypatch):
    from plnet.reproduce import registry

    entries = dict(registry.load_all())
    entries["table3"] = registry.Reproduction("table3", "Table 3", None, "sequence models")
    monkeypatch.setattr(registry, "REPRODUCTIONS", entries)
    monkeypatch.setattr(registry, "load_all", lambda: entries)
    assert main(["reproduce", "table3", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "plnet: error:" in err and "sequence models" in err and "Nothing was run" in err
    assert not list(tmp_path.iterdir())


def test_an_unknown_name_is_a_usage_error(capsys):
    assert main(["reproduce", "table9"]) == 2


def test_json_prints_one_object_with_the_documented_keys(tmp_path, capsys, monkeypatch):
    from plnet.reproduce import registry

    def fake(*, quick, out, progress, seed):
        return {"name": "table1", "quick": quick, "rows": [], "paper": [], "figures": [],
                "table": "text"}

    monkeypatch.setitem(registry.REPRODUCTIONS, "table1",
                        registry.Reproduction("table1", "t", fake))
    monkeypatch.setattr(registry, "load_all", lambda: registry.REPRODUCTIONS)
    assert main(["reproduce", "table1", "--quick", "--json", "--out", str(tmp_path)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["quick"] is True and result["rows"] == [] and "table" not in result
    assert json.loads((tmp_path / "table1-quick.json").read_text())["name"] == "table1"
    assert main(["reproduce", "table1", "--out", str(tmp_path)]) == 0
    assert "text" in capsys.readouterr().out
