"""`fdkd_tf.losses.pkd_loss` (Cao et al., 2022) against an independent numpy
Pearson correlation: MSE of standardized features / 2 = 1 - r."""

import numpy as np
import pytest
import tensorflow as tf

from fdkd_tf.losses import pkd_loss


def numpy_one_minus_pearson(student, teacher):
    """``1 - r`` per sample via ``np.corrcoef`` (vectors) or per channel averaged (maps)."""
    student = student.astype(np.float64)
    teacher = teacher.astype(np.float64)
    losses = []
    for s, t in zip(student, teacher):
        if s.ndim == 1:
            losses.append(1.0 - np.corrcoef(s, t)[0, 1])
        else:
            s = s.reshape(-1, s.shape[-1])  # (positions, C)
            t = t.reshape(-1, t.shape[-1])
            losses.append(np.mean([1.0 - np.corrcoef(s[:, c], t[:, c])[0, 1] for c in range(s.shape[1])]))
    return np.array(losses)


def test_pooled_features_give_one_minus_pearson():
    rng = np.random.default_rng(0)
    student = rng.normal(size=(5, 12)).astype(np.float32)
    teacher = (0.6 * student + rng.normal(size=(5, 12))).astype(np.float32) * 3.0 + 2.0
    actual = pkd_loss(student, teacher).numpy()
    assert actual.shape == (5,) and actual.dtype == np.float32
    np.testing.assert_allclose(actual, numpy_one_minus_pearson(student, teacher), rtol=1e-4, atol=1e-5)


def test_dense_maps_are_standardized_per_channel():
    rng = np.random.default_rng(1)
    student = rng.normal(size=(3, 4, 5, 6)).astype(np.float32)
    teacher = (student * rng.uniform(0.5, 2, size=(1, 1, 1, 6)) + rng.normal(size=(3, 4, 5, 6))).astype(np.float32)
    np.testing.assert_allclose(pkd_loss(student, teacher).numpy(), numpy_one_minus_pearson(student, teacher), rtol=1e-4, atol=1e-5)


def test_identical_or_affine_features_give_zero_and_negated_give_two():
    x = np.random.default_rng(2).normal(size=(4, 16)).astype(np.float32)
    np.testing.assert_allclose(pkd_loss(x, x).numpy(), 0.0, atol=1e-5)
    np.testing.assert_allclose(pkd_loss(5.0 * x - 3.0, x).numpy(), 0.0, atol=1e-5)
    np.testing.assert_allclose(pkd_loss(-x, x).numpy(), 2.0, atol=1e-4)


def test_batch_of_one_is_independent_of_the_rest_of_the_batch():
    rng = np.random.default_rng(3)
    student, teacher = rng.normal(size=(2, 2, 8)).astype(np.float32)
    alone = pkd_loss(student[:1], teacher[:1]).numpy()
    assert alone.shape == (1,)
    np.testing.assert_allclose(alone, pkd_loss(student, teacher).numpy()[:1], rtol=1e-6)


def test_gradient_flows_to_the_student_only():
    rng = np.random.default_rng(4)
    student = tf.Variable(rng.normal(size=(3, 8)).astype(np.float32))
    teacher = tf.Variable(rng.normal(size=(3, 8)).astype(np.float32))
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(pkd_loss(student, teacher))
    student_grad, teacher_grad = tape.gradient(loss, [student, teacher])
    assert teacher_grad is None and float(tf.reduce_max(tf.abs(student_grad))) > 0


def test_constant_feature_is_finite():
    student = np.ones((1, 8), np.float32)
    teacher = np.arange(8, dtype=np.float32)[None]
    assert float(pkd_loss(student, teacher)[0]) == pytest.approx(0.5, abs=1e-5)
