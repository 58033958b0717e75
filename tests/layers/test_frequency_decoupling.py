"""Tests of `fdkd_tf.layers.frequency_decoupling` (paper Eq. 1-3) against numpy.fft."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from testing_utils import REPO_ROOT

from fdkd_tf.layers import FrequencyDecoupling, band_bins, decouple, standardize

# Last low bin for (dim, cutoff), worked out by hand from "the first
# round(cutoff * (dim // 2)) non-DC bins are low, halves rounded up"; every bin after
# it, up to dim // 2 (Nyquist for even dims), is high. Bin 0 (DC) is in neither.
LAST_LOW_BIN = {
    (512, 0.25): 64,
    (512, 0.5): 128,
    (512, 0.75): 192,
    (7, 0.25): 1,  # 3 non-DC bins: 0.75 -> 1
    (7, 0.5): 2,  # 1.5 -> 2
    (7, 0.75): 2,  # 2.25 -> 2
    (9, 0.25): 1,  # 4 non-DC bins
    (9, 0.5): 2,
    (9, 0.75): 3,
    (100, 0.25): 13,  # 50 non-DC bins: 12.5 -> 13
    (100, 0.5): 25,
    (100, 0.75): 38,  # 37.5 -> 38
}
CASES = sorted(LAST_LOW_BIN)


def numpy_bands(features, low_bins, high_bins):
    """Independent reference: rfft, keep the listed bins, irfft back to ``dim``."""
    dim = features.shape[-1]
    spectrum = np.fft.rfft(features.astype(np.float64), axis=-1)
    bands = []
    for bins in (low_bins, high_bins):
        kept = np.zeros_like(spectrum)
        kept[..., bins] = spectrum[..., bins]
        bands.append(np.fft.irfft(kept, n=dim, axis=-1))
    return bands


def expected_bins(dim, cutoff, dc_in_low=False):
    last_low = LAST_LOW_BIN[(dim, cutoff)]
    low = list(range(0 if dc_in_low else 1, last_low + 1))
    high = list(range(last_low + 1, dim // 2 + 1))
    return low, high


def assert_close_relative(actual, expected, tolerance=1e-5):
    """max |actual - expected| <= tolerance * max |expected| (float32 FFT round-off)."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape
    error = np.max(np.abs(actual - expected))
    assert error <= tolerance * np.max(np.abs(expected)), f"max error {error:.3g}"


def band_matrix(dim, bins):
    """The band map as a dense ``(dim, dim)`` matrix, built column by column in numpy."""
    identity = np.eye(dim)
    return np.stack([numpy_bands(column, bins, bins)[0] for column in identity], axis=1)


