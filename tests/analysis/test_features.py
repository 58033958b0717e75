"""Feature extraction: rows stay paired across models, dense maps are pooled, NaN refused."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from fdkd_tf.analysis.errors import AnalysisError
from fdkd_tf.analysis.features import extract_features


def _identity_model(shape):
    inputs = keras.Input(shape)
    return keras.Model(inputs, {"features": keras.layers.Identity()(inputs)})


def test_rows_stay_paired_on_a_shuffled_pipeline_and_maps_are_pooled():
    rng = np.random.default_rng(0)
    teacher = rng.normal(size=(50, 3, 2, 4)).astype("float32")  # dense maps
    student = teacher.mean(axis=(1, 2)) * 2.0  # paired row by row
    labels = np.arange(50, dtype="int32")
    dataset = tf.data.Dataset.from_tensor_slices(({"teacher": teacher, "student": student}, labels))
    dataset = dataset.shuffle(50, seed=1).batch(8)
    models = {"t": (_identity_model((3, 2, 4)), "teacher"), "s": (_identity_model((4,)), "student")}
    features, seen_labels = extract_features(models, dataset)
    assert features["t"].shape == (50, 4) and sorted(seen_labels.tolist()) == list(range(50))
    np.testing.assert_allclose(features["s"], 2.0 * features["t"], rtol=1e-6)
    np.testing.assert_allclose(features["t"], teacher.mean(axis=(1, 2))[seen_labels], rtol=1e-6)


def test_non_finite_features_are_refused_with_the_model_named():
    values = np.ones((4, 5), "float32")
    values[2, 1] = np.nan
    dataset = tf.data.Dataset.from_tensor_slices(({"teacher": values, "student": values}, np.zeros(4, "int32"))).batch(2)
    with pytest.raises(AnalysisError, match="features of broken are NaN or infinite on 1 of 4 samples"):
        extract_features({"broken": (_identity_model((5,)), "teacher")}, dataset)
