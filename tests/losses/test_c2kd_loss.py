"""`fdkd_tf.losses.c2kd` (Huo et al., 2024): Kendall tau against
`scipy.stats.kendalltau`, the on-the-fly gate and the non-target KL against scipy."""

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import softmax
from scipy.stats import entropy, kendalltau

from fdkd_tf.losses import kendall_tau, non_target_kl, on_the_fly_selection, selected_non_target_kl


def scipy_tau(x, y):
    return np.array([kendalltau(a, b)[0] for a, b in zip(x, y)])


def scipy_non_target_kl(student, teacher, labels, temperature):
    student, teacher = student.astype(np.float64).copy(), teacher.astype(np.float64).copy()
    rows = np.arange(len(labels))
    student[rows, labels] = 0.0
    teacher[rows, labels] = 0.0
    return entropy(softmax(teacher / temperature, -1), softmax(student / temperature, -1), axis=-1)


def test_kendall_tau_matches_scipy_on_continuous_logits():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 7)).astype(np.float32)
    y = (0.5 * x + rng.normal(size=(16, 7))).astype(np.float32)
    actual = kendall_tau(x, y).numpy()
    assert actual.shape == (16,)
    np.testing.assert_allclose(actual, scipy_tau(x, y), atol=1e-6)


def test_kendall_tau_matches_scipy_tau_b_with_ties():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 3, size=(20, 6)).astype(np.float32)
    y = rng.integers(0, 4, size=(20, 6)).astype(np.float32)
    expected = scipy_tau(x, y)
    defined = ~np.isnan(expected)
    assert defined.sum() > 15
    actual = kendall_tau(x, y).numpy()
    np.testing.assert_allclose(actual[defined], expected[defined], atol=1e-6)
    np.testing.assert_array_equal(actual[~defined], 0.0)  # scipy: NaN for a constant row


def test_kendall_tau_extremes_and_a_single_sample():
    x = np.array([[0.1, 2.0, -1.0, 5.0]], np.float32)
    assert float(kendall_tau(x, 3 * x + 1)[0]) == pytest.approx(1.0)
    assert float(kendall_tau(x, -x)[0]) == pytest.approx(-1.0)


def test_selection_gate_matches_scipy_threshold():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(32, 6)).astype(np.float32)
    b = (0.3 * a + rng.normal(size=(32, 6))).astype(np.float32)
    gate = on_the_fly_selection(a, b).numpy()
    np.testing.assert_array_equal(gate, (scipy_tau(a, b) > 0).astype(np.float32))
    assert 0 < gate.sum() < 32  # both kinds of samples occur
    np.testing.assert_array_equal(on_the_fly_selection(a, b, 0.3).numpy(), (scipy_tau(a, b) > 0.3).astype(np.float32))


@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_non_target_kl_matches_scipy(temperature):
    rng = np.random.default_rng(3)
    student = rng.normal(0, 2, size=(8, 5)).astype(np.float32)
    teacher = rng.normal(0, 3, size=(8, 5)).astype(np.float32)
    labels = np.array([0, 0, 1, 1, 0, 1, 0, 1], np.int32)  # classes 2-4 missing from the batch
    actual = non_target_kl(student, teacher, labels, temperature).numpy()
    np.testing.assert_allclose(actual, scipy_non_target_kl(student, teacher, labels, temperature), rtol=1e-4, atol=1e-6)


def test_non_target_kl_ignores_the_true_class_and_is_zero_for_identical_logits():
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(3, 5)).astype(np.float32)
    labels = np.array([1, 4, 0], np.int32)
    np.testing.assert_allclose(non_target_kl(logits, logits, labels).numpy(), 0.0, atol=1e-6)
    changed = logits.copy()
    changed[np.arange(3), labels] += 10.0  # only the true class differs
    np.testing.assert_allclose(non_target_kl(changed, logits, labels).numpy(), 0.0, atol=1e-6)


def test_selected_kl_zeroes_unselected_samples_and_stops_the_other_gradient():
    rng = np.random.default_rng(5)
    student = tf.Variable(rng.normal(size=(4, 5)).astype(np.float32))
    other = tf.Variable(rng.normal(size=(4, 5)).astype(np.float32))
    labels = np.array([0, 1, 2, 3], np.int32)
    selection = np.array([1, 0, 1, 0], np.float32)
    with tf.GradientTape() as tape:
        loss = selected_non_target_kl(student, other, labels, selection)
    full = non_target_kl(student, other, labels).numpy()
    np.testing.assert_allclose(loss.numpy(), full * selection, rtol=1e-6)
    student_grad, other_grad = tape.gradient(loss, [student, other])
    assert other_grad is None
    np.testing.assert_array_equal(student_grad.numpy()[[1, 3]], 0.0)
