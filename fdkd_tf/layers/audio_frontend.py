"""Waveform -> log spectrogram front ends of the audio-visual benchmarks.

The audio networks of the paper's AVE, CREMA-D and VGGSound-50 experiments read log
spectrograms, not waveforms. Two front ends follow the reference pipelines:

- ``reference`` (AVE, CREMA-D): tile the clip to 160,000 samples, clip to [-1, 1],
  power spectral density as ``scipy.signal.spectrogram(x, fs, nperseg=512,
  noverlap=353)`` computes it with its defaults (Tukey(0.25) window, mean removed from
  each segment, density scaling, one-sided), then ``log(S + 1e-7)`` and per-clip
  mean/std standardisation: ``(257, 1004)``.
- ``vggsound`` (VGGSound-50): a centred STFT (reflect padding, periodic Hann window,
  n_fft 256, hop 128, as librosa's ``stft`` with ``pad_mode="reflect"``) and
  ``log(|X| + 1e-7)``: ``(129, 626)`` for 5 s at 16 kHz.

Everything is `tf.signal` (no tensorflow-io), so the same functions run inside
`tf.data` (the loaders) and inside an exported graph (`AudioFrontend`).
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

REFERENCE_NUM_SAMPLES = 160_000
REFERENCE_WINDOW = 512
REFERENCE_HOP = 159  # noverlap 353 = 512 - 159
TUKEY_ALPHA = 0.25
VGGSOUND_NUM_SAMPLES = 80_000  # 5 s at 16 kHz
VGGSOUND_FFT = 256
VGGSOUND_HOP = 128
LOG_OFFSET = 1e-7
STD_FLOOR = 1e-8
KINDS = ("reference", "vggsound")


def tile_to_length(waveform, num_samples: int):
    """Repeats a clip along its last axis until it is ``num_samples`` long, then cuts.

    The reference pipelines tile short clips instead of zero-padding them, so every
    spectrogram column holds signal.

    Args:
        waveform: ``(..., samples)`` float tensor with at least one sample.
        num_samples: length of the result.

    Returns:
        ``(..., num_samples)``: the clip repeated, then its first ``num_samples``.

    Example:
        >>> tile_to_length(tf.constant([1.0, 2.0, 3.0]), 7).numpy().tolist()
        [1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.0]
    """
    waveform = tf.convert_to_tensor(waveform, tf.float32)
    length = tf.shape(waveform)[-1]
    repeats = (num_samples + length - 1) // length  # ceil(num_samples / length)
    rank = tf.rank(waveform)
    multiples = tf.concat([tf.ones([rank - 1], tf.int32), [repeats]], axis=0)
    return tf.tile(waveform, multiples)[..., :num_samples]


def tukey_window(length: int, alpha: float = TUKEY_ALPHA):
    """Periodic ("DFT-even") Tukey window, as ``scipy.signal.get_window(("tukey", alpha), length)``.

    ``scipy.signal.spectrogram`` builds its default window with ``get_window``,
    which returns the periodic form: the symmetric window of ``length + 1`` samples
    without its last sample.

    Args:
        length: window length in samples.
        alpha: fraction of the window inside the cosine tapers.

    Returns:
        ``(length,)`` float32 tensor.
    """
    span = length  # symmetric length is length + 1, so its last index is `length`
    n = tf.range(length, dtype=tf.float64)
    width = alpha * span / 2.0
    rising = 0.5 * (1.0 + tf.cos(math.pi * (-1.0 + n / width)))
    falling = 0.5 * (1.0 + tf.cos(math.pi * (-2.0 / alpha + 1.0 + n / width)))
    window = tf.where(n < width, rising, tf.where(n > span * (1.0 - alpha / 2.0), falling, 1.0))
    return tf.cast(window, tf.float32)


def reference_num_frames(num_samples: int = REFERENCE_NUM_SAMPLES) -> int:
    """Time frames of the reference spectrogram: 1004 for 160,000 samples."""
    return (num_samples - REFERENCE_WINDOW) // REFERENCE_HOP + 1


def vggsound_num_frames(num_samples: int = VGGSOUND_NUM_SAMPLES) -> int:
    """Time frames of the centred VGGSound STFT: 626 for 80,000 samples."""
    return num_samples // VGGSOUND_HOP + 1


def power_spectral_density(waveform, sample_rate: float):
    """One-sided PSD per segment, as ``scipy.signal.spectrogram`` with its defaults.

    Segments of 512 samples every 159; each has its mean removed (constant detrend)
    and is weighted by a Tukey(0.25) window; ``|rfft|^2`` is scaled by
    ``1 / (fs * sum(window^2))`` and doubled at every bin but DC and Nyquist.

    Args:
        waveform: ``(..., samples)`` float32, at least 512 samples.
        sample_rate: sampling frequency ``fs`` in Hz (it sets the density scale).

    Returns:
        ``(..., 257, frames)`` float32 PSD (frequency first, like scipy).
    """
    window = tukey_window(REFERENCE_WINDOW)
    segments = tf.signal.frame(waveform, REFERENCE_WINDOW, REFERENCE_HOP)  # (..., frames, 512)
    segments = segments - tf.reduce_mean(segments, axis=-1, keepdims=True)
    spectrum = tf.signal.rfft(segments * window)  # (..., frames, 257)
    power = tf.math.real(spectrum) ** 2 + tf.math.imag(spectrum) ** 2
    scale = 1.0 / (float(sample_rate) * tf.reduce_sum(window**2))
    bins = REFERENCE_WINDOW // 2 + 1
    one_sided = tf.concat([[1.0], tf.fill([bins - 2], 2.0), [1.0]], axis=0)  # DC and Nyquist once
    power = power * scale * one_sided
    return tf.linalg.matrix_transpose(power)  # (..., 257, frames)


def standardize_per_clip(spectrogram):
    """``(S - mean) / std`` over the last two axes of each clip (std floored at 1e-8)."""
    mean = tf.reduce_mean(spectrogram, axis=[-2, -1], keepdims=True)
    std = tf.math.reduce_std(spectrogram, axis=[-2, -1], keepdims=True)
    return (spectrogram - mean) / tf.maximum(std, STD_FLOOR)


def reference_spectrogram(waveform, sample_rate: float, num_samples: int = REFERENCE_NUM_SAMPLES):
    """AVE / CREMA-D front end: tile, clip, PSD, ``log(S + 1e-7)``, standardise.

    Args:
        waveform: ``(..., samples)`` float32 mono audio in [-1, 1] (louder samples
            are clipped).
        sample_rate: its sampling rate (22,050 Hz CREMA-D, 16,000 Hz AVE).
        num_samples: tiled length; 160,000 in the reference (-> 1004 frames).

    Returns:
        ``(..., 257, reference_num_frames(num_samples))`` float32, zero mean and unit
        std per clip.

    Example:
        >>> reference_spectrogram(tf.random.normal((2, 16000)) * 0.1, 16000).shape
        TensorShape([2, 257, 1004])
    """
    waveform = tf.clip_by_value(tile_to_length(waveform, num_samples), -1.0, 1.0)
    log_power = tf.math.log(power_spectral_density(waveform, sample_rate) + LOG_OFFSET)
    return standardize_per_clip(log_power)


def vggsound_spectrogram(waveform):
    """VGGSound-50 front end: centred STFT 256/128 with reflect padding, ``log(|X| + 1e-7)``.

    Args:
        waveform: ``(..., samples)`` float32 with more than 128 samples (5 s at 16 kHz
            in the reference).

    Returns:
        ``(..., 129, samples // 128 + 1)`` float32 (frequency first).

    Example:
        >>> vggsound_spectrogram(tf.zeros((1, 80000))).shape
        TensorShape([1, 129, 626])
    """
    waveform = tf.convert_to_tensor(waveform, tf.float32)
    pad = VGGSOUND_FFT // 2
    rank = waveform.shape.rank
    paddings = [[0, 0]] * (rank - 1) + [[pad, pad]]
    padded = tf.pad(waveform, paddings, mode="REFLECT")
    stft = tf.signal.stft(
        padded,
        frame_length=VGGSOUND_FFT,
        frame_step=VGGSOUND_HOP,
        fft_length=VGGSOUND_FFT,
        window_fn=tf.signal.hann_window,  # periodic, like scipy.signal.get_window("hann")
        pad_end=False,
    )  # (..., frames, 129)
    return tf.linalg.matrix_transpose(tf.math.log(tf.abs(stft) + LOG_OFFSET))


def spectrogram_shape(kind: str, num_samples: int | None = None) -> tuple[int, int, int]:
    """``(freq, time, 1)`` that `AudioFrontend` produces for ``num_samples`` input samples.

    Args:
        kind: ``"reference"`` or ``"vggsound"``.
        num_samples: length after tiling (reference) or of the crop (vggsound);
            None = the reference default of the kind.
    """
    if kind == "reference":
        return (REFERENCE_WINDOW // 2 + 1, reference_num_frames(num_samples or REFERENCE_NUM_SAMPLES), 1)
    if kind == "vggsound":
        return (VGGSOUND_FFT // 2 + 1, vggsound_num_frames(num_samples or VGGSOUND_NUM_SAMPLES), 1)
    raise ValueError(f"audio front end kind must be one of {', '.join(KINDS)}, got {kind!r}")


@keras.saving.register_keras_serializable(package="fdkd_tf")
class AudioFrontend(keras.layers.Layer):
    """Keras layer: waveforms ``(batch, samples)`` -> log spectrograms ``(batch, F, T, 1)``.

    Puts the loaders' audio preprocessing into a model, so an exported audio student
    can take raw waveforms. It has no weights.

    Args:
        kind: ``"reference"`` (AVE, CREMA-D; `reference_spectrogram`) or
            ``"vggsound"`` (`vggsound_spectrogram`).
        sample_rate: input sampling rate in Hz (scales the reference PSD).
        num_samples: the reference kind tiles/cuts inputs to this length (default
            160,000); the vggsound kind tiles/cuts to it too (default 80,000, the 5 s
            crop the loader makes).
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:
        >>> layer = AudioFrontend("reference", sample_rate=22050)
        >>> layer(tf.zeros((2, 22050))).shape
        TensorShape([2, 257, 1004, 1])
    """

    def __init__(self, kind: str = "reference", sample_rate: float = 16000, num_samples: int | None = None, **kwargs):
        super().__init__(**kwargs)
        spectrogram_shape(kind, num_samples)  # validates kind
        if num_samples is not None and num_samples <= REFERENCE_WINDOW:
            raise ValueError(f"AudioFrontend: num_samples must exceed {REFERENCE_WINDOW}, got {num_samples}")
        if sample_rate <= 0:
            raise ValueError(f"AudioFrontend: sample_rate must be positive, got {sample_rate}")
        self.kind = kind
        self.sample_rate = sample_rate
        self.num_samples = num_samples

    @property
    def target_length(self) -> int:
        """Samples the waveform is tiled/cut to before the transform."""
        if self.num_samples is not None:
            return self.num_samples
        return REFERENCE_NUM_SAMPLES if self.kind == "reference" else VGGSOUND_NUM_SAMPLES

    def call(self, inputs):
        waveform = tf.cast(inputs, tf.float32)  # (batch, samples)
        if self.kind == "reference":
            spectrogram = reference_spectrogram(waveform, self.sample_rate, self.target_length)
        else:
            spectrogram = vggsound_spectrogram(tile_to_length(waveform, self.target_length))
        return tf.expand_dims(spectrogram, -1)  # (batch, F, T, 1); a builtin TFLite op, unlike [..., None]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *spectrogram_shape(self.kind, self.target_length))

    def get_config(self):
        config = super().get_config()
        config.update({"kind": self.kind, "sample_rate": self.sample_rate, "num_samples": self.num_samples})
        return config
