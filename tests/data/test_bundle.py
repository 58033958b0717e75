"""Tests for fdkd_tf.data.bundle.DatasetBundle on a tiny hand-made dataset."""

import numpy as np
import pytest
import tensorflow as tf

from fdkd_tf.data import DatasetBundle


def _tiny_bundle(with_ordered: bool) -> DatasetBundle:
    teacher = np.arange(10 * 3, dtype=np.float32).reshape(10, 3)
    student = -np.arange(10 * 2, dtype=np.float32).reshape(10, 2)
    labels = np.arange(10, dtype=np.int32) % 2

    def unbatched(rows):
        return tf.data.Dataset.from_tensor_slices(
            ({"teacher": teacher[rows], "student": student[rows]}, labels[rows])
        )

    rows = {"train": slice(0, 6), "val": slice(6, 8), "test": slice(8, 10)}
    return DatasetBundle(
        train=unbatched(rows["train"]).shuffle(6, seed=0).batch(4),
        val=unbatched(rows["val"]).batch(4),
        test=unbatched(rows["test"]).batch(4),
        num_classes=2,
        class_names=["even", "odd"],
        input_shapes={"teacher": (3,), "student": (2,)},
        modalities={"teacher": "a", "student": "b"},
        sizes={"train": 6, "val": 2, "test": 2},
        ordered={name: unbatched(r) for name, r in rows.items()} if with_ordered else {},
    )


def test_representative_inputs_reads_the_ordered_split():
    bundle = _tiny_bundle(with_ordered=True)
    inputs = bundle.representative_inputs("train", "student", 3)
    assert inputs.dtype == np.float32
    np.testing.assert_array_equal(inputs, -np.arange(6, dtype=np.float32).reshape(3, 2))
    np.testing.assert_array_equal(bundle.representative_inputs("train", "student", 3), inputs)


def test_representative_inputs_falls_back_to_batched_split_and_caps_count():
    bundle = _tiny_bundle(with_ordered=False)
    inputs = bundle.representative_inputs("test", "teacher", 100)
    np.testing.assert_array_equal(inputs, np.arange(24, 30, dtype=np.float32).reshape(2, 3))


@pytest.mark.parametrize(
    "split, key, count, match",
    [("training", "student", 1, "unknown split 'training'"),
     ("val", "pupil", 1, "unknown modality key 'pupil'"),
     ("val", "student", 0, "positive integer")],
)
def test_representative_inputs_rejects_bad_arguments(split, key, count, match):
    with pytest.raises(ValueError, match=match):
        _tiny_bundle(with_ordered=True).representative_inputs(split, key, count)
