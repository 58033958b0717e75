"""`fdkd_tf.losses.ofd` (Heo et al., 2019): margin ReLU, partial L2 and the margin
estimate, against numpy written from the paper's definitions."""

import numpy as np
import tensorflow as tf

from fdkd_tf.losses import margin_from_statistics, margin_relu, negative_response_statistics, ofd_loss, partial_l2


def numpy_ofd(student, teacher, margin):
    """``sum_i (T_i - S_i)^2`` except where ``S_i <= T_i <= 0``, ``T = max(t, m)``."""
    target = np.maximum(teacher.astype(np.float64), margin.astype(np.float64))
    student = student.astype(np.float64)
    skip = (student <= target) & (target <= 0)
    squared = np.where(skip, 0.0, (target - student) ** 2)
    return squared.reshape(len(student), -1).sum(-1)


def test_matches_numpy_on_pooled_features():
    rng = np.random.default_rng(0)
    student = rng.normal(size=(6, 10)).astype(np.float32)
    teacher = rng.normal(size=(6, 10)).astype(np.float32)
    margin = -rng.uniform(0.1, 1.0, size=10).astype(np.float32)
    actual = ofd_loss(student, teacher, margin).numpy()
    assert actual.shape == (6,) and actual.dtype == np.float32
    np.testing.assert_allclose(actual, numpy_ofd(student, teacher, margin), rtol=1e-5)


def test_matches_numpy_on_maps_with_channel_margins():
    rng = np.random.default_rng(1)
    student = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)
    teacher = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)
    margin = -rng.uniform(0.1, 1.0, size=5).astype(np.float32)
    np.testing.assert_allclose(ofd_loss(student, teacher, margin).numpy(), numpy_ofd(student, teacher, margin), rtol=1e-5)


def test_hand_computed_partial_l2():
    teacher = np.array([[2.0, -0.5, -3.0, -3.0]], np.float32)
    margin = np.array([-1.0, -1.0, -1.0, -1.0], np.float32)
    # target = [2, -0.5, -1, -1]; student -4 at position 2 is below the target (skipped),
    # student 0 at position 3 is above it: (0 - -1)^2 = 1; position 0: (2 - 1)^2 = 1.
    student = np.array([[1.0, -0.5, -4.0, 0.0]], np.float32)
    np.testing.assert_allclose(margin_relu(teacher, margin).numpy(), [[2.0, -0.5, -1.0, -1.0]])
    assert float(ofd_loss(student, teacher, margin)[0]) == 2.0


def test_student_equal_to_transformed_teacher_gives_zero():
    rng = np.random.default_rng(2)
    teacher = rng.normal(size=(3, 7)).astype(np.float32)
    margin = np.full(7, -0.4, np.float32)
    target = np.maximum(teacher, margin)
    np.testing.assert_allclose(partial_l2(target, target).numpy(), 0.0)
    np.testing.assert_allclose(ofd_loss(target - 5.0 * (target <= 0), teacher, margin).numpy(), 0.0)


def test_batch_of_one_and_teacher_gets_no_gradient():
    rng = np.random.default_rng(3)
    student = tf.Variable(rng.normal(size=(1, 4)).astype(np.float32))
    teacher = tf.Variable(rng.normal(size=(1, 4)).astype(np.float32))
    with tf.GradientTape() as tape:
        loss = ofd_loss(student, teacher, tf.fill([4], -0.5))
    assert loss.shape == (1,)
    assert tape.gradient(loss, teacher) is None


def test_margin_is_mean_of_negative_responses_over_batches():
    rng = np.random.default_rng(4)
    batches = [rng.normal(0.3, 1.0, size=(n, 5)).astype(np.float32) for n in (4, 7, 1)]
    batches[0][:, 4] = np.abs(batches[0][:, 4])  # channel 4: never negative
    batches[1][:, 4] = np.abs(batches[1][:, 4])
    batches[2][:, 4] = np.abs(batches[2][:, 4])
    total_sum, total_count = np.zeros(5), np.zeros(5)
    for batch in batches:
        batch_sum, batch_count = negative_response_statistics(batch)
        total_sum += batch_sum.numpy()
        total_count += batch_count.numpy()
    everything = np.concatenate(batches)
    expected = [everything[everything[:, c] < 0, c].mean() for c in range(4)] + [0.0]
    np.testing.assert_allclose(margin_from_statistics(total_sum, total_count).numpy(), expected, rtol=1e-5)
