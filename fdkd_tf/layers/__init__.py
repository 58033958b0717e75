"""Frequency decoupling and feature standardization: pure functions + Keras layers."""

from fdkd_tf.layers.audio_frontend import AudioFrontend
from fdkd_tf.layers.feature_standardization import FeatureStandardization, signed_log1p, standardize
from fdkd_tf.layers.frequency_decoupling import FrequencyDecoupling, band_bins, decouple

__all__ = [
    "AudioFrontend",
    "FeatureStandardization",
    "FrequencyDecoupling",
    "band_bins",
    "decouple",
    "signed_log1p",
    "standardize",
]
