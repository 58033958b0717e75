"""Golden-value tests of the DKD losses (Zhao et al., CVPR 2022) against scipy."""

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import logsumexp, softmax
from scipy.stats import entropy

from fdkd_tf.losses import dkd_loss, kd_loss, nckd_loss, tckd_loss


def scipy_dkd(student_logits, teacher_logits, labels, temperature):
    """(TCKD, NCKD) per sample from the paper's definitions, with scipy's KL."""
    student = softmax(student_logits.astype(np.float64) / temperature, axis=1)
    teacher = softmax(teacher_logits.astype(np.float64) / temperature, axis=1)
    tckd, nckd = [], []
    for row, label in enumerate(labels):
        binary_student = [student[row, label], 1 - student[row, label]]
        binary_teacher = [teacher[row, label], 1 - teacher[row, label]]
        tckd.append(entropy(binary_teacher, binary_student))
        others = [c for c in range(student.shape[1]) if c != label]
        nckd.append(entropy(teacher[row, others] / binary_teacher[1], student[row, others] / binary_student[1]))
    return temperature**2 * np.array(tckd), temperature**2 * np.array(nckd)


def random_case(seed=0, batch=6, classes=5):
    rng = np.random.default_rng(seed)
    student = rng.normal(0, 3, size=(batch, classes)).astype(np.float32)
    teacher = rng.normal(0, 3, size=(batch, classes)).astype(np.float32)
    labels = rng.integers(0, classes, size=batch).astype(np.int32)
    return student, teacher, labels


@pytest.mark.parametrize("temperature", [1.0, 2.0, 4.0])
def test_tckd_and_nckd_match_scipy(temperature):
    student, teacher, labels = random_case()
    tckd, nckd = scipy_dkd(student, teacher, labels, temperature)
    actual_tckd = tckd_loss(student, teacher, labels, temperature).numpy()
    assert actual_tckd.shape == (6,) and actual_tckd.dtype == np.float32
    # atol: float32 log-ratios of nearly equal distributions, times T^2.
    np.testing.assert_allclose(actual_tckd, tckd, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(nckd_loss(student, teacher, labels, temperature).numpy(), nckd, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        dkd_loss(student, teacher, labels, 0.5, 3.0, temperature).numpy(), 0.5 * tckd + 3.0 * nckd, rtol=1e-4, atol=1e-5
    )


def test_defaults_are_alpha_one_beta_eight_temperature_four():
    student, teacher, labels = random_case(seed=1)
    tckd, nckd = scipy_dkd(student, teacher, labels, 4.0)
    np.testing.assert_allclose(dkd_loss(student, teacher, labels).numpy(), tckd + 8.0 * nckd, rtol=1e-4)


@pytest.mark.parametrize("temperature", [1.0, 4.0])
def test_kd_decomposes_into_tckd_plus_weighted_nckd(temperature):
    # The paper's reformulation: KD = TCKD + (1 - p_t^teacher) * NCKD, both sides scaled by T^2.
    student, teacher, labels = random_case(seed=2)
    teacher_non_target = 1 - softmax(teacher.astype(np.float64) / temperature, axis=1)[np.arange(6), labels]
    decomposed = (
        tckd_loss(student, teacher, labels, temperature).numpy()
        + teacher_non_target * nckd_loss(student, teacher, labels, temperature).numpy()
    )
    np.testing.assert_allclose(decomposed, kd_loss(student, teacher, temperature).numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("temperature", [1.0, 4.0])
def test_identical_or_shifted_logits_give_zero(temperature):
    logits, _, labels = random_case(seed=3)
    np.testing.assert_allclose(dkd_loss(logits, logits, labels, temperature=temperature).numpy(), 0.0, atol=1e-5)
    np.testing.assert_allclose(dkd_loss(logits, logits + 5.0, labels, temperature=temperature).numpy(), 0.0, atol=1e-5)


def test_teacher_gets_no_gradient_and_student_gradient_is_finite():
    student, teacher, labels = (tf.constant(a) for a in random_case(seed=4))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([student, teacher])
        loss = tf.reduce_sum(dkd_loss(student, teacher, labels))
    teacher_gradient = tape.gradient(loss, teacher)
    assert teacher_gradient is None or np.all(teacher_gradient.numpy() == 0.0)
    student_gradient = tape.gradient(loss, student).numpy()
    assert np.all(np.isfinite(student_gradient)) and np.abs(student_gradient).max() > 0


def test_batch_of_one_and_classes_missing_from_the_batch():
    student, teacher, labels = random_case(seed=5, batch=4, classes=6)
    labels[:] = [3, 3, 1, 3]  # four of six classes have no sample
    full = dkd_loss(student, teacher, labels).numpy()
    tckd, nckd = scipy_dkd(student, teacher, labels, 4.0)
    np.testing.assert_allclose(full, tckd + 8.0 * nckd, rtol=1e-4)
    for row in range(4):
        single = dkd_loss(student[row : row + 1], teacher[row : row + 1], labels[row : row + 1]).numpy()
        assert single.shape == (1,) and single[0] == pytest.approx(full[row], rel=1e-5)


def test_extreme_logits_stay_finite_and_two_classes_reduce_to_kd():
    student, teacher, labels = random_case(seed=6, batch=3, classes=4)
    teacher[np.arange(3), labels] = 200.0  # p_t = 1 exactly in float32
    student[0, labels[0]] = -200.0  # p_t = 0 exactly in float32
    values = dkd_loss(student, teacher, labels, temperature=1.0).numpy()
    assert np.all(np.isfinite(values))
    # With the teacher certain, TCKD = -log p_t^student = 200 + logsumexp(student row),
    # taken in log space (no log(0)).
    expected = 200.0 + logsumexp(student[0].astype(np.float64))
    assert tckd_loss(student, teacher, labels, 1.0).numpy()[0] == pytest.approx(expected, rel=1e-5)
    two_student, two_teacher, two_labels = random_case(seed=7, batch=5, classes=2)
    np.testing.assert_allclose(nckd_loss(two_student, two_teacher, two_labels).numpy(), 0.0, atol=1e-6)
    np.testing.assert_allclose(
        tckd_loss(two_student, two_teacher, two_labels).numpy(), kd_loss(two_student, two_teacher).numpy(), rtol=1e-4
    )
