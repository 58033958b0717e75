"""Tests for fdkd_tf.data.splits.stratified_split (pure numpy, no TF graph)."""

import numpy as np
import pytest

from fdkd_tf.data.splits import stratified_split

MFEAT_LIKE_LABELS = np.repeat(np.arange(10), 200)  # 10 classes x 200, like mfeat


def test_sizes_and_per_class_counts():
    train, val, test = stratified_split(MFEAT_LIKE_LABELS, 0.2, 0.2, seed=0)
    assert (len(train), len(val), len(test)) == (1200, 400, 400)
    for indices, per_class in ((train, 120), (val, 40), (test, 40)):
        counts = np.bincount(MFEAT_LIKE_LABELS[indices], minlength=10)
        np.testing.assert_array_equal(counts, np.full(10, per_class))


def test_disjoint_and_covering():
    train, val, test = stratified_split(MFEAT_LIKE_LABELS, 0.2, 0.2, seed=3)
    everything = np.concatenate([train, val, test])
    assert len(np.unique(everything)) == len(everything) == 2000
    np.testing.assert_array_equal(np.sort(everything), np.arange(2000))
    for indices in (train, val, test):
        assert indices.dtype == np.int64
        assert np.all(np.diff(indices) > 0)  # sorted, so consumers get a stable order


def test_same_seed_same_split_other_seed_other_split():
    first = stratified_split(MFEAT_LIKE_LABELS, 0.2, 0.2, seed=7)
    again = stratified_split(MFEAT_LIKE_LABELS, 0.2, 0.2, seed=7)
    other = stratified_split(MFEAT_LIKE_LABELS, 0.2, 0.2, seed=8)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[2], other[2])


def test_unsorted_labels_and_uneven_classes():
    rng = np.random.default_rng(0)
    labels = rng.permutation(np.concatenate([np.zeros(10), np.ones(31), np.full(7, 5)]))
    train, val, test = stratified_split(labels, 0.1, 0.3, seed=1)
    # round(n * fraction) per class: class 0 -> 1/3, class 1 -> 3/9, class 5 -> 1/2.
    np.testing.assert_array_equal(np.unique(labels[val], return_counts=True)[1], [1, 3, 1])
    np.testing.assert_array_equal(np.unique(labels[test], return_counts=True)[1], [3, 9, 2])
    assert len(train) + len(val) + len(test) == len(labels)


@pytest.mark.parametrize(
    "val_fraction, test_fraction, match",
    [(0.0, 0.2, "val_fraction"), (0.2, 1.0, "test_fraction"), (0.5, 0.5, "below 1")],
)
def test_bad_fractions(val_fraction, test_fraction, match):
    with pytest.raises(ValueError, match=match):
        stratified_split(MFEAT_LIKE_LABELS, val_fraction, test_fraction, seed=0)


def test_class_too_small_names_the_class():
    labels = np.array([0, 0, 0, 0, 0, 0, 1, 1])
    with pytest.raises(ValueError, match="class 1 has 2 samples"):
        stratified_split(labels, 0.3, 0.3, seed=0)


def test_labels_must_be_1d():
    with pytest.raises(ValueError, match="1-D"):
        stratified_split(np.zeros((4, 2)), 0.2, 0.2, seed=0)
