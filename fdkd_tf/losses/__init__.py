"""Loss functions: pure per-sample functions (and Keras `Loss` wrappers)."""

from fdkd_tf.losses.afd import afd_attention, afd_loss
from fdkd_tf.losses.c2kd import kendall_tau, non_target_kl, on_the_fly_selection, selected_non_target_kl
from fdkd_tf.losses.classification import cross_entropy
from fdkd_tf.losses.dist import dist_inter_loss, dist_intra_loss, dist_loss
from fdkd_tf.losses.dkd import dkd_loss, nckd_loss, tckd_loss
from fdkd_tf.losses.fdcmkd import HighBandLoss, LowBandLoss, high_band_loss, low_band_loss
from fdkd_tf.losses.feat import feature_mse
from fdkd_tf.losses.kd import kd_loss
from fdkd_tf.losses.nkd import nkd_loss, nkd_non_target_loss, nkd_target_loss
from fdkd_tf.losses.ofd import margin_from_statistics, margin_relu, negative_response_statistics, ofd_loss, partial_l2
from fdkd_tf.losses.pkd import pkd_loss

__all__ = [
    "HighBandLoss",
    "LowBandLoss",
    "afd_attention",
    "afd_loss",
    "cross_entropy",
    "dist_inter_loss",
    "dist_intra_loss",
    "dist_loss",
    "dkd_loss",
    "feature_mse",
    "high_band_loss",
    "kd_loss",
    "kendall_tau",
    "low_band_loss",
    "margin_from_statistics",
    "margin_relu",
    "nckd_loss",
    "negative_response_statistics",
    "nkd_loss",
    "nkd_non_target_loss",
    "nkd_target_loss",
    "non_target_kl",
    "ofd_loss",
    "on_the_fly_selection",
    "partial_l2",
    "pkd_loss",
    "selected_non_target_kl",
    "tckd_loss",
]
