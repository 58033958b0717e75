"""Golden-value tests of the DIST losses (Huang et al., NeurIPS 2022) against scipy."""

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import softmax
from scipy.stats import pearsonr

from fdkd_tf.losses import dist_inter_loss, dist_intra_loss, dist_loss


def correlation_or_zero(first, second):
    """Pearson correlation; 0 for a constant vector (the eps guard of DIST's code)."""
    if np.ptp(first) == 0 or np.ptp(second) == 0:
        return 0.0
    return pearsonr(first, second)[0]


def scipy_inter(student_logits, teacher_logits, tau):
    student = softmax(student_logits.astype(np.float64) / tau, axis=1)
    teacher = softmax(teacher_logits.astype(np.float64) / tau, axis=1)
    return np.array([tau**2 * (1 - correlation_or_zero(s, t)) for s, t in zip(student, teacher)])


def scipy_intra(student_logits, teacher_logits, tau):
    student = softmax(student_logits.astype(np.float64) / tau, axis=1)
    teacher = softmax(teacher_logits.astype(np.float64) / tau, axis=1)
    columns = [1 - correlation_or_zero(student[:, j], teacher[:, j]) for j in range(student.shape[1])]
    return tau**2 * np.mean(columns)


def random_logits(seed=0, shape=(8, 5)):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 2, size=shape).astype(np.float32), rng.normal(0, 3, size=shape).astype(np.float32)


@pytest.mark.parametrize("tau", [1.0, 2.0, 4.0])
def test_inter_and_intra_match_scipy(tau):
    student, teacher = random_logits()
    inter = dist_inter_loss(student, teacher, tau).numpy()
    intra = dist_intra_loss(student, teacher, tau).numpy()
    assert inter.shape == intra.shape == (8,) and inter.dtype == np.float32
    np.testing.assert_allclose(inter, scipy_inter(student, teacher, tau), rtol=1e-4, atol=1e-6)
    # The batch-level intra-class value is broadcast: every sample carries it.
    np.testing.assert_allclose(intra, np.full(8, scipy_intra(student, teacher, tau)), rtol=1e-4, atol=1e-6)


def test_dist_loss_weights_the_two_relations_and_defaults_to_one():
    student, teacher = random_logits(seed=1)
    expected = 2.0 * scipy_inter(student, teacher, 1.5) + 0.5 * scipy_intra(student, teacher, 1.5)
    np.testing.assert_allclose(dist_loss(student, teacher, 2.0, 0.5, 1.5).numpy(), expected, rtol=1e-4)
    # Defaults beta = gamma = tau = 1 (paper and C2KD code); the mean is the batch loss.
    default = dist_loss(student, teacher).numpy()
    batch_loss = scipy_inter(student, teacher, 1.0).mean() + scipy_intra(student, teacher, 1.0)
    assert default.mean() == pytest.approx(batch_loss, rel=1e-4)


@pytest.mark.parametrize("tau", [1.0, 4.0])
def test_identical_or_shifted_predictions_give_zero(tau):
    student, _ = random_logits(seed=2)
    np.testing.assert_allclose(dist_loss(student, student, tau=tau).numpy(), 0.0, atol=1e-4)
    np.testing.assert_allclose(dist_loss(student, student + 3.0, tau=tau).numpy(), 0.0, atol=1e-4)
    # Anti-correlated predictions are as far as the distance goes: 2 tau^2 per sample row.
    assert dist_inter_loss(student, -student, tau).numpy().min() > 0.5 * tau**2


def test_gradient_reaches_only_the_student_and_matches_finite_differences():
    student, teacher = (tf.constant(a) for a in random_logits(seed=3, shape=(4, 3)))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([student, teacher])
        loss = tf.reduce_mean(dist_loss(student, teacher))
    teacher_gradient = tape.gradient(loss, teacher)
    assert teacher_gradient is None or np.all(teacher_gradient.numpy() == 0.0)
    gradient = tape.gradient(loss, student).numpy()
    base = student.numpy().astype(np.float64)

    def numpy_loss(logits):
        return scipy_inter(logits, teacher.numpy(), 1.0).mean() + scipy_intra(logits, teacher.numpy(), 1.0)

    step = 1e-4
    for index in [(0, 0), (1, 2), (3, 1)]:
        plus, minus = base.copy(), base.copy()
        plus[index] += step
        minus[index] -= step
        numeric = (numpy_loss(plus) - numpy_loss(minus)) / (2 * step)
        assert gradient[index] == pytest.approx(numeric, rel=2e-2, abs=2e-4)


def test_batch_of_one_has_constant_intra_term_and_finite_gradient():
    student, teacher = (tf.constant(a) for a in random_logits(seed=4, shape=(1, 5)))
    with tf.GradientTape() as tape:
        tape.watch(student)
        intra = dist_intra_loss(student, teacher, 2.0)
        total = tf.reduce_mean(dist_loss(student, teacher, tau=2.0))
    # A one-sample column is constant: correlation 0, distance 1, times tau^2.
    np.testing.assert_allclose(intra.numpy(), [4.0], rtol=1e-6)
    np.testing.assert_allclose(total.numpy(), scipy_inter(student.numpy(), teacher.numpy(), 2.0) + 4.0, rtol=1e-4)
    gradient = tape.gradient(total, student).numpy()
    assert np.all(np.isfinite(gradient)) and np.any(gradient != 0.0)  # from the inter term only


def test_class_the_teacher_never_predicts_counts_as_uncorrelated():
    # Labels do not enter DIST; a class column is "missing" when the teacher gives it
    # probability 0 on every sample, a constant column of correlation 0.
    student, teacher = random_logits(seed=5)
    teacher[:, 2] = -1e4
    intra = dist_intra_loss(student, teacher, 1.0).numpy()
    np.testing.assert_allclose(intra, scipy_intra(student, teacher, 1.0), rtol=1e-4)
    assert np.all(np.isfinite(dist_loss(student, teacher).numpy()))
