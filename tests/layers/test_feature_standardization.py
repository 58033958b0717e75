"""Tests of `fdkd_tf.layers.feature_standardization` (paper Eq. 6-7) against numpy."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from fdkd_tf.layers import FeatureStandardization, signed_log1p, standardize


def numpy_standardize(features):
    """Eq. 7: ``(x - mean(x)) / ||x - mean(x)||_2`` over the last axis, in float64."""
    centred = features.astype(np.float64) - features.mean(axis=-1, keepdims=True)
    return centred / np.linalg.norm(centred, axis=-1, keepdims=True)


def numpy_signed_log1p(values):
    """Eq. 6 written as its two cases: log(1 + t) for t >= 0, -log(1 - t) below."""
    values = values.astype(np.float64)
    positive = np.log(1.0 + np.maximum(values, 0.0))
    negative = -np.log(1.0 - np.minimum(values, 0.0))
    return np.where(values >= 0, positive, negative)


@pytest.mark.parametrize("shape", [(4, 16), (2, 3, 8), (3, 512)])
def test_standardize_matches_numpy(shape):
    rng = np.random.default_rng(0)
    features = (rng.normal(size=shape) * rng.uniform(0.01, 100.0, size=shape[:-1] + (1,)) + 7.0).astype(
        np.float32
    )
    actual = standardize(features).numpy()
    np.testing.assert_allclose(actual, numpy_standardize(features), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(actual.mean(axis=-1), 0.0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(actual, axis=-1), 1.0, atol=1e-5)


def test_standardize_is_not_division_by_standard_deviation():
    features = np.arange(8, dtype=np.float32)[None]
    actual = standardize(features).numpy()
    by_std = (features - features.mean()) / features.std()
    assert not np.allclose(actual, by_std)
    np.testing.assert_allclose(actual * np.sqrt(8.0), by_std, rtol=1e-5)


def test_small_nonzero_vector_is_still_normalised():
    # Norm about 4e-6: far above the 1e-8 floor, so it must still reach unit length.
    features = np.array([[1e-6, -2e-6, 0.5e-6, 3e-6]], np.float32)
    np.testing.assert_allclose(standardize(features).numpy(), numpy_standardize(features), rtol=1e-4)


@pytest.mark.parametrize("value", [0.0, 5.0])
def test_constant_vector_gives_zero_with_finite_gradient(value):
    features = tf.fill((2, 6), value)
    weights = tf.constant(np.random.default_rng(1).normal(size=(2, 6)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(features)
        outputs = standardize(features)
        objective = tf.reduce_sum(weights * outputs)
    np.testing.assert_array_equal(outputs.numpy(), 0.0)
    gradient = tape.gradient(objective, features)
    assert gradient is not None
    assert np.all(np.isfinite(gradient.numpy()))


def test_standardize_gradient_matches_numpy_jacobian():
    """d Std(x) = (I - y y^T) (I - 11^T / D) / ||x - mean||, with y = Std(x)."""
    rng = np.random.default_rng(2)
    features = rng.normal(size=(1, 10))
    weights = rng.normal(size=(1, 10))
    centred = features - features.mean()
    y = numpy_standardize(features)[0]
    centring = np.eye(10) - np.full((10, 10), 0.1)
    jacobian = (np.eye(10) - np.outer(y, y)) @ centring / np.linalg.norm(centred)
    expected = weights[0] @ jacobian
    tensor = tf.constant(features, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(tensor)
        objective = tf.reduce_sum(tf.constant(weights, tf.float32) * standardize(tensor))
    np.testing.assert_allclose(tape.gradient(objective, tensor).numpy()[0], expected, rtol=1e-4, atol=1e-5)


def test_signed_log1p_matches_numpy():
    values = np.concatenate([np.linspace(-50.0, 50.0, 101), [-1e-6, 0.0, 1e-6, 1e4]]).astype(np.float32)
    actual = signed_log1p(values).numpy()
    np.testing.assert_allclose(actual, numpy_signed_log1p(values), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(actual, np.sign(values) * np.log1p(np.abs(values)), rtol=1e-6)
    np.testing.assert_array_equal(signed_log1p(-values).numpy(), -actual)  # odd function


def test_signed_log1p_gradient_is_one_over_one_plus_abs():
    values = tf.constant([-10.0, -1.0, -0.25, 0.25, 1.0, 10.0])
    with tf.GradientTape() as tape:
        tape.watch(values)
        outputs = signed_log1p(values)
    np.testing.assert_allclose(tape.gradient(outputs, values).numpy(), 1.0 / (1.0 + np.abs(values.numpy())), rtol=1e-6)


@pytest.mark.parametrize("policy,dtype", [("mixed_float16", "float16"), ("mixed_bfloat16", "bfloat16")])
def test_half_precision_is_standardised_in_float32(policy, dtype):
    features = keras.ops.cast(np.random.default_rng(5).normal(3.0, 2.0, size=(3, 24)), dtype)
    upcast = np.asarray(keras.ops.cast(features, "float32"))
    keras.config.set_dtype_policy(policy)
    try:
        layer = FeatureStandardization(signed_log=True)
        clone = FeatureStandardization.from_config(layer.get_config())
        outputs = layer(features)
    finally:
        keras.config.set_dtype_policy("float32")
    assert layer.dtype_policy.name == clone.dtype_policy.name == "float32"
    assert standardize(features).dtype == outputs.dtype == tf.float32  # not the input dtype
    np.testing.assert_allclose(standardize(features).numpy(), numpy_standardize(upcast), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(outputs.numpy(), numpy_signed_log1p(numpy_standardize(upcast)), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("signed_log", [False, True])
def test_layer_matches_numpy_and_config_round_trips(signed_log):
    layer = FeatureStandardization(epsilon=1e-6, signed_log=signed_log, name="std")
    config = layer.get_config()
    assert config["epsilon"] == 1e-6 and config["signed_log"] is signed_log
    clone = FeatureStandardization.from_config(config)
    assert (clone.epsilon, clone.signed_log, clone.name) == (1e-6, signed_log, "std")
    features = np.random.default_rng(3).normal(2.0, 3.0, size=(4, 12)).astype(np.float32)
    expected = numpy_standardize(features)
    if signed_log:
        expected = numpy_signed_log1p(expected)
    np.testing.assert_allclose(layer(features).numpy(), expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(clone(features).numpy(), layer(features).numpy())
    assert layer.compute_output_shape((None, 12)) == (None, 12)


def test_layer_in_model_reloads_without_custom_objects(tmp_path):
    inputs = keras.Input((12,))
    model = keras.Model(inputs, FeatureStandardization(signed_log=True)(inputs))
    model.save(tmp_path / "std.keras")
    reloaded = keras.saving.load_model(tmp_path / "std.keras")
    features = np.random.default_rng(4).normal(size=(3, 12)).astype(np.float32)
    np.testing.assert_array_equal(reloaded(features).numpy(), model(features).numpy())
