"""MNIST from IDX files (gzipped or not) and from a 5k-style CSV, with seeded splits."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from plnet.datasets import load_mnist, read_idx, read_mnist_5k
from plnet.datasets import mnist as mnist_module
from plnet.errors import InvalidInputError, MissingDependencyError


def write_idx(path, array: np.ndarray, compress: bool) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if compress:
        with gzip.open(path.with_name(path.name + ".gz"), "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)


def make_idx_folder(folder, n_train=60, n_test=20, compress=False):
    rng = np.random.default_rng(0)
    arrays = {"train": (rng.integers(0, 256, (n_train, 28, 28)), np.arange(n_train) % 10),
              "t10k": (rng.integers(0, 256, (n_test, 28, 28)), np.arange(n_test) % 10)}
    for part, (images, labels) in arrays.items():
        write_idx(folder / f"{part}-images-idx3-ubyte", images, compress)
        write_idx(folder / f"{part}-labels-idx1-ubyte", labels, compress)
    return arrays


@pytest.mark.parametrize("compress", [False, True])
def test_idx_files_are_read_with_their_shape_and_values(tmp_path, compress):
    arrays = make_idx_folder(tmp_path, compress=compress)
    suffix = ".gz" if compress else ""
    images = read_idx(tmp_path / f"train-images-idx3-ubyte{suffix}")
    np.testing.assert_array_equal(images, arrays["train"][0])


def test_idx_folder_splits_train_into_train_and_validation_and_keeps_the_test_file(tmp_path):
    arrays = make_idx_folder(tmp_path)
    data = load_mnist(tmp_path, seed=3)
    sizes = data.sizes()
    assert sizes["test"] == 20 and sizes["train"] + sizes["val"] == 60 and sizes["val"] > 0
    assert data.train[0].shape[1:] == (1, 28, 28) and data.train[0].max() <= 1.0
    np.testing.assert_allclose(data.test[0][:, 0] * 255, arrays["t10k"][0], atol=1e-3)
    again = load_mnist(tmp_path, seed=3, flatten=True)
    np.testing.assert_array_equal(again.val[1], data.val[1])
    assert again.train[0].shape[1:] == (784,)


def test_a_truncated_idx_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "bad"
    path.write_bytes(bytes([0, 0, 8, 1]) + (100).to_bytes(4, "big") + b"\x00" * 10)
    with pytest.raises(InvalidInputError, match="truncated"):
        read_idx(path)


def test_a_folder_without_idx_files_says_what_it_needs(tmp_path):
    with pytest.raises(MissingDependencyError, match="train-images-idx3-ubyte"):
        load_mnist(tmp_path)


def write_5k_csv(path, per_class=10):
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(10), per_class)  # sorted by class, as the wheel's file
    table = np.c_[rng.integers(0, 256, (len(labels), 784)), labels]
    with gzip.open(path, "wt") as fh:
        for row in table:
            fh.write(",".join(str(v) for v in row) + "\n")
    return table


def test_the_5k_csv_gives_pixels_and_labels(tmp_path):
    table = write_5k_csv(tmp_path / "mnist.csv.gz")
    pixels, labels, _ = read_mnist_5k(tmp_path / "mnist.csv.gz")
    np.testing.assert_array_equal(pixels, table[:, :784])
    np.testing.assert_array_equal(labels, table[:, 784])


def test_the_offline_default_split_is_stratified_seeded_and_disjoint(tmp_path, monkeypatch):
    write_5k_csv(tmp_path / "mnist.csv.gz", per_class=20)
    monkeypatch.setattr(mnist_module, "package_file", lambda *a: tmp_path / "mnist.csv.gz")
    a, b = load_mnist(seed=5), load_mnist(seed=5)
    assert a.sizes() == {"train": 140, "val": 20, "test": 40}
    for part in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(a, part)[0], getattr(b, part)[0])
        assert np.bincount(getattr(a, part)[1]).min() > 0  # every class in every part
    rows = {x.tobytes() for part in ("train", "val", "test") for x in getattr(a, part)[0]}
    assert len(rows) == 200
    assert not np.array_equal(load_mnist(seed=6).test[1], a.test[1]) or \
        not np.array_equal(load_mnist(seed=6).test[0], a.test[0])


def test_without_the_wheel_the_error_names_the_extra(monkeypatch):
    monkeypatch.setattr(mnist_module, "package_file", lambda *a: None)
    with pytest.raises(MissingDependencyError, match=r"plnet\[data\]"):
        load_mnist()


def test_a_csv_with_the_wrong_width_is_an_error(tmp_path):
    (tmp_path / "x.csv").write_text("1,2,3\n")
    with pytest.raises(InvalidInputError, match="785"):
        read_mnist_5k(tmp_path / "x.csv")
