"""Tests for the embedded mfeat dataset (fdkd_tf.data.mfeat).

Pairing and preprocessing are checked against an independent read of the shipped
gz files with the csv module, with train statistics recomputed here.
"""

import csv
import gzip
import pathlib
import shutil

import numpy as np
import pytest

import fdkd_tf.data
from fdkd_tf.config import ConfigError, DataConfig
from fdkd_tf.data import build_datasets, stratified_split

RESOURCES = pathlib.Path(fdkd_tf.data.__file__).parent / "resources" / "mfeat"


def _raw_view(view):
    """(features, labels) of one shipped file, read with csv (not np.loadtxt)."""
    with gzip.open(RESOURCES / f"mfeat-{view}.csv.gz", "rt") as handle:
        rows = list(csv.reader(handle))[1:]  # drop the header row
    table = np.array(rows, dtype=np.float64)
    return table[:, :-1], table[:, -1].astype(np.int64)


@pytest.fixture(scope="module")
def raw():
    pix, labels = _raw_view("pix")
    fou, fou_labels = _raw_view("fou")
    np.testing.assert_array_equal(labels, fou_labels)
    return {"pix": pix, "fou": fou, "labels": labels}


@pytest.fixture(scope="module")
def bundle():
    return build_datasets(DataConfig(batch_size=64), seed=0, deterministic=True)


def _collect(dataset):
    """All batches of a split concatenated: ({key: array}, labels)."""
    teacher, student, labels = [], [], []
    for inputs, label in dataset.as_numpy_iterator():
        teacher.append(inputs["teacher"])
        student.append(inputs["student"])
        labels.append(label)
    inputs = {"teacher": np.concatenate(teacher), "student": np.concatenate(student)}
    return inputs, np.concatenate(labels)


def _standardised_fou(raw, train_idx):
    mean = raw["fou"][train_idx].mean(axis=0)
    std = raw["fou"][train_idx].std(axis=0)
    return (raw["fou"] - mean) / std


def test_metadata(bundle):
    assert bundle.sizes == {"train": 1200, "val": 400, "test": 400}
    assert bundle.num_classes == 10
    assert bundle.class_names == [str(d) for d in range(10)]
    assert bundle.input_shapes == {"teacher": (16, 15, 1), "student": (76,)}
    assert bundle.modalities == {"teacher": "pix", "student": "fou"}


def test_batch_shapes_and_dtypes(bundle):
    inputs, labels = next(iter(bundle.train))
    assert set(inputs) == {"teacher", "student"}
    assert inputs["teacher"].shape == (64, 16, 15, 1) and inputs["teacher"].dtype.name == "float32"
    assert inputs["student"].shape == (64, 76) and inputs["student"].dtype.name == "float32"
    assert labels.shape == (64,) and labels.dtype.name == "int32"


def test_split_sizes_and_class_balance(bundle):
    for split, per_class in (("train", 120), ("val", 40), ("test", 40)):
        _, labels = _collect(bundle.split(split))
        np.testing.assert_array_equal(np.bincount(labels, minlength=10), np.full(10, per_class))


def test_val_and_test_pair_rows_in_split_order(bundle, raw):
    train_idx, val_idx, test_idx = stratified_split(raw["labels"], 0.2, 0.2, seed=0)
    expected_student = _standardised_fou(raw, train_idx)
    for split, indices in (("val", val_idx), ("test", test_idx)):
        inputs, labels = _collect(bundle.split(split))
        np.testing.assert_array_equal(labels, raw["labels"][indices])
        pixels = inputs["teacher"].reshape(-1, 240) * 6.0
        np.testing.assert_array_equal(pixels, raw["pix"][indices])
        np.testing.assert_allclose(
            inputs["student"], expected_student[indices], rtol=1e-5, atol=1e-5
        )


def test_shuffled_train_keeps_teacher_and_student_of_one_row_together(bundle, raw):
    train_idx, _, _ = stratified_split(raw["labels"], 0.2, 0.2, seed=0)
    expected_student = _standardised_fou(raw, train_idx)
    inputs, labels = next(bundle.train.as_numpy_iterator())
    pixels = np.rint(inputs["teacher"].reshape(-1, 240) * 6.0)
    for pixel_row, student_row, label in zip(pixels, inputs["student"], labels):
        candidates = train_idx[np.all(raw["pix"][train_idx] == pixel_row, axis=1)]
        assert len(candidates) >= 1  # the image is a training row
        distances = np.abs(expected_student[candidates] - student_row).max(axis=1)
        assert distances.min() < 1e-4, "student input is not the fou row of the teacher's sample"
        assert label == raw["labels"][candidates[distances.argmin()]]


