"""Every `--json` output has exactly the keys and types that docs/cli.md documents."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
NORMS = {"1", "2", "inf"}
PERCENTILE_KEYS = {"P0", "P25", "P50", "P75", "P100"}
JSON_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool,
              "integer": int, "number": (int, float)}


def documented_schemas() -> dict[str, dict[str, str]]:
    """``{heading: {path: type}}`` from the tables under docs/cli.md's `--json` headings."""
    schemas, current = {}, None
    for line in DOC.read_text().splitlines():
        heading = re.match(r"^### `(plnet .* --json)`$", line)
        if heading:
            current = schemas.setdefault(heading.group(1), {})
            continue
        row = re.match(r"^\| `([^`]+)` \| (\w+) \|", line)
        if row and current is not None:
            current[row.group(1)] = row.group(2)
    return schemas


def shape_of(value, path="", out=None) -> dict[str, set]:
    """``{path: types seen}`` with norms as ``<p>``, percentiles as ``<q>``, elements ``[]``."""
    out = {} if out is None else out
    if path:
        out.setdefault(path, set()).add(type(value))
    if isinstance(value, dict):
        if set(value) <= NORMS and value:
            keys = {k: "<p>" for k in value}
        elif set(value) == PERCENTILE_KEYS:
            keys = {k: "<q>" for k in value}
        else:
            keys = {k: k for k in value}
        for key, item in value.items():
            shape_of(item, f"{path}.{keys[key]}" if path else keys[key], out)
    elif isinstance(value, list):
        out.setdefault(f"{path}[]", set())  # an empty array still names its elements
        for item in value:
            shape_of(item, f"{path}[]", out)
    return out


def check_against_doc(report: dict, heading: str) -> None:
    schema = documented_schemas()[heading]
    seen = shape_of(report)
    # what lies inside an empty array cannot be seen, so it may be missing
    unseen = tuple(path for path, types in seen.items() if not types)
    missing = {p for p in set(schema) - set(seen) if not p.startswith(unseen)}
    assert set(seen) <= set(schema) and not missing, f"{heading}: keys differ from docs/cli.md"
    for path, types in seen.items():
        expected = JSON_TYPES[schema[path]]
        for t in types:
            assert issubclass(t, expected) and not (t is bool and schema[path] != "boolean"), \
                f"{heading}: {path} is {t.__name__}, documented as {schema[path]}"


def test_every_json_command_is_documented():
    assert set(documented_schemas()) == {"plnet inspect --json", "plnet demo --json",
                                         "plnet demo --train --json", "plnet certify --json",
                                         "plnet plot --json"}


def test_inspect_json_matches_the_doc(cli, saved_net):
    status, out, _ = cli("inspect", saved_net, "--json")
    assert status == 0
    check_against_doc(json.loads(out), "plnet inspect --json")


def test_demo_json_matches_the_doc(cli):
    status, out, _ = cli("demo", "--points", "3", "--json")
    assert status == 0
    check_against_doc(json.loads(out), "plnet demo --json")


@pytest.mark.parametrize("norms", ["2", "1,2,inf"])
def test_certify_json_matches_the_doc(cli, saved_net, points, norms):
    status, out, _ = cli("certify", saved_net, "--input", points[0], "--p", norms, "--json")
    assert status == 0
    report = json.loads(out)
    check_against_doc(report, "plnet certify --json")
    assert report["p"] == norms.split(",")


@pytest.mark.slow
def test_demo_train_json_matches_the_doc(cli):
    pytest.importorskip("torch")
    status, out, _ = cli("demo", "--train", "--json", "-q")
    assert status == 0
    check_against_doc(json.loads(out), "plnet demo --train --json")


def test_a_key_missing_from_the_doc_is_caught():
    with pytest.raises(AssertionError, match="keys differ"):
        check_against_doc({"D": 2, "extra": 1}, "plnet inspect --json")
    with pytest.raises(AssertionError, match="documented as integer"):
        check_against_doc({"nodes": [], "input_shape": [2], "output_shape": [2], "D": 2.5,
                           "N": 1}, "plnet inspect --json")
    with pytest.raises(AssertionError, match="keys differ"):
        check_against_doc({"nodes": [], "input_shape": [2], "output_shape": [2], "D": 2},
                          "plnet inspect --json")
