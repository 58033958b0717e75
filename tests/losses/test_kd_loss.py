"""Tests of `fdkd_tf.losses.kd_loss` (Hinton et al., 2015) against scipy."""

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import softmax
from scipy.stats import entropy

from fdkd_tf.losses import kd_loss


def scipy_kd(student_logits, teacher_logits, temperature):
    """``T^2 * KL(softmax(t / T) || softmax(s / T))`` per sample, via scipy."""
    teacher_probs = softmax(teacher_logits.astype(np.float64) / temperature, axis=-1)
    student_probs = softmax(student_logits.astype(np.float64) / temperature, axis=-1)
    return temperature**2 * entropy(teacher_probs, student_probs, axis=-1)


def random_logits(seed=0, shape=(6, 10)):
    rng = np.random.default_rng(seed)
    return (rng.normal(0, 3, size=shape).astype(np.float32), rng.normal(1, 5, size=shape).astype(np.float32))


@pytest.mark.parametrize("temperature", [1.0, 2.5, 4.0])
def test_kd_loss_matches_scipy(temperature):
    student, teacher = random_logits()
    actual = kd_loss(student, teacher, temperature).numpy()
    assert actual.shape == (6,) and actual.dtype == np.float32
    np.testing.assert_allclose(actual, scipy_kd(student, teacher, temperature), rtol=1e-4, atol=1e-6)


def test_default_temperature_is_four():
    student, teacher = random_logits(seed=1)
    np.testing.assert_allclose(kd_loss(student, teacher).numpy(), scipy_kd(student, teacher, 4.0), rtol=1e-4)


def test_kd_loss_is_directional():
    student, teacher = random_logits(seed=2)
    forward = kd_loss(student, teacher, 1.0).numpy()
    assert not np.allclose(forward, kd_loss(teacher, student, 1.0).numpy(), rtol=1e-3)


@pytest.mark.parametrize("temperature", [1.0, 4.0])
def test_kd_loss_is_zero_for_identical_or_shifted_logits(temperature):
    student, _ = random_logits(seed=3)
    np.testing.assert_allclose(kd_loss(student, student, temperature).numpy(), 0.0, atol=1e-5)
    np.testing.assert_allclose(kd_loss(student, student + 7.0, temperature).numpy(), 0.0, atol=1e-5)


@pytest.mark.parametrize("temperature", [1.0, 4.0])
def test_gradient_is_t_times_softmax_difference_and_skips_the_teacher(temperature):
    student, teacher = (tf.constant(a) for a in random_logits(seed=4))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([student, teacher])
        loss = tf.reduce_sum(kd_loss(student, teacher, temperature))
    teacher_gradient = tape.gradient(loss, teacher)
    assert teacher_gradient is None or np.all(teacher_gradient.numpy() == 0.0)
    expected = temperature * (
        softmax(student.numpy() / temperature, axis=-1) - softmax(teacher.numpy() / temperature, axis=-1)
    )
    np.testing.assert_allclose(tape.gradient(loss, student).numpy(), expected, rtol=1e-4, atol=1e-6)


def test_half_precision_logits_give_float32_losses():
    student, teacher = random_logits(seed=5)
    actual = kd_loss(student.astype(np.float16), teacher.astype(np.float16), 2.0)
    assert actual.dtype == tf.float32
    expected = scipy_kd(student.astype(np.float16), teacher.astype(np.float16), 2.0)
    np.testing.assert_allclose(actual.numpy(), expected, rtol=1e-4, atol=1e-5)