@pytest.mark.parametrize("dim,cutoff", CASES)
def test_band_bins_match_hand_computed_bins(dim, cutoff):
    low_mask, high_mask = band_bins(dim, cutoff)
    low, high = expected_bins(dim, cutoff)
    assert low_mask.shape == high_mask.shape == (dim // 2 + 1,)
    assert np.flatnonzero(low_mask).tolist() == low
    assert np.flatnonzero(high_mask).tolist() == high


@pytest.mark.parametrize("dim,cutoff", CASES)
@pytest.mark.parametrize("dc_in_low", [False, True])
def test_decouple_matches_numpy_fft(dim, cutoff, dc_in_low):
    features = np.random.default_rng(dim).normal(1.5, 2.0, size=(3, dim)).astype(np.float32)
    low, high = decouple(features, cutoff, dc_in_low)
    expected_low, expected_high = numpy_bands(features, *expected_bins(dim, cutoff, dc_in_low))
    assert low.dtype == high.dtype == tf.float32
    assert_close_relative(low, expected_low)
    assert_close_relative(high, expected_high)


def test_default_512_split_is_bins_1_to_128_and_129_to_256():
    low_mask, high_mask = band_bins(512)
    assert np.flatnonzero(low_mask).tolist() == list(range(1, 129))
    assert np.flatnonzero(high_mask).tolist() == list(range(129, 257))
    assert low_mask[0] == 0 and high_mask[0] == 0  # DC in neither band
    low_mask, high_mask = band_bins(512, dc_in_low=True)
    assert np.flatnonzero(low_mask).tolist() == list(range(0, 129))
    assert np.flatnonzero(high_mask).tolist() == list(range(129, 257))


@pytest.mark.parametrize("dim", [512, 7, 100])
def test_default_bands_sum_to_centred_input_and_are_zero_mean(dim):
    features = np.random.default_rng(1).normal(3.0, 1.0, size=(4, dim)).astype(np.float32)
    low, high = (np.asarray(band, np.float64) for band in decouple(features))
    centred = features - features.mean(axis=-1, keepdims=True)
    np.testing.assert_allclose(low + high, centred, atol=1e-5)
    np.testing.assert_allclose(low.mean(axis=-1), 0.0, atol=1e-6)
    np.testing.assert_allclose(high.mean(axis=-1), 0.0, atol=1e-6)


@pytest.mark.parametrize("dim", [512, 9])
def test_dc_in_low_bands_sum_to_input(dim):
    features = np.random.default_rng(2).normal(3.0, 1.0, size=(4, dim)).astype(np.float32)
    low, high = (np.asarray(band, np.float64) for band in decouple(features, dc_in_low=True))
    np.testing.assert_allclose(low + high, features, atol=1e-5)
    np.testing.assert_allclose(low.mean(axis=-1), features.mean(axis=-1), atol=1e-5)
    np.testing.assert_allclose(high.mean(axis=-1), 0.0, atol=1e-6)


def test_dense_maps_are_decoupled_per_pixel_along_channels():
    features = np.random.default_rng(3).normal(size=(2, 3, 4, 16)).astype(np.float32)
    low, high = decouple(features, cutoff=0.25)
    assert low.shape == high.shape == features.shape
    flat_low, flat_high = decouple(features.reshape(-1, 16), cutoff=0.25)
    np.testing.assert_allclose(np.reshape(low, (-1, 16)), flat_low, atol=1e-6)
    np.testing.assert_allclose(np.reshape(high, (-1, 16)), flat_high, atol=1e-6)
    # dim 16, cutoff 0.25: 8 non-DC bins, round(2.0) = 2 low ones.
    expected_low, expected_high = numpy_bands(features, [1, 2], list(range(3, 9)))
    assert_close_relative(low, expected_low)
    assert_close_relative(high, expected_high)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_input_gives_float32_bands(dtype):
    features = keras.ops.cast(np.random.default_rng(4).normal(size=(2, 32)), dtype)
    upcast = np.asarray(keras.ops.cast(features, "float32"))
    low, high = decouple(features)
    assert low.dtype == high.dtype == tf.float32  # a float32 island, not the input dtype
    expected_low, expected_high = numpy_bands(upcast, list(range(1, 9)), list(range(9, 17)))
    assert_close_relative(low, expected_low)
    assert_close_relative(high, expected_high)


@pytest.mark.parametrize("policy,dtype", [("mixed_float16", "float16"), ("mixed_bfloat16", "bfloat16")])
def test_layer_is_a_float32_island_under_mixed_precision(policy, dtype):
    features = keras.ops.cast(np.random.default_rng(8).normal(size=(3, 64)), dtype)
    keras.config.set_dtype_policy(policy)
    try:
        layer = FrequencyDecoupling(cutoff=0.25)
        clone = FrequencyDecoupling.from_config(layer.get_config())
        outputs = layer(features)
        symbolic = layer(keras.Input((64,), dtype=dtype))
        explicit = FrequencyDecoupling(dtype=policy)
    finally:
        keras.config.set_dtype_policy("float32")
    assert layer.dtype_policy.name == clone.dtype_policy.name == "float32"
    assert explicit.dtype_policy.name == policy  # an explicit dtype is still honoured
    expected = decouple(keras.ops.cast(features, "float32"), cutoff=0.25)
    for band, symbolic_band, expected_band in zip(outputs, symbolic, expected):
        assert band.dtype == tf.float32 and symbolic_band.dtype == "float32"
        np.testing.assert_allclose(band, expected_band, atol=1e-6)


def test_jax_backend_matches_tensorflow(tmp_path):
    """`decouple` and `standardize` are keras.ops only: the JAX backend gives TF's numbers."""
    rng = np.random.default_rng(9)
    inputs = {"pooled": rng.normal(1.0, 2.0, size=(4, 21)), "maps": rng.normal(size=(2, 3, 3, 16))}
    inputs = {key: value.astype(np.float32) for key, value in inputs.items()}
    input_path, output_path = tmp_path / "x.npz", tmp_path / "y.npz"
    np.savez(input_path, **inputs)
    script = textwrap.dedent(
        f"""
        import keras, numpy as np
        assert keras.backend.backend() == "jax", keras.backend.backend()
        from fdkd_tf.layers.feature_standardization import standardize
        from fdkd_tf.layers.frequency_decoupling import decouple
        results = {{}}
        for key, x in np.load({str(input_path)!r}).items():
            results[key + "_low"], results[key + "_high"] = decouple(x, 0.25)
            results[key + "_dc_low"], results[key + "_dc_high"] = decouple(x, 0.5, dc_in_low=True)
            results[key + "_std"] = standardize(x)
        assert all(str(v.dtype) == "float32" for v in results.values())
        np.savez({str(output_path)!r}, **{{k: np.asarray(v) for k, v in results.items()}})
        """
    )
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO_ROOT, env.get("PYTHONPATH")]))
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    jax_results = np.load(output_path)
    for key, x in inputs.items():
        expected = dict(zip(("low", "high"), decouple(x, 0.25)))
        expected.update(zip(("dc_low", "dc_high"), decouple(x, 0.5, dc_in_low=True)))
        expected["std"] = standardize(x)
        for name, value in expected.items():
            np.testing.assert_allclose(jax_results[f"{key}_{name}"], value, atol=1e-5, err_msg=f"{key}_{name}")


