"""Loss functions: pure per-sample functions (and Keras `Loss` wrappers)."""

from fdkd_tf.losses.classification import cross_entropy
from fdkd_tf.losses.fdcmkd import HighBandLoss, LowBandLoss, high_band_loss, low_band_loss
from fdkd_tf.losses.feat import feature_mse
from fdkd_tf.losses.kd import kd_loss

__all__ = [
    "HighBandLoss",
    "LowBandLoss",
    "cross_entropy",
    "feature_mse",
    "high_band_loss",
    "kd_loss",
    "low_band_loss",
]
