"""`fdkd_tf.losses.pkd_loss` (Cao et al., 2022).

Default (``statistics="batch"``): against an independent numpy transcription of the
formula of the authors' public loss (OpenMMLab mmrazor, ``mmrazor/models/losses/
pkd_loss.py``): each channel standardised over batch and positions with the unbiased
standard deviation plus 1e-6, then half the mean squared difference over all
elements. Variant ``"sample"``: against a per-sample numpy Pearson correlation
(MSE of standardized features / 2 = 1 - r)."""

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


def numpy_mmrazor_pkd(student, teacher, epsilon=1e-6):
    """PKD as the official loss defines it, for ``(N, ..., C)`` arrays in float64."""

    def norm(features):
        flat = features.astype(np.float64).reshape(-1, features.shape[-1])  # (N * positions, C)
        mean = flat.mean(axis=0)
        std = flat.std(axis=0, ddof=1)  # torch.Tensor.std: unbiased
        return (flat - mean) / (std + epsilon)

    return np.mean((norm(student) - norm(teacher)) ** 2) / 2.0


@pytest.mark.parametrize("shape", [(8, 512), (3, 4, 5, 6), (2, 7, 3)])
def test_default_is_the_authors_per_channel_batch_statistics(shape):
    rng = np.random.default_rng(10)
    student = rng.normal(size=shape).astype(np.float32)
    teacher = (0.5 * student + rng.normal(size=shape) * rng.uniform(0.5, 3.0, size=shape[-1])).astype(np.float32) + 4.0
    actual = pkd_loss(student, teacher).numpy()
    assert actual.shape == (shape[0],)
    np.testing.assert_allclose(actual.mean(), numpy_mmrazor_pkd(student, teacher), rtol=1e-5)
    if len(shape) == 2:  # the per-sample variant is another loss on pooled features
        assert abs(pkd_loss(student, teacher, statistics="sample").numpy().mean() - actual.mean()) > 1e-3


def test_two_replicas_take_the_global_batch_statistics(mirrored_strategy):
    """Per-replica statistics would differ from one device's; the all-reduced ones equal them,
    in value and in the gradient each replica gets for its own samples."""
    rng = np.random.default_rng(11)
    student = rng.normal(size=(8, 3, 6)).astype(np.float32)
    teacher = (student + rng.normal(size=(8, 3, 6))).astype(np.float32)
    whole = tf.constant(student)
    with tf.GradientTape() as tape:
        tape.watch(whole)
        expected = tf.reduce_mean(pkd_loss(whole, teacher))
    expected_grad = tape.gradient(expected, whole).numpy()
    per_replica = [tf.constant(student[:4]), tf.constant(student[4:])]
    teachers = [tf.constant(teacher[:4]), tf.constant(teacher[4:])]

    def step(s, t):
        with tf.GradientTape() as tape:
            tape.watch(s)
            loss = tf.reduce_mean(pkd_loss(s, t)) / 2.0  # the distillers' mean / replicas
        return loss, tape.gradient(loss, s)

    values = mirrored_strategy.experimental_distribute_values_from_function(lambda ctx: (per_replica[ctx.replica_id_in_sync_group], teachers[ctx.replica_id_in_sync_group]))
    losses, grads = mirrored_strategy.run(tf.function(step), args=values)
    total = sum(float(v) for v in mirrored_strategy.experimental_local_results(losses))
    np.testing.assert_allclose(total, float(expected), rtol=1e-6)
    np.testing.assert_allclose(np.concatenate([g.numpy() for g in mirrored_strategy.experimental_local_results(grads)]), expected_grad, rtol=1e-4, atol=1e-7)
    local_only = np.mean([numpy_mmrazor_pkd(student[:4], teacher[:4]), numpy_mmrazor_pkd(student[4:], teacher[4:])])
    assert abs(local_only - total) > 1e-4  # what per-replica statistics would have given


def test_pooled_features_give_one_minus_pearson():
    rng = np.random.default_rng(0)
    student = rng.normal(size=(5, 12)).astype(np.float32)
    teacher = (0.6 * student + rng.normal(size=(5, 12))).astype(np.float32) * 3.0 + 2.0
    actual = pkd_loss(student, teacher, statistics="sample").numpy()
    assert actual.shape == (5,) and actual.dtype == np.float32
    np.testing.assert_allclose(actual, numpy_one_minus_pearson(student, teacher), rtol=1e-4, atol=1e-5)


def test_dense_maps_are_standardized_per_channel():
    rng = np.random.default_rng(1)
    student = rng.normal(size=(3, 4, 5, 6)).astype(np.float32)
    teacher = (student * rng.uniform(0.5, 2, size=(1, 1, 1, 6)) + rng.normal(size=(3, 4, 5, 6))).astype(np.float32)
    np.testing.assert_allclose(pkd_loss(student, teacher, statistics="sample").numpy(), numpy_one_minus_pearson(student, teacher), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("statistics", ["batch", "sample"])
def test_identical_or_affine_features_give_zero_and_negated_give_two(statistics):
    x = np.random.default_rng(2).normal(size=(4, 16)).astype(np.float32)
    np.testing.assert_allclose(pkd_loss(x, x, statistics=statistics).numpy(), 0.0, atol=1e-5)
    scale = np.linspace(1.0, 5.0, 16).astype(np.float32) if statistics == "batch" else 5.0  # per channel / per sample
    np.testing.assert_allclose(pkd_loss(scale * x - 3.0, x, statistics=statistics).numpy(), 0.0, atol=1e-5)
    negated = pkd_loss(-x, x, statistics=statistics).numpy().mean()
    assert negated == pytest.approx(2.0 * (3 / 4 if statistics == "batch" else 1.0), rel=1e-4)  # unbiased variance: mean z^2 = (n - 1) / n


def test_the_sample_variant_does_not_depend_on_the_rest_of_the_batch():
    rng = np.random.default_rng(3)
    student, teacher = rng.normal(size=(2, 2, 8)).astype(np.float32)
    alone = pkd_loss(student[:1], teacher[:1], statistics="sample").numpy()
    assert alone.shape == (1,)
    np.testing.assert_allclose(alone, pkd_loss(student, teacher, statistics="sample").numpy()[:1], rtol=1e-6)
    with pytest.raises(ValueError, match="statistics must be one of batch, sample"):
        pkd_loss(student, teacher, statistics="channel")


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
    assert float(pkd_loss(student, teacher, statistics="sample")[0]) == pytest.approx(0.5, abs=1e-5)
    # one sample per channel: batch statistics standardise every value to 0
    assert float(pkd_loss(student, teacher)[0]) == pytest.approx(0.0, abs=1e-6)
    assert np.isfinite(pkd_loss(np.ones((4, 8), np.float32), np.random.default_rng(5).normal(size=(4, 8)).astype(np.float32)).numpy()).all()
