"""Japanese Vowels from .ts files: variable lengths, labels 0-8, the official split."""

from __future__ import annotations

import numpy as np
import pytest

from plnet.datasets import load_japanese_vowels, read_ts
from plnet.datasets import vowels as vowels_module
from plnet.errors import InvalidInputError, MissingDependencyError

HEADER = "#comment\n@problemName JapaneseVowels\n@dimensions 3\n@equalLength false\n" \
         "@classLabel true 1 2 3 4 5 6 7 8 9\n@data\n"


def case(rng, length, label):
    values = rng.normal(size=(3, length)).round(4)
    return ":".join(",".join(str(v) for v in ch) for ch in values) + f":{label}", values.T


def write_ts(path, lengths, labels, seed=0):
    rng = np.random.default_rng(seed)
    lines, arrays = zip(*(case(rng, n, c) for n, c in zip(lengths, labels)))
    path.write_text(HEADER + "\n".join(lines) + "\n")
    return list(arrays)


def test_unequal_lengths_come_back_as_one_array_per_case(tmp_path):
    arrays = write_ts(tmp_path / "a.ts", [7, 29, 12], [1, 9, 4])
    sequences, labels = read_ts(tmp_path / "a.ts")
    assert [s.shape for s in sequences] == [(7, 3), (29, 3), (12, 3)]
    for got, want in zip(sequences, arrays):
        np.testing.assert_allclose(got, want)
    assert labels == ["1", "9", "4"]


def test_channels_of_different_lengths_in_one_case_are_an_error(tmp_path):
    (tmp_path / "a.ts").write_text(HEADER + "1,2,3:4,5:1\n")
    with pytest.raises(InvalidInputError, match="line 7"):
        read_ts(tmp_path / "a.ts")


def make_folder(folder):
    labels = np.tile(np.arange(1, 10), 4)
    write_ts(folder / "JapaneseVowels_TRAIN.ts", 7 + labels, labels, seed=0)
    write_ts(folder / "JapaneseVowels_TEST.ts", 8 + labels[:18], labels[:18], seed=1)


def test_labels_are_zero_based_and_the_paper_split_validates_on_the_test_set(tmp_path):
    make_folder(tmp_path)
    data = load_japanese_vowels(tmp_path)
    assert data.sizes() == {"train": 36, "val": 18, "test": 18}
    assert data.train[1].min() == 0 and data.train[1].max() == 8
    assert data.val[1] is data.test[1]


def test_a_validation_share_is_held_out_of_training_by_class(tmp_path):
    make_folder(tmp_path)
    data = load_japanese_vowels(tmp_path, val_fraction=0.25, seed=2)
    assert data.sizes() == {"train": 27, "val": 9, "test": 18}
    assert sorted(data.val[1]) == list(range(9))


def test_missing_files_name_the_extra(monkeypatch, tmp_path):
    monkeypatch.setattr(vowels_module, "package_file", lambda *a: None)
    with pytest.raises(MissingDependencyError, match=r"plnet\[data\]"):
        load_japanese_vowels()
    with pytest.raises(MissingDependencyError, match="JapaneseVowels_TRAIN.ts"):
        load_japanese_vowels(tmp_path)
