"""Malformed flags are usage errors: exit 2 and one `plnet: error:` line naming the flag."""

from __future__ import annotations

import pytest

import plnet


@pytest.mark.parametrize("flag, value, expected", [
    ("--batch-size", "0", "a positive integer or 'auto'"),
    ("--batch-size", "-5", "a positive integer or 'auto'"),
    ("--batch-size", "many", "a positive integer or 'auto'"),
    ("--batch-dim", "abc", "an integer or 'none'"),
    ("--p", "3", "p must be 1, 2 or inf"),
    ("--p", "", "p must be 1, 2 or inf"),
    ("--p", "1,,2", "p must be 1, 2 or inf"),
    ("--memory-budget", "2XB", "a positive size such as 2GiB"),
    ("--memory-budget", "0", "a positive size such as 2GiB"),
])
def test_certify_flag_with_a_bad_value_is_a_usage_error(cli, saved_net, points, flag, value,
                                                        expected):
    status, out, err = cli("certify", saved_net, "--input", points[0], flag, value)
    assert status == 2 and out == ""
    assert f"plnet: error: argument {flag}: " in err and expected in err
    assert "Traceback" not in err


@pytest.mark.parametrize("value", ["-3", "0", "1", "x"])
def test_demo_needs_at_least_two_points_per_axis(cli, value):
    status, _, err = cli("demo", "--points", value)
    assert status == 2
    assert "plnet: error: argument --points: expected an integer >= 2" in err


def test_demo_seed_must_not_be_negative(cli):
    status, _, err = cli("demo", "--seed", "-1")
    assert status == 2 and "argument --seed" in err


def test_no_command_prints_help_and_exits_2(cli):
    status, out, err = cli()
    assert status == 2 and out == ""
    assert "usage: plnet" in err and "certify" in err


def test_version_prints_the_package_version(cli):
    status, out, _ = cli("--version")
    assert status == 0 and out.strip() == f"plnet {plnet.__version__}"


@pytest.mark.parametrize("command", ["demo", "inspect", "convert", "certify"])
def test_every_subcommand_has_help(cli, command):
    status, out, _ = cli(command, "--help")
    assert status == 0 and out.startswith(f"usage: plnet {command}")


def test_certify_help_names_every_flag(cli):
    _, out, _ = cli("certify", "--help")
    for flag in ("--input", "--input-key", "--p", "--batch-size", "--memory-budget",
                 "--backend", "--json", "--progress", "--quiet", "--batch-dim", "--output",
                 "--drop-trailing", "--no-check"):
        assert flag in out
