"""Tests of `fdkd_tf.losses.cross_entropy` against scipy's log-softmax."""

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import log_softmax, softmax

from fdkd_tf.losses import cross_entropy


def scipy_cross_entropy(labels, logits):
    """-log softmax(logits)[label] for every position, float64."""
    log_probs = log_softmax(logits.astype(np.float64), axis=-1)
    return -np.take_along_axis(log_probs, labels[..., None].astype(np.int64), axis=-1)[..., 0]


@pytest.mark.parametrize("label_dtype", [np.int32, np.int64])
def test_cross_entropy_matches_scipy(label_dtype):
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 4, size=(7, 5)).astype(np.float32)
    labels = rng.integers(0, 5, size=7).astype(label_dtype)
    actual = cross_entropy(labels, logits).numpy()
    assert actual.shape == (7,) and actual.dtype == np.float32
    np.testing.assert_allclose(actual, scipy_cross_entropy(labels, logits), rtol=1e-5)


def test_uniform_logits_give_log_classes():
    np.testing.assert_allclose(cross_entropy(np.array([0, 3]), np.zeros((2, 6), np.float32)).numpy(), np.log(6.0), rtol=1e-6)


def test_dense_logits_are_averaged_per_sample():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 2, size=(3, 4, 5, 40)).astype(np.float32)
    labels = rng.integers(0, 40, size=(3, 4, 5)).astype(np.int32)
    actual = cross_entropy(labels, logits).numpy()
    assert actual.shape == (3,)
    np.testing.assert_allclose(actual, scipy_cross_entropy(labels, logits).mean(axis=(1, 2)), rtol=1e-5)


def test_gradient_is_softmax_minus_one_hot():
    rng = np.random.default_rng(2)
    logits = tf.constant(rng.normal(size=(4, 3)).astype(np.float32))
    labels = np.array([0, 2, 1, 2])
    with tf.GradientTape() as tape:
        tape.watch(logits)
        loss = tf.reduce_sum(cross_entropy(labels, logits))
    expected = softmax(logits.numpy().astype(np.float64), axis=-1) - np.eye(3)[labels]
    np.testing.assert_allclose(tape.gradient(loss, logits).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_half_precision_logits_give_float32_losses():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(4, 6)).astype(np.float16)
    labels = rng.integers(0, 6, size=4)
    actual = cross_entropy(labels, logits)
    assert actual.dtype == tf.float32
    np.testing.assert_allclose(actual.numpy(), scipy_cross_entropy(labels, logits), rtol=1e-5)


def numpy_torch_bilinear(images, size):
    """Bilinear upsampling as PyTorch's ``F.interpolate(mode="bilinear", align_corners=False)``
    defines it: source index ``(dst + 0.5) * in / out - 0.5`` clamped below at 0, the
    upper neighbour clamped to the last row/column. ``(N, h, w, C)`` float64."""

    def taps(in_size, out_size):
        source = np.maximum((np.arange(out_size) + 0.5) * in_size / out_size - 0.5, 0.0)
        lower = np.floor(source).astype(int)
        upper = np.minimum(lower + 1, in_size - 1)
        return lower, upper, source - lower

    top, bottom, dy = taps(images.shape[1], size[0])
    left, right, dx = taps(images.shape[2], size[1])
    images = images.astype(np.float64)
    rows = images[:, top] * (1 - dy)[None, :, None, None] + images[:, bottom] * dy[None, :, None, None]
    return rows[:, :, left] * (1 - dx)[None, None, :, None] + rows[:, :, right] * dx[None, None, :, None]


def numpy_dense_ce(labels, logits, ignore_label):
    """``CrossEntropyLoss(ignore_index=...)`` on a batch: the mean over every valid pixel of the batch."""
    valid = labels != ignore_label
    losses = scipy_cross_entropy(np.where(valid, labels, 0), logits)
    return losses[valid].sum() / valid.sum()


def _segmentation_batch(seed=4):
    """Labels with very unequal ignored pixels per image (image 0 mostly ignored)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2, size=(4, 3, 4, 5)).astype(np.float32)  # stride 4: resized to (12, 16)
    labels = rng.integers(0, 5, size=(4, 12, 16)).astype(np.int32)
    labels[0, :10] = 255
    labels[1, :, :3] = 255
    labels[3, 5:7, 2:9] = 255
    return labels, logits


def test_dense_cross_entropy_averages_every_valid_pixel_of_the_batch():
    labels, logits = _segmentation_batch()
    per_sample = cross_entropy(labels, logits, ignore_label=255).numpy()
    assert per_sample.shape == (4,)
    upsampled = numpy_torch_bilinear(logits, (12, 16))
    np.testing.assert_allclose(per_sample.mean(), numpy_dense_ce(labels, upsampled, 255), rtol=1e-5)
    per_image = np.mean([numpy_dense_ce(labels[i : i + 1], upsampled[i : i + 1], 255) for i in range(4)])
    assert abs(per_image - per_sample.mean()) > 1e-3  # averaging per image first is another loss


def test_dense_logits_are_resized_with_half_pixel_centres():
    """The logits the loss scores are PyTorch's ``align_corners=False`` upsampling (not align_corners=True)."""
    from fdkd_tf.losses.classification import resize_to_labels

    _, logits = _segmentation_batch(5)
    resized = np.asarray(resize_to_labels(logits, np.zeros((4, 12, 16), np.int32)))
    np.testing.assert_allclose(resized, numpy_torch_bilinear(logits, (12, 16)), atol=1e-5)


def test_no_valid_pixel_gives_zero_and_a_finite_gradient():
    logits = tf.constant(np.random.default_rng(6).normal(size=(2, 2, 2, 3)).astype(np.float32))
    labels = np.full((2, 2, 2), 255, np.int32)
    with tf.GradientTape() as tape:
        tape.watch(logits)
        loss = tf.reduce_mean(cross_entropy(labels, logits, ignore_label=255))
    assert float(loss) == 0.0 and np.isfinite(tape.gradient(loss, logits).numpy()).all()


def test_two_replicas_average_over_the_global_valid_pixels(mirrored_strategy):
    """Replica halves with unequal ignored pixels: the replicas' (mean / R) sum to the
    one-device pixel mean, and their gradients to its gradient."""
    labels, logits = _segmentation_batch()
    whole = tf.constant(logits)
    with tf.GradientTape() as tape:
        tape.watch(whole)
        expected = tf.reduce_mean(cross_entropy(labels, whole, ignore_label=255))
    expected_grad = tape.gradient(expected, whole).numpy()

    def step(x, y):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_mean(cross_entropy(y, x, ignore_label=255)) / 2.0
        return loss, tape.gradient(loss, x)

    values = mirrored_strategy.experimental_distribute_values_from_function(
        lambda ctx: (tf.constant(logits[2 * ctx.replica_id_in_sync_group : 2 * ctx.replica_id_in_sync_group + 2]),
                     tf.constant(labels[2 * ctx.replica_id_in_sync_group : 2 * ctx.replica_id_in_sync_group + 2]))
    )
    losses, grads = mirrored_strategy.run(tf.function(step), args=values)
    total = sum(float(v) for v in mirrored_strategy.experimental_local_results(losses))
    np.testing.assert_allclose(total, float(expected), rtol=1e-6)
    np.testing.assert_allclose(np.concatenate([g.numpy() for g in mirrored_strategy.experimental_local_results(grads)]), expected_grad, rtol=1e-5, atol=1e-8)
