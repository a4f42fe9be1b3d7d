"""Margins and certificate reports equal the numpy reference (margins, #CLR, ties)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings

import plnet
from plnet.errors import InvalidInputError, TieError
from plnet.tolerances import REFERENCE_RTOL, TORCH_FLOAT32_RTOL

torch = pytest.importorskip("torch")

from plnet.backends.torch import CertificateReport, certify, compile, margins  # noqa: E402
from plnet.testing import strategies as pst  # noqa: E402

NORMS = (1, 2, math.inf)


def assert_margins_close(actual, expected, rtol=REFERENCE_RTOL):
    actual = np.asarray(actual)
    assert (np.isinf(actual) == np.isinf(expected)).all()
    finite = np.isfinite(expected)
    np.testing.assert_allclose(actual[finite], expected[finite], rtol=rtol, atol=0)


@pytest.mark.parametrize("p", NORMS)
def test_margins_equal_the_reference(small_net, make_points, device, p):
    x = make_points(small_net, batch=6)
    module = compile(small_net, device=device, dtype=torch.float64)
    got = margins(module, x, p=p)
    assert got.shape == (6,)
    assert_margins_close(got.detach().cpu().numpy(), plnet.margin(small_net, x, p=p))


@settings(max_examples=25)
@given(pst.network_and_points(batch_size=3))
def test_margins_equal_the_reference_on_random_networks(net_x):
    net, x = net_x
    module = compile(net, device="cpu", dtype=torch.float64)
    with torch.no_grad():
        for p in NORMS:
            assert_margins_close(margins(module, x, p=p).numpy(), plnet.margin(net, x, p=p))


@pytest.mark.filterwarnings("ignore::plnet.errors.PrecisionWarning")
def test_float32_margins_match_to_the_named_tolerance(small_net, make_points):
    # z carries an absolute round-off of about RTOL * (1 + max |z|); divided by the
    # smallest gradient norm it bounds the margin's error
    x = make_points(small_net, batch=6)
    module = compile(small_net, device="cpu")
    lin = plnet.linearize(small_net, x)
    for p in NORMS:
        norms = np.linalg.norm(lin.grad, ord={1: np.inf, 2: 2, math.inf: 1}[p], axis=2)
        atol = TORCH_FLOAT32_RTOL * (1 + np.abs(lin.z).max()) / norms[norms > 0].min()
        got = margins(module, x, p=p).detach().numpy()
        expected = plnet.margin(small_net, x, p=p)
        np.testing.assert_allclose(got, expected, rtol=TORCH_FLOAT32_RTOL, atol=atol)


def assert_report_equals_reference(report, net, x):
    assert isinstance(report, CertificateReport)
    assert report.n_points == x.shape[0]
    for p in NORMS:
        expected = plnet.margin(net, x, p=p)
        assert_margins_close(report.margins[p], expected)
        for q, value in report.percentiles[p].items():
            assert value == pytest.approx(np.percentile(expected, q), rel=REFERENCE_RTOL)
    reference = plnet.count_linear_regions(net, x, on_tie="exclude")
    assert (report.regions.lower, report.regions.upper) == (reference.lower, reference.upper)
    assert report.regions.tied_points == reference.tied_points
    assert report.regions.n_points == reference.n_points
    np.testing.assert_array_equal(report.ties, plnet.linearize(net, x).ties)


def test_certify_an_array_equals_the_reference(small_net, make_points, device):
    x = make_points(small_net, batch=23, seed=3)
    module = compile(small_net, device=device, dtype=torch.float64)
    report = certify(module, x, batch_size=5, progress=False)
    assert_report_equals_reference(report, small_net, x)
    assert report.correct is None
    assert "#CLR" in report.summary()


def test_certify_a_data_loader_equals_the_reference(cnn_max_net, make_points):
    x = make_points(cnn_max_net, batch=17, seed=4)
    module = compile(cnn_max_net, device="cpu", dtype=torch.float64)
    labels = np.argmax(cnn_max_net(x), axis=1)
    labels[:3] = (labels[:3] + 1) % 3
    data = torch.utils.data.TensorDataset(torch.as_tensor(x), torch.as_tensor(labels))
    loader = torch.utils.data.DataLoader(data, batch_size=4)
    report = certify(module, loader, progress=True)  # not a terminal: no bar, same result
    assert_report_equals_reference(report, cnn_max_net, x)
    np.testing.assert_array_equal(report.correct, np.arange(17) >= 3)
    plain = torch.utils.data.DataLoader(torch.as_tensor(x), batch_size=6)
    assert_report_equals_reference(certify(module, plain, progress=False), cnn_max_net, x)


def tie_network():
    """``h = relu(x)`` then a dense head: a point with x_0 == 0 lies on a boundary."""
    b = plnet.NetworkBuilder((3,))
    h = b.relu(b.dense(b.input, np.eye(3), np.zeros(3)))
    return b.build(b.dense(h, np.array([[1.0, 2.0, -1.0]])))


def test_ties_give_zero_margin_and_are_excluded_from_region_counts():
    net = tie_network()
    x = np.array([[0.0, 1.0, -1.0], [0.5, 1.0, -1.0], [0.5, -1.0, 2.0], [0.7, 1.0, -1.0]])
    module = compile(net, device="cpu", dtype=torch.float64)
    for p in NORMS:
        got = margins(module, x, p=p).detach().numpy()
        assert got[0] == 0 and (got[1:] > 0).all()
    report = certify(module, x, progress=False)
    assert report.ties.tolist() == [True, False, False, False]
    assert report.regions.tied_points == (0,)
    assert (report.regions.lower, report.regions.upper) == (2, 2)
    assert_report_equals_reference(report, net, x)
    with pytest.raises(TieError):
        certify(module, x[:1], progress=False)


@pytest.mark.filterwarnings("ignore::plnet.errors.PrecisionWarning")
def test_bad_arguments_raise_plnet_errors(mlp_net):
    module = compile(mlp_net, device="cpu")
    x = np.zeros((2,) + mlp_net.input_shape)
    with pytest.raises(InvalidInputError, match="p must be"):
        margins(module, x, p=3)
    with pytest.raises(InvalidInputError, match="batch_size"):
        certify(module, x, batch_size=0, progress=False)
    with pytest.raises(InvalidInputError, match="no points"):
        certify(module, [], progress=False)
    with pytest.raises(InvalidInputError, match="dicts"):
        certify(module, [{"x": x}], progress=False)


def test_float32_certificates_warn_and_float64_ones_do_not(mlp_net):
    import warnings

    from plnet.backends.torch import certify, compile, margins
    from plnet.errors import PrecisionWarning

    x = np.random.default_rng(0).normal(size=(4,) + mlp_net.input_shape)
    approx = compile(mlp_net, device="cpu", dtype=torch.float32)
    with pytest.warns(PrecisionWarning, match="float64"):
        margins(approx, torch.as_tensor(x, dtype=torch.float32))
    with pytest.warns(PrecisionWarning):
        certify(approx, x, progress=False)
    exact = compile(mlp_net, device="cpu", dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PrecisionWarning)
        margins(exact, torch.as_tensor(x))
        certify(exact, x, progress=False)


def test_accuracy_of_a_one_logit_binary_classifier_reads_the_logits_sign():
    # fit trains one logit with binary cross-entropy: class 1 where the logit is positive
    b = plnet.NetworkBuilder((2,))
    net = b.build(b.dense(b.relu(b.dense(b.input, np.eye(2), np.zeros(2))),
                          np.array([[1.0, -1.0]]), np.zeros(1)))
    x = np.array([[2.0, 0.0], [0.0, 2.0], [3.0, 1.0], [1.0, 3.0]])
    logits = net(x)[:, 0]
    labels = (logits > 0).astype(np.int64)          # [1, 0, 1, 0]
    report = certify(compile(net, dtype=torch.float64), (x, labels), batch_size=4)
    assert report.correct.tolist() == [True] * 4
    report = certify(compile(net, dtype=torch.float64), (x, 1 - labels), batch_size=4)
    assert report.correct.tolist() == [False] * 4
