"""Tests of the FD-CMKD band losses (paper Eq. 8-9) and their Keras wrappers."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from fdkd_tf.losses import HighBandLoss, LowBandLoss, high_band_loss, low_band_loss


def numpy_standardize(features):
    centred = features.astype(np.float64) - features.mean(axis=-1, keepdims=True)
    return centred / np.linalg.norm(centred, axis=-1, keepdims=True)


def numpy_sigma(values):
    return np.sign(values) * np.log1p(np.abs(values))


def per_sample_mean(values):
    return values.reshape(values.shape[0], -1).mean(axis=-1)


def numpy_low(student, teacher, scale=True):
    if scale:
        student, teacher = numpy_standardize(student), numpy_standardize(teacher)
    return per_sample_mean((student.astype(np.float64) - teacher) ** 2)


def numpy_high(student, teacher, scale=True, log=True):
    student, teacher = student.astype(np.float64), teacher.astype(np.float64)
    if scale:
        student, teacher = numpy_standardize(student), numpy_standardize(teacher)
    if log:
        student, teacher = numpy_sigma(student), numpy_sigma(teacher)
    return per_sample_mean((student - teacher) ** 2)


def random_pair(shape, seed=0):
    rng = np.random.default_rng(seed)
    student = rng.normal(0.5, 2.0, size=shape).astype(np.float32)
    teacher = rng.normal(-1.0, 30.0, size=shape).astype(np.float32)  # another scale
    return student, teacher


@pytest.mark.parametrize("shape", [(5, 32), (3, 4, 16)])
@pytest.mark.parametrize("scale", [True, False])
def test_low_band_loss_matches_numpy(shape, scale):
    student, teacher = random_pair(shape)
    actual = low_band_loss(student, teacher, scale=scale).numpy()
    assert actual.shape == (shape[0],) and actual.dtype == np.float32
    np.testing.assert_allclose(actual, numpy_low(student, teacher, scale), rtol=1e-5)


def test_low_band_loss_is_eq8_mean_over_batch_and_dim():
    student, teacher = random_pair((6, 64), seed=1)
    difference = numpy_standardize(student) - numpy_standardize(teacher)
    eq8 = np.sum(difference**2) / (6 * 64)  # 1 / (N D) ||.||^2
    np.testing.assert_allclose(np.mean(low_band_loss(student, teacher).numpy()), eq8, rtol=1e-5)


@pytest.mark.parametrize("shape", [(5, 32), (3, 4, 16)])
@pytest.mark.parametrize("scale,log", [(True, True), (True, False), (False, True), (False, False)])
def test_high_band_loss_matches_numpy(shape, scale, log):
    student, teacher = random_pair(shape, seed=2)
    actual = high_band_loss(student, teacher, scale=scale, log=log).numpy()
    assert actual.shape == (shape[0],)
    np.testing.assert_allclose(actual, numpy_high(student, teacher, scale, log), rtol=1e-5)


def test_high_band_log_shrinks_large_differences():
    student, teacher = random_pair((4, 16), seed=3)
    with_log = high_band_loss(student, teacher, scale=False, log=True).numpy()
    without_log = high_band_loss(student, teacher, scale=False, log=False).numpy()
    assert np.all(with_log < without_log)


def test_losses_are_scale_invariant_and_zero_for_equal_directions():
    student, _ = random_pair((4, 32), seed=4)
    teacher = 25.0 * student + 3.0  # same direction after Std
    np.testing.assert_allclose(low_band_loss(student, teacher).numpy(), 0.0, atol=1e-10)
    np.testing.assert_allclose(high_band_loss(student, teacher).numpy(), 0.0, atol=1e-10)
    assert np.all(low_band_loss(student, teacher, scale=False).numpy() > 1.0)


@pytest.mark.parametrize("loss_fn", [low_band_loss, high_band_loss])
def test_no_gradient_reaches_the_teacher(loss_fn):
    student, teacher = (tf.constant(a) for a in random_pair((4, 16), seed=5))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([student, teacher])
        loss = tf.reduce_sum(loss_fn(student, teacher))
    teacher_gradient = tape.gradient(loss, teacher)
    assert teacher_gradient is None or np.all(teacher_gradient.numpy() == 0.0)
    assert np.max(np.abs(tape.gradient(loss, student).numpy())) > 0.0


def test_low_band_gradient_matches_numpy_without_scale():
    student, teacher = random_pair((3, 8), seed=6)
    tensor = tf.constant(student)
    with tf.GradientTape() as tape:
        tape.watch(tensor)
        loss = tf.reduce_sum(low_band_loss(tensor, teacher, scale=False))
    expected = 2.0 * (student.astype(np.float64) - teacher) / 8
    np.testing.assert_allclose(tape.gradient(loss, tensor).numpy(), expected, rtol=1e-5)


@pytest.mark.parametrize("dim", [4, 7, 32, 512])
def test_band_losses_never_exceed_four_over_dim(dim):
    rng = np.random.default_rng(dim)
    student = rng.normal(size=(64, dim)).astype(np.float32)
    teacher = rng.standard_cauchy(size=(64, dim)).astype(np.float32)
    opposite = -3.0 * student  # the worst case: Std(teacher) = -Std(student)
    bound = 4.0 / dim * (1 + 1e-5)
    for other in (teacher, opposite):
        assert np.all(low_band_loss(student, other).numpy() <= bound)
        assert np.all(high_band_loss(student, other).numpy() <= bound)
    np.testing.assert_allclose(low_band_loss(student, opposite).numpy(), 4.0 / dim, rtol=1e-5)


def test_unrelated_512d_features_are_of_order_one_over_dim():
    student, teacher = random_pair((256, 512), seed=7)
    # E ||a - b||^2 = 2 for independent unit vectors: mean loss close to 2 / 512.
    np.testing.assert_allclose(np.mean(low_band_loss(student, teacher).numpy()), 2.0 / 512, rtol=0.05)


@pytest.mark.parametrize(
    "loss_object,reference",
    [
        (LowBandLoss(), lambda s, t: numpy_low(s, t)),
        (LowBandLoss(scale=False), lambda s, t: numpy_low(s, t, scale=False)),
        (HighBandLoss(), lambda s, t: numpy_high(s, t)),
        (HighBandLoss(scale=False, log=False), lambda s, t: numpy_high(s, t, False, False)),
    ],
)
def test_keras_wrappers_give_the_batch_mean(loss_object, reference):
    student, teacher = random_pair((6, 24), seed=8)
    actual = loss_object(teacher, student).numpy()  # loss(y_true=teacher, y_pred=student)
    assert actual.shape == ()
    np.testing.assert_allclose(actual, reference(student, teacher).mean(), rtol=1e-5)


@pytest.mark.parametrize("loss_object", [LowBandLoss(), HighBandLoss()])
def test_keras_wrappers_stop_the_gradient_of_y_true(loss_object):
    student, teacher = (tf.constant(a) for a in random_pair((4, 16), seed=9))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([student, teacher])
        loss = loss_object(teacher, student)
    teacher_gradient = tape.gradient(loss, teacher)
    assert teacher_gradient is None or np.all(teacher_gradient.numpy() == 0.0)
    assert np.max(np.abs(tape.gradient(loss, student).numpy())) > 0.0


def test_keras_wrapper_configs_round_trip():
    low = keras.losses.deserialize(keras.losses.serialize(LowBandLoss(scale=False, name="low")))
    assert isinstance(low, LowBandLoss) and low.scale is False and low.name == "low"
    high = keras.losses.deserialize(keras.losses.serialize(HighBandLoss(scale=True, log=False)))
    assert isinstance(high, HighBandLoss) and (high.scale, high.log) == (True, False)


@pytest.mark.parametrize("loss_object,per_sample", [(LowBandLoss(), numpy_low), (HighBandLoss(), numpy_high)])
def test_keras_wrappers_scale_by_replicas_under_mirrored_strategy(loss_object, per_sample, mirrored_strategy):
    strategy = mirrored_strategy
    assert strategy.num_replicas_in_sync == 2
    student, teacher = random_pair((8, 16), seed=10)
    slices = np.split(np.arange(8), 2)  # replica i gets samples slices[i]

    def per_replica(context, array):
        return tf.constant(array[slices[context.replica_id_in_sync_group]])

    students = strategy.experimental_distribute_values_from_function(lambda c: per_replica(c, student))
    teachers = strategy.experimental_distribute_values_from_function(lambda c: per_replica(c, teacher))

    @tf.function
    def replica_losses(teacher_band, student_band):
        return strategy.run(loss_object, args=(teacher_band, student_band))

    results = strategy.experimental_local_results(replica_losses(teachers, students))
    assert len(results) == 2
    for result, rows in zip(results, slices):
        replica_mean = per_sample(student[rows], teacher[rows]).mean()
        np.testing.assert_allclose(result.numpy(), replica_mean / 2, rtol=1e-5)
    # Summed over replicas: the global batch mean, as on one device.
    np.testing.assert_allclose(sum(r.numpy() for r in results), loss_object(teacher, student).numpy(), rtol=1e-5)
