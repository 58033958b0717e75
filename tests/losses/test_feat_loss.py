"""Tests of `fdkd_tf.losses.feature_mse` (FitNet-style "Feat" baseline) against numpy."""

import numpy as np
import pytest
import tensorflow as tf

from fdkd_tf.losses import feature_mse


@pytest.mark.parametrize("shape", [(5, 12), (2, 3, 4, 8)])
def test_feature_mse_matches_numpy(shape):
    rng = np.random.default_rng(0)
    student = rng.normal(size=shape).astype(np.float32)
    teacher = rng.normal(2.0, 3.0, size=shape).astype(np.float32)
    actual = feature_mse(student, teacher).numpy()
    assert actual.shape == (shape[0],) and actual.dtype == np.float32
    squared = (student.astype(np.float64) - teacher) ** 2
    np.testing.assert_allclose(actual, squared.reshape(shape[0], -1).mean(axis=1), rtol=1e-5)


def test_feature_mse_is_zero_for_equal_features():
    features = np.random.default_rng(1).normal(size=(3, 7)).astype(np.float32)
    np.testing.assert_array_equal(feature_mse(features, features).numpy(), 0.0)


def test_gradient_reaches_only_the_student():
    rng = np.random.default_rng(2)
    student = tf.constant(rng.normal(size=(4, 6)).astype(np.float32))
    teacher = tf.constant(rng.normal(size=(4, 6)).astype(np.float32))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([student, teacher])
        loss = tf.reduce_sum(feature_mse(student, teacher))
    teacher_gradient = tape.gradient(loss, teacher)
    assert teacher_gradient is None or np.all(teacher_gradient.numpy() == 0.0)
    expected = 2.0 * (student.numpy().astype(np.float64) - teacher.numpy()) / 6
    np.testing.assert_allclose(tape.gradient(loss, student).numpy(), expected, rtol=1e-5)


def test_half_precision_features_give_float32_losses():
    rng = np.random.default_rng(3)
    student = rng.normal(size=(2, 5)).astype(np.float16)
    teacher = rng.normal(size=(2, 5)).astype(np.float16)
    actual = feature_mse(student, teacher)
    assert actual.dtype == tf.float32
    expected = ((student.astype(np.float64) - teacher.astype(np.float64)) ** 2).mean(axis=1)
    np.testing.assert_allclose(actual.numpy(), expected, rtol=1e-5)
