"""Frequency decoupling of feature vectors (paper Eq. 1-3).

A pooled feature is treated as a 1-D signal over its channel axis: `rfft` takes it
to the frequency domain, two fixed binary masks keep the low and the high bins, and
`irfft` brings each band back. As in the reference code the DC bin belongs to
neither band by default, so ``low + high == x - mean(x)``: the DC filter *is* the
mean subtraction of the scale step (Eq. 7). The analysis variant puts DC into the
low band, so that ``low + high == x``.

Written with `keras.ops` only, so it runs on every Keras backend. The FFT is a
float32 island: TensorFlow has no half-precision FFT kernel, so `decouple` always
computes in and returns float32, and `FrequencyDecoupling` defaults to a float32
dtype policy whatever the global one (``mixed_float16``, ``mixed_bfloat16``).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


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
    maps (each pixel's channel vector is one signal). The input is cast to float32
    first and the bands are returned in float32, not in the input's dtype: there is
    no half-precision FFT, and the losses that consume the bands run in float32, so
    under mixed precision this is a float32 island.

    Args:
        features: real tensor, last axis = feature size (>= 4).
        cutoff: fraction of the non-DC bins in the low band.
        dc_in_low: put the DC bin (the mean) into the low band.

    Returns:
        ``(low, high)``, float32 tensors with the shape of ``features``.

    Example:
        >>> x = np.random.default_rng(0).normal(size=(2, 512)).astype("float32")
        >>> low, high = decouple(x)
        >>> bool(np.all(np.abs(np.asarray(low + high) - (x - x.mean(-1, keepdims=True))) < 1e-4))
        True
    """
    features = ops.convert_to_tensor(features)
    dim = features.shape[-1]
    if dim is None:
        raise ValueError("frequency decoupling needs a known feature size (last axis)")
    low_mask, high_mask = (ops.convert_to_tensor(mask) for mask in band_bins(dim, cutoff, dc_in_low))
    signal = ops.cast(features, "float32")
    real, imag = ops.rfft(signal)  # each (..., dim // 2 + 1), float32
    low = ops.irfft((real * low_mask, imag * low_mask), fft_length=dim)
    high = ops.irfft((real * high_mask, imag * high_mask), fft_length=dim)
    return low, high


@keras.saving.register_keras_serializable(package="fdkd_tf")
class FrequencyDecoupling(keras.layers.Layer):
    """Keras layer over `decouple`: ``x -> (low, high)`` along the last axis.

    The layer runs in float32 whatever the global dtype policy: without an explicit
    ``dtype`` it takes the ``"float32"`` policy, so Keras casts half-precision
    inputs up instead of autocasting them down, and its outputs are float32.

    Args:
        cutoff: fraction of the non-DC rfft bins in the low band (default 0.5).
        dc_in_low: put the DC bin into the low band (analysis variant).
        **kwargs: standard `keras.layers.Layer` arguments; ``dtype`` defaults to
            ``"float32"``.

    Example:
        >>> low, high = FrequencyDecoupling()(np.zeros((4, 512), "float32"))
        >>> tuple(low.shape), keras.backend.standardize_dtype(low.dtype)
        ((4, 512), 'float32')
    """

    def __init__(self, cutoff: float = 0.5, dc_in_low: bool = False, **kwargs):
        kwargs.setdefault("dtype", "float32")  # float32 island under mixed precision
        super().__init__(**kwargs)
        band_bins(4, cutoff)  # validates cutoff early
        self.cutoff = cutoff
        self.dc_in_low = dc_in_low

    def call(self, inputs):
        return decouple(inputs, self.cutoff, self.dc_in_low)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape), tuple(input_shape)

    def compute_output_spec(self, inputs):
        # float32 even under an explicit half-precision policy: `decouple` returns float32.
        shape = tuple(inputs.shape)
        return keras.KerasTensor(shape, dtype="float32"), keras.KerasTensor(shape, dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update({"cutoff": self.cutoff, "dc_in_low": self.dc_in_low})
        return config
