"""Golden-value tests of the NKD loss (Yang et al., ICCV 2023) against numpy."""

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import softmax

from fdkd_tf.losses import nkd_loss, nkd_non_target_loss, nkd_target_loss


def numpy_nkd(student_logits, teacher_logits, labels, temperature=1.0, gamma=1.5):
    """The paper's formula, normalizing by ``1 - p_t`` explicitly: (target, non-target, total)."""
    student_logits, teacher_logits = student_logits.astype(np.float64), teacher_logits.astype(np.float64)
    rows = np.arange(len(labels))
    student = softmax(student_logits, axis=1)
    teacher = softmax(teacher_logits, axis=1)
    target = -teacher[rows, labels] * np.log(student[rows, labels])
    student_soft = softmax(student_logits / temperature, axis=1)
    teacher_soft = softmax(teacher_logits / temperature, axis=1)
    non_target = np.zeros(len(labels))
    for row, label in enumerate(labels):
        others = [c for c in range(student_logits.shape[1]) if c != label]
        normalized_teacher = teacher_soft[row, others] / (1 - teacher_soft[row, label])
        normalized_student = student_soft[row, others] / (1 - student_soft[row, label])
        non_target[row] = -(temperature**2) * np.sum(normalized_teacher * np.log(normalized_student))
    return target, non_target, target + gamma * non_target


def random_case(seed=0, batch=6, classes=5):
    rng = np.random.default_rng(seed)
    student = rng.normal(0, 2, size=(batch, classes)).astype(np.float32)
    teacher = rng.normal(0, 2, size=(batch, classes)).astype(np.float32)
    labels = rng.integers(0, classes, size=batch).astype(np.int32)
    return student, teacher, labels


@pytest.mark.parametrize("temperature", [1.0, 2.0, 4.0])
def test_terms_match_numpy(temperature):
    student, teacher, labels = random_case()
    target, non_target, total = numpy_nkd(student, teacher, labels, temperature, gamma=0.7)
    np.testing.assert_allclose(nkd_target_loss(student, teacher, labels).numpy(), target, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(
        nkd_non_target_loss(student, teacher, labels, temperature).numpy(), non_target, rtol=1e-4, atol=1e-6
    )
    actual = nkd_loss(student, teacher, labels, temperature, gamma=0.7).numpy()
    assert actual.shape == (6,) and actual.dtype == np.float32
    np.testing.assert_allclose(actual, total, rtol=1e-4, atol=1e-6)


def test_defaults_are_the_papers_temperature_one_gamma_one_and_a_half():
    student, teacher, labels = random_case(seed=1)
    np.testing.assert_allclose(
        nkd_loss(student, teacher, labels).numpy(), numpy_nkd(student, teacher, labels, 1.0, 1.5)[2], rtol=1e-4
    )


@pytest.mark.parametrize("temperature", [1.0, 3.0])
def test_identical_logits_give_entropies_and_no_non_target_gradient(temperature):
    # NKD is a cross-entropy, not a divergence: at S = T it is -T_t log T_t plus
    # lambda^2 times the entropy of the normalized non-target distribution.
    logits, _, labels = random_case(seed=2)
    target, non_target, _ = numpy_nkd(logits, logits, labels, temperature)
    teacher_target = softmax(logits.astype(np.float64), axis=1)[np.arange(6), labels]
    np.testing.assert_allclose(target, -teacher_target * np.log(teacher_target), rtol=1e-10)
    student = tf.constant(logits)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(student)
        non_target_tf = nkd_non_target_loss(student, logits, labels, temperature)
        target_tf = nkd_target_loss(student, logits, labels)
    np.testing.assert_allclose(non_target_tf.numpy(), non_target, rtol=1e-4)
    assert np.all(non_target_tf.numpy() > 0)
    np.testing.assert_allclose(tape.gradient(non_target_tf, student).numpy(), 0.0, atol=1e-5)
    assert np.abs(tape.gradient(target_tf, student).numpy()).max() > 1e-3


def test_teacher_gets_no_gradient():
    student, teacher, labels = (tf.constant(a) for a in random_case(seed=3))
    with tf.GradientTape() as tape:
        tape.watch(teacher)
        loss = tf.reduce_sum(nkd_loss(student, teacher, labels))
    gradient = tape.gradient(loss, teacher)
    assert gradient is None or np.all(gradient.numpy() == 0.0)


def test_per_sample_values_do_not_depend_on_the_batch():
    # A batch of one, and a batch where some classes have no sample, give the same
    # per-sample values as the full batch: NKD couples no samples.
    student, teacher, labels = random_case(seed=4, batch=5, classes=6)
    labels[:] = [0, 0, 1, 1, 0]  # classes 2..5 missing from the batch
    full = nkd_loss(student, teacher, labels).numpy()
    np.testing.assert_allclose(full, numpy_nkd(student, teacher, labels)[2], rtol=1e-4)
    for row in range(5):
        single = nkd_loss(student[row : row + 1], teacher[row : row + 1], labels[row : row + 1]).numpy()
        assert single.shape == (1,)
        assert single[0] == pytest.approx(full[row], rel=1e-5)


def test_confident_teacher_stays_finite_and_two_classes_have_no_non_target_term():
    student, teacher, labels = random_case(seed=5, batch=3, classes=4)
    teacher[np.arange(3), labels] = 80.0  # teacher target probability 1 in float32
    non_target = nkd_non_target_loss(student, teacher, labels).numpy()
    assert np.all(np.isfinite(non_target))
    for row, label in enumerate(labels):  # normalized distribution = softmax over the other logits
        others = [c for c in range(4) if c != label]
        teacher_others = softmax(teacher[row, others].astype(np.float64))
        student_others = softmax(student[row, others].astype(np.float64))
        assert non_target[row] == pytest.approx(-np.sum(teacher_others * np.log(student_others)), rel=1e-4)
    two_student, two_teacher, two_labels = random_case(seed=6, batch=4, classes=2)
    np.testing.assert_allclose(nkd_non_target_loss(two_student, two_teacher, two_labels).numpy(), 0.0, atol=1e-6)