def test_train_split_is_standardised_and_images_in_unit_range(bundle):
    inputs, _ = _collect(bundle.train)
    np.testing.assert_allclose(inputs["student"].mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(inputs["student"].std(axis=0), 1.0, atol=1e-3)
    assert inputs["teacher"].min() == 0.0 and inputs["teacher"].max() == 1.0


def test_split_ignores_experiment_seed_and_follows_split_seed(bundle):
    val_student = _collect(bundle.val)[0]["student"]
    other_seed = build_datasets(DataConfig(), seed=123)
    np.testing.assert_array_equal(_collect(other_seed.val)[0]["student"], val_student)
    np.testing.assert_array_equal(
        other_seed.representative_inputs("test", "teacher", 400),
        bundle.representative_inputs("test", "teacher", 400),
    )
    other_split = build_datasets(DataConfig(split_seed=1), seed=0)
    assert not np.array_equal(
        other_split.representative_inputs("test", "teacher", 400),
        bundle.representative_inputs("test", "teacher", 400),
    )


def test_train_order_follows_seed_and_reshuffles_each_epoch():
    def first_labels(dataset):
        return next(dataset.as_numpy_iterator())[1]

    # Fresh bundles: iterating a pipeline advances its shuffle state.
    seeded = build_datasets(DataConfig(), seed=0)
    epoch_one, epoch_two = first_labels(seeded.train), first_labels(seeded.train)
    assert not np.array_equal(epoch_one, epoch_two)
    same_seed = build_datasets(DataConfig(), seed=0)
    np.testing.assert_array_equal(first_labels(same_seed.train), epoch_one)
    other_seed = build_datasets(DataConfig(), seed=1)
    assert not np.array_equal(first_labels(other_seed.train), epoch_one)


def test_deterministic_option(bundle):
    for split in ("train", "val", "test"):
        assert bundle.split(split).options().deterministic is True


def test_vector_teacher_and_image_student():
    swapped = build_datasets(DataConfig(teacher="mor", student="pix", batch_size=8), seed=0)
    assert swapped.input_shapes == {"teacher": (6,), "student": (16, 15, 1)}
    inputs, _ = next(iter(swapped.val))
    assert inputs["teacher"].shape == (8, 6) and inputs["student"].shape == (8, 16, 15, 1)


@pytest.mark.parametrize("key", ["teacher", "student"])
def test_unknown_view_names_the_key_and_the_views(key):
    with pytest.raises(ConfigError, match=rf"data\.{key}.*pix, fou, fac, kar, zer, mor.*'edges'"):
        build_datasets(DataConfig(**{key: "edges"}), seed=0)


def test_root_with_copied_files_matches_embedded(tmp_path, bundle):
    for view in ("pix", "fou"):
        shutil.copy(RESOURCES / f"mfeat-{view}.csv.gz", tmp_path)
    from_root = build_datasets(DataConfig(root=str(tmp_path)), seed=0)
    np.testing.assert_array_equal(
        from_root.representative_inputs("val", "student", 400),
        bundle.representative_inputs("val", "student", 400),
    )


def test_missing_file_under_root_names_path_and_expected_files(tmp_path):
    shutil.copy(RESOURCES / "mfeat-pix.csv.gz", tmp_path)
    with pytest.raises(ConfigError) as error:
        build_datasets(DataConfig(root=str(tmp_path)), seed=0)
    message = str(error.value)
    assert str(tmp_path / "mfeat-fou.csv.gz") in message
    for expected in ("data.root", "mfeat-pix.csv.gz", "mfeat-mor.csv.gz"):
        assert expected in message


def test_root_that_is_not_a_directory(tmp_path):
    with pytest.raises(ConfigError, match=r"data\.root.*not a directory"):
        build_datasets(DataConfig(root=str(tmp_path / "nowhere")), seed=0)


def _write_view(path, features, labels):
    with gzip.open(path, "wt") as handle:
        handle.write(",".join(str(i) for i in range(features.shape[1] + 1)) + "\n")
        for row, label in zip(features, labels):
            handle.write(",".join(repr(float(v)) for v in row) + f",{label}\n")


def test_misaligned_file_is_named(tmp_path, raw):
    shutil.copy(RESOURCES / "mfeat-pix.csv.gz", tmp_path)
    order = np.roll(np.arange(2000), 1)  # every row moved by one: labels no longer line up
    _write_view(tmp_path / "mfeat-fou.csv.gz", raw["fou"][order], raw["labels"][order])
    with pytest.raises(ValueError, match="mfeat-fou.csv.gz.*not aligned"):
        build_datasets(DataConfig(root=str(tmp_path)), seed=0)


def test_short_file_is_named(tmp_path, raw):
    shutil.copy(RESOURCES / "mfeat-pix.csv.gz", tmp_path)
    _write_view(tmp_path / "mfeat-fou.csv.gz", raw["fou"][:10], raw["labels"][:10])
    with pytest.raises(ValueError, match=r"mfeat-fou\.csv\.gz has 10 data rows"):
        build_datasets(DataConfig(root=str(tmp_path)), seed=0)
