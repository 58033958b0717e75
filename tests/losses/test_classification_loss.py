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
