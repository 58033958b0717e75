"""Audio front ends against scipy.signal.spectrogram and an independent numpy STFT."""

import numpy as np
import pytest
import scipy.signal
import tensorflow as tf

from fdkd_tf.layers import AudioFrontend
from fdkd_tf.layers.audio_frontend import (
    reference_spectrogram,
    spectrogram_shape,
    tile_to_length,
    tukey_window,
    vggsound_spectrogram,
)

# float32 TF against float64 scipy/numpy: after log and standardisation the largest
# difference we measured is ~1e-5; the tolerances leave a 10-50x margin.
REFERENCE_ATOL = 5e-4
VGGSOUND_ATOL = 2e-3


def _speech_like(samples, rate, seed):
    rng = np.random.default_rng(seed)
    time = np.arange(samples) / rate
    envelope = np.exp(-3 * (time % 0.7))
    return (0.5 * np.sin(2 * np.pi * 220 * time) * envelope + 0.01 * rng.standard_normal(samples)).astype(np.float32)


def _scipy_reference(clip, rate, num_samples=160_000):
    tiled = np.tile(clip, -(-num_samples // len(clip)))[:num_samples].clip(-1, 1).astype(np.float64)
    _, _, power = scipy.signal.spectrogram(tiled, rate, nperseg=512, noverlap=353)
    log_power = np.log(power + 1e-7)
    return (log_power - log_power.mean()) / log_power.std()


def test_window_is_scipy_default_periodic_tukey():
    np.testing.assert_allclose(tukey_window(512).numpy(), scipy.signal.get_window(("tukey", 0.25), 512), atol=1e-6)


def test_tile_repeats_then_cuts():
    np.testing.assert_array_equal(tile_to_length(tf.constant([[1.0, 2.0, 3.0]]), 7).numpy(), [[1, 2, 3, 1, 2, 3, 1]])


@pytest.mark.parametrize("rate, seconds, loud", [(22050, 1.3, False), (16000, 2.0, True)])
def test_reference_matches_scipy_spectrogram(rate, seconds, loud):
    clip = _speech_like(int(rate * seconds), rate, seed=rate)
    if loud:
        clip = clip * 3.0  # exercises the clipping to [-1, 1]
    expected = _scipy_reference(clip, rate)

    actual = reference_spectrogram(tf.constant(clip[None]), rate).numpy()[0]

    assert actual.shape == expected.shape == (257, 1004)
    np.testing.assert_allclose(actual, expected, atol=REFERENCE_ATOL)
    assert abs(actual.mean()) < 1e-4 and abs(actual.std() - 1) < 1e-4


def _numpy_centered_stft_log(clip, n_fft=256, hop=128):
    padded = np.pad(clip.astype(np.float64), n_fft // 2, mode="reflect")
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann
    frames = 1 + (len(padded) - n_fft) // hop
    segments = np.stack([padded[i * hop : i * hop + n_fft] * window for i in range(frames)])
    return np.log(np.abs(np.fft.rfft(segments, axis=-1)) + 1e-7).T  # (129, frames)


def test_vggsound_matches_numpy_stft():
    clip = _speech_like(80_000, 16000, seed=3) + np.float32(0.05)  # DC keeps every bin away from 0

    actual = vggsound_spectrogram(tf.constant(clip[None])).numpy()[0]
    expected = _numpy_centered_stft_log(clip)

    assert actual.shape == expected.shape == (129, 626)
    np.testing.assert_allclose(actual, expected, atol=VGGSOUND_ATOL)


def test_layer_shapes_and_tiling():
    short = tf.constant(_speech_like(22050, 22050, 0)[None].repeat(2, axis=0))
    layer = AudioFrontend("reference", sample_rate=22050)
    output = layer(short)
    assert tuple(output.shape) == (2, 257, 1004, 1) == (2, *spectrogram_shape("reference"))
    np.testing.assert_allclose(output.numpy()[0, ..., 0], reference_spectrogram(short, 22050).numpy()[0], atol=1e-6)

    vgg = AudioFrontend("vggsound", sample_rate=16000)
    assert tuple(vgg(tf.zeros((1, 80_000)) + 0.1).shape) == (1, 129, 626, 1)
    assert tuple(vgg.compute_output_shape((None, 80_000))) == (None, 129, 626, 1)
    small = AudioFrontend("reference", sample_rate=16000, num_samples=8000)
    assert tuple(small(tf.zeros((1, 3000)) + 0.1).shape) == (1, 257, 48, 1)


def test_layer_serializes_inside_a_model(tmp_path):
    import keras

    inputs = keras.Input((4000,))
    model = keras.Model(inputs, AudioFrontend("vggsound", sample_rate=16000, num_samples=4000)(inputs))
    model.save(tmp_path / "frontend.keras")
    reloaded = keras.saving.load_model(tmp_path / "frontend.keras")
    clip = _speech_like(4000, 16000, 1)[None]
    np.testing.assert_allclose(reloaded(clip).numpy(), model(clip).numpy())
    assert reloaded.layers[-1].get_config()["kind"] == "vggsound"


@pytest.mark.parametrize("kwargs, match", [({"kind": "mel"}, "kind must be one of reference, vggsound"), ({"num_samples": 100}, "num_samples must exceed 512")])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AudioFrontend(**kwargs)
