"""However a command fails, the user sees one `plnet: error:` line that says what to do,
with the command line's flags in its advice, and never a traceback unless asked for."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from plnet.cli import hints


def test_two_output_onnx_model_advises_the_output_flag(cli, corpus):
    pytest.importorskip("onnxruntime")
    status, _, err = cli("inspect", corpus / "oneInput_twoBranches.onnx")
    assert status == 1
    assert "choose one with --output NAME" in err and "output=" not in err
    status, out, _ = cli("inspect", corpus / "oneInput_twoBranches.onnx", "--output", "Y")
    assert status == 0 and "N=" in out


@pytest.mark.parametrize("model, flags", [("layerzoo_sigmoid.onnx", ("--batch-dim", "none")),
                                          ("fc_2-2sigmoids-3.onnx", ())])
def test_sigmoid_model_advises_the_drop_trailing_flag(cli, corpus, model, flags):
    pytest.importorskip("onnxruntime")
    status, _, err = cli("inspect", corpus / model, *flags)
    assert status == 1
    assert "--drop-trailing" in err and "drop_trailing" not in err


def test_batch_axis_advice_names_the_batch_dim_flag(cli, corpus):
    pytest.importorskip("onnxruntime")
    status, _, err = cli("inspect", corpus / "fc_matMul.onnx")
    assert status == 1
    assert "--batch-dim none" in err and "batch_dim" not in err


@pytest.mark.parametrize("python, flag", [
    ("choose one with output=<name>", "choose one with --output NAME"),
    ("load with output='logits' instead", "load with --output logits instead"),
    ("load with drop_trailing=True to", "load with --drop-trailing to"),
    ("pass batch_dim=None if", "pass --batch-dim none if"),
    ("pass batch_dim=<axis> if", "pass --batch-dim AXIS if"),
    ("(batch_dim=1)", "(--batch-dim 1)"),
    ("pass check=False to skip", "pass --no-check to skip"),
    ("with PLNET_MEMORY_BUDGET=<bytes>", "with --memory-budget SIZE"),
])
def test_python_spellings_become_flags(python, flag):
    assert hints.as_cli_hint(python) == flag


def certify_failing_with(monkeypatch, exc):
    def failing(args):
        raise exc

    monkeypatch.setattr("plnet.cli.certify.cmd_certify", failing)


def test_unexpected_exception_is_one_line_with_its_type(cli, monkeypatch, saved_net, points):
    certify_failing_with(monkeypatch, ZeroDivisionError("division by zero"))
    monkeypatch.delenv("PLNET_DEBUG", raising=False)
    status, out, err = cli("certify", saved_net, "--input", points[0])
    assert (status, out) == (1, "")
    assert err == ("plnet: error: ZeroDivisionError: division by zero (rerun with "
                   "PLNET_DEBUG=1 for the traceback)\n")


def test_plnet_debug_shows_the_traceback(cli, monkeypatch, saved_net, points):
    certify_failing_with(monkeypatch, ZeroDivisionError("division by zero"))
    monkeypatch.setenv("PLNET_DEBUG", "1")
    status, _, err = cli("certify", saved_net, "--input", points[0])
    assert status == 1
    assert "Traceback (most recent call last)" in err
    assert err.rstrip().endswith("plnet: error: ZeroDivisionError: division by zero")


def test_keyboard_interrupt_exits_130_quietly(cli, monkeypatch, saved_net, points):
    certify_failing_with(monkeypatch, KeyboardInterrupt())
    assert cli("certify", saved_net, "--input", points[0]) == (130, "", "")


def test_other_memory_errors_suggest_smaller_batches(cli, monkeypatch, saved_net, points):
    certify_failing_with(monkeypatch, MemoryError("Unable to allocate 9.15 GiB"))
    status, _, err = cli("certify", saved_net, "--input", points[0])
    assert status == 1
    assert err.startswith("plnet: error: out of memory (Unable to allocate 9.15 GiB)")
    assert "--batch-size" in err and "--backend torch" in err


def test_numpy_memory_error_halves_the_batch_and_carries_on(cli, monkeypatch, saved_net,
                                                            points):
    import plnet

    real = plnet.linearize

    def picky(net, x):
        if x.shape[0] > 4:
            raise MemoryError("Unable to allocate 9.15 GiB for an array")
        return real(net, x)

    monkeypatch.setattr(plnet, "linearize", picky)
    status, out, err = cli("certify", saved_net, "--input", points[0], "--json",
                           "--batch-size", "16")
    assert status == 0
    assert "did not fit in memory; retrying with 8" in err
    assert "retrying with 4" in err


def test_numpy_memory_error_on_one_point_suggests_the_torch_backend(cli, monkeypatch,
                                                                     saved_net, points):
    import plnet

    def hopeless(net, x):
        raise MemoryError("Unable to allocate 9.15 GiB for an array")

    monkeypatch.setattr(plnet, "linearize", hopeless)
    status, _, err = cli("certify", saved_net, "--input", points[0])
    assert status == 1
    assert err.splitlines()[-1].startswith(
        "plnet: error: the numpy backend ran out of memory on one point")
    assert "--backend torch" in err and "Traceback" not in err


def test_one_point_over_the_memory_budget_says_what_it_needs(cli, saved_net, points):
    status, _, err = cli("certify", saved_net, "--input", points[0], "--memory-budget", "1KB")
    assert status == 1
    assert "needs about 3.0 KiB for one point" in err and "1000 B" in err
    assert "--backend torch" in err and "--memory-budget SIZE" in err


def test_batch_size_over_the_budget_is_capped_with_a_note(cli, saved_net, points):
    status, out, err = cli("certify", saved_net, "--input", points[0], "--batch-size", "64",
                           "--memory-budget", "10KiB", "--json")
    assert status == 0 and out
    assert "plnet: note: --batch-size 64 would need about" in err
    assert "using 3 points per batch" in err


def test_memory_budget_accepts_units():
    from plnet.cli.options import memory_size

    assert memory_size("2GiB") == 2 * 1024**3
    assert memory_size("500MB") == 500 * 10**6
    assert memory_size("1.5 kib") == 1536
    assert memory_size("4096") == 4096


def test_closed_stdout_ends_quietly_without_a_traceback(saved_net, tmp_path):
    x = tmp_path / "many.npy"
    np.save(x, np.random.default_rng(0).uniform(-1, 1, size=(3000, 2)))
    proc = subprocess.Popen([sys.executable, "-m", "plnet", "certify", str(saved_net),
                             "--input", str(x), "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before plnet writes: `plnet ... | head -c 0`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert err == ""