@pytest.mark.parametrize("dim,cutoff", [(512, 0.5), (7, 0.5), (9, 0.25)])
def test_band_map_is_a_symmetric_projection(dim, cutoff):
    """Checks numerically the claim the gradient test relies on: P == P.T == P @ P."""
    for bins in expected_bins(dim, cutoff):
        matrix = band_matrix(dim, bins)
        np.testing.assert_allclose(matrix, matrix.T, atol=1e-12)
        np.testing.assert_allclose(matrix @ matrix, matrix, atol=1e-12)


@pytest.mark.parametrize("dim,cutoff", [(512, 0.5), (7, 0.5), (9, 0.25)])
def test_gradients_flow_through_both_bands(dim, cutoff):
    rng = np.random.default_rng(5)
    features = tf.constant(rng.normal(size=(2, dim)).astype(np.float32))
    weights = rng.normal(size=(2, dim))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(features)
        low, high = decouple(features, cutoff)
        low_objective = tf.reduce_sum(tf.constant(weights, tf.float32) * low)
        high_objective = tf.reduce_sum(tf.constant(weights, tf.float32) * high)
    for bins, objective in zip(expected_bins(dim, cutoff), (low_objective, high_objective)):
        gradient = tape.gradient(objective, features).numpy()
        assert np.max(np.abs(gradient)) > 0.1
        # d sum(w * P x) / dx = P.T w, with P from the column-by-column numpy matrix...
        np.testing.assert_allclose(gradient, weights @ band_matrix(dim, bins), atol=1e-5)
        # ... which, P being symmetric, is the band of w itself.
        assert_close_relative(gradient, numpy_bands(weights, bins, bins)[0])


@pytest.mark.parametrize("dim", [3, 2, 1])
def test_too_short_features_raise(dim):
    with pytest.raises(ValueError, match="at least 4"):
        band_bins(dim)
    with pytest.raises(ValueError, match="at least 4"):
        decouple(tf.zeros((2, dim)))


@pytest.mark.parametrize("cutoff", [0.0, 1.0, -0.1, 1.5])
def test_cutoff_outside_unit_interval_raises(cutoff):
    with pytest.raises(ValueError, match="cutoff"):
        band_bins(16, cutoff)
    with pytest.raises(ValueError, match="cutoff"):
        decouple(tf.zeros((2, 16)), cutoff)
    with pytest.raises(ValueError, match="cutoff"):
        FrequencyDecoupling(cutoff=cutoff)


def test_unknown_feature_size_raises():
    @tf.function(input_signature=[tf.TensorSpec((None, None), tf.float32)])
    def decouple_unknown_size(features):
        return decouple(features)

    with pytest.raises(ValueError, match="known feature size"):
        decouple_unknown_size.get_concrete_function()


def test_layer_matches_function_and_config_round_trips():
    layer = FrequencyDecoupling(cutoff=0.25, dc_in_low=True, name="bands")
    config = layer.get_config()
    assert config["cutoff"] == 0.25 and config["dc_in_low"] is True
    clone = FrequencyDecoupling.from_config(config)
    assert (clone.cutoff, clone.dc_in_low, clone.name) == (0.25, True, "bands")
    features = np.random.default_rng(6).normal(size=(3, 20)).astype(np.float32)
    expected = decouple(features, 0.25, True)
    for outputs in (layer(features), clone(features)):
        for band, expected_band in zip(outputs, expected):
            np.testing.assert_array_equal(band, expected_band)
    assert layer.compute_output_shape((None, 20)) == ((None, 20), (None, 20))


def test_saved_model_reloads_with_only_import_fdkd_tf(tmp_path):
    inputs = keras.Input((24,), name="features")
    low, high = FrequencyDecoupling(cutoff=0.25, name="bands")(inputs)
    outputs = keras.layers.Concatenate()([keras.layers.Dense(3, name="low_head")(low), high])
    model = keras.Model(inputs, outputs)
    features = np.random.default_rng(7).normal(size=(5, 24)).astype(np.float32)
    expected = np.asarray(model(features))
    model_path, input_path, output_path = (tmp_path / n for n in ("m.keras", "x.npy", "y.npy"))
    model.save(model_path)
    np.save(input_path, features)
    # A fresh interpreter: the layer must reload by its registered name alone.
    script = textwrap.dedent(
        f"""
        import keras, numpy as np
        import fdkd_tf
        model = keras.saving.load_model({str(model_path)!r})
        np.save({str(output_path)!r}, np.asarray(model(np.load({str(input_path)!r}))))
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, timeout=120)
    np.testing.assert_array_equal(np.load(output_path), expected)
