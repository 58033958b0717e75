"""Frequency decoupling and feature standardization: pure functions + Keras layers.

`FrequencyDecoupling`, `FeatureStandardization` and their functions are written with
`keras.ops` only and work on any Keras backend, without TensorFlow installed.
`AudioFrontend` is built on `tf.signal` and is TensorFlow-only: it is imported (and
so registered with `keras.saving`, which reloading exported models needs) eagerly
whenever the ``tensorflow`` module can be imported, and is absent from this package
when it cannot.
"""

from fdkd_tf.layers.feature_standardization import FeatureStandardization, signed_log1p, standardize
from fdkd_tf.layers.frequency_decoupling import FrequencyDecoupling, band_bins, decouple

__all__ = [
    "FeatureStandardization",
    "FrequencyDecoupling",
    "band_bins",
    "decouple",
    "signed_log1p",
    "standardize",
]

try:
    from fdkd_tf.layers.audio_frontend import AudioFrontend
except ModuleNotFoundError as error:  # only a missing TensorFlow itself is tolerated
    if error.name != "tensorflow":
        raise
else:
    __all__.insert(0, "AudioFrontend")
