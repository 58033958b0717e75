"""Frequency decoupling of feature vectors (paper Eq. 1-3).

A pooled feature is treated as a 1-D signal over its channel axis: `rfft` takes it
to the frequency domain, two fixed binary masks keep the low and the high bins, and
`irfft` brings each band back. As in the reference code the DC bin belongs to
neither band by default, so ``low + high == x - mean(x)``: the DC filter *is* the
mean subtraction of the scale step (Eq. 7). The analysis variant puts DC into the
low band, so that ``low + high == x``.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


def band_bins(dim: int, cutoff: float = 0.5, dc_in_low: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Binary masks over the ``dim // 2 + 1`` rfft bins of a ``dim``-long feature.

    The non-DC bins ``1 .. dim // 2`` are split at ``cutoff``: the first
    ``round(cutoff * (dim // 2))`` go to the low band (at least one bin in each
    band), the rest (Nyquist included for even ``dim``) to the high band. For
    dim 512 and cutoff 0.5: bins 1-128 low, 129-256 high.

    Args:
        dim: feature size (>= 4, odd sizes allowed).
        cutoff: fraction of the non-DC bins that go to the low band, in (0, 1).
        dc_in_low: also put bin 0 (the mean) into the low band.

    Returns:
        ``(low_mask, high_mask)``, float32 arrays of shape ``(dim // 2 + 1,)``.

    Example:
        >>> low, high = band_bins(8)
        >>> low.tolist(), high.tolist()
        ([0.0, 1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0, 1.0])
    """
    if dim < 4:
        raise ValueError(f"frequency decoupling needs a feature size of at least 4, got {dim}")
    if not 0.0 < cutoff < 1.0:
        raise ValueError(f"cutoff must be in (0, 1), got {cutoff}")
    num_bins = dim // 2 + 1
    non_dc = num_bins - 1
    low_count = int(np.floor(cutoff * non_dc + 0.5))  # round half up
    low_count = min(max(low_count, 1), non_dc - 1)
    low = np.zeros(num_bins, np.float32)
    high = np.zeros(num_bins, np.float32)
    low[1 : 1 + low_count] = 1.0
    high[1 + low_count :] = 1.0
    if dc_in_low:
        low[0] = 1.0
    return low, high


def decouple(features, cutoff: float = 0.5, dc_in_low: bool = False):
    """Splits features into low- and high-frequency parts along the last axis.

    Works on ``(batch, dim)`` pooled features and on dense ``(batch, H, W, dim)``
    maps (each pixel's channel vector is one signal). Computed in float32 and
    returned in the input's dtype, so it is safe under mixed precision.

    Args:
        features: real tensor, last axis = feature size (>= 4).
        cutoff: fraction of the non-DC bins in the low band.
        dc_in_low: put the DC bin (the mean) into the low band.

    Returns:
        ``(low, high)``, each with the shape and dtype of ``features``.

    Example:
        >>> x = tf.random.normal((2, 512))
        >>> low, high = decouple(x)
        >>> bool(tf.reduce_all(tf.abs(low + high - (x - tf.reduce_mean(x, -1, keepdims=True))) < 1e-4))
        True
    """
    features = tf.convert_to_tensor(features)
    dim = features.shape[-1]
    if dim is None:
        raise ValueError("frequency decoupling needs a known feature size (last axis)")
    low_mask, high_mask = band_bins(dim, cutoff, dc_in_low)
    signal = tf.cast(features, tf.float32)
    spectrum = tf.signal.rfft(signal)  # (..., dim // 2 + 1), complex64
    low = tf.signal.irfft(spectrum * tf.cast(low_mask, spectrum.dtype), fft_length=[dim])
    high = tf.signal.irfft(spectrum * tf.cast(high_mask, spectrum.dtype), fft_length=[dim])
    return tf.cast(low, features.dtype), tf.cast(high, features.dtype)


@keras.saving.register_keras_serializable(package="fdkd_tf")
class FrequencyDecoupling(keras.layers.Layer):
    """Keras layer over `decouple`: ``x -> (low, high)`` along the last axis.

    Args:
        cutoff: fraction of the non-DC rfft bins in the low band (default 0.5).
        dc_in_low: put the DC bin into the low band (analysis variant).
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:
        >>> low, high = FrequencyDecoupling()(tf.random.normal((4, 512)))
        >>> low.shape
        TensorShape([4, 512])
    """

    def __init__(self, cutoff: float = 0.5, dc_in_low: bool = False, **kwargs):
        super().__init__(**kwargs)
        band_bins(4, cutoff)  # validates cutoff early
        self.cutoff = cutoff
        self.dc_in_low = dc_in_low

    def call(self, inputs):
        return decouple(inputs, self.cutoff, self.dc_in_low)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape), tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"cutoff": self.cutoff, "dc_in_low": self.dc_in_low})
        return config
