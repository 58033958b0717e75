"""FD-CMKD band losses (paper Eq. 8-9): MSE on the low band, logMSE on the high band.

Both compare standardized bands of student and teacher. Low-frequency content is
shared across modalities, so it is aligned strongly (plain MSE); high-frequency
content is modality-specific, so it is aligned weakly: differences pass through
``signed_log1p`` first, which bounds their gradients. The teacher side never
receives a gradient.

Each function returns one value per sample (mean over every non-batch axis); the
mean of those over the batch is the paper's ``1 / (N D) ||.||^2``.
"""

from __future__ import annotations

import keras
from keras import ops

from fdkd_tf.layers.feature_standardization import signed_log1p, standardize
from fdkd_tf.losses.reduction import per_sample_mean


def low_band_loss(student_low, teacher_low, scale: bool = True):
    """Per-sample MSE between (standardized) low bands, Eq. 8.

    Args:
        student_low: ``(batch, ..., dim)`` student low band.
        teacher_low: same shape, teacher low band (gradient stopped).
        scale: standardize both bands first (Table 4 "Scale").

    Returns:
        ``(batch,)`` float32 losses.

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).normal(size=(2, 8)).astype("float32")
        >>> np.asarray(low_band_loss(x, x)).tolist()
        [0.0, 0.0]
    """
    student_low = ops.cast(student_low, "float32")
    teacher_low = ops.stop_gradient(ops.cast(teacher_low, "float32"))
    if scale:
        student_low, teacher_low = standardize(student_low), standardize(teacher_low)
    return per_sample_mean(ops.square(student_low - teacher_low))


def high_band_loss(student_high, teacher_high, scale: bool = True, log: bool = True):
    """Per-sample logMSE between (standardized) high bands, Eq. 9.

    Args:
        student_high: ``(batch, ..., dim)`` student high band.
        teacher_high: same shape, teacher high band (gradient stopped).
        scale: standardize both bands first (Table 4 "Scale").
        log: apply ``signed_log1p`` before the squared error (Table 4 "Log");
            without it this is a plain MSE.

    Returns:
        ``(batch,)`` float32 losses.
    """
    student_high = ops.cast(student_high, "float32")
    teacher_high = ops.stop_gradient(ops.cast(teacher_high, "float32"))
    if scale:
        student_high, teacher_high = standardize(student_high), standardize(teacher_high)
    if log:
        student_high, teacher_high = signed_log1p(student_high), signed_log1p(teacher_high)
    return per_sample_mean(ops.square(student_high - teacher_high))


@keras.saving.register_keras_serializable(package="fdkd_tf")
class LowBandLoss(keras.losses.Loss):
    """`low_band_loss` as a Keras loss: ``loss(teacher_low, student_low)``.

    Being a `keras.losses.Loss`, its batch mean is scaled by the number of replicas
    under `tf.distribute`, so gradients summed across replicas equal the
    single-device gradient of the global batch.
    """

    def __init__(self, scale: bool = True, name: str = "low_band_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.scale = scale

    def call(self, y_true, y_pred):
        return low_band_loss(y_pred, y_true, self.scale)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(package="fdkd_tf")
class HighBandLoss(keras.losses.Loss):
    """`high_band_loss` as a Keras loss: ``loss(teacher_high, student_high)``."""

    def __init__(self, scale: bool = True, log: bool = True, name: str = "high_band_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.scale = scale
        self.log = log

    def call(self, y_true, y_pred):
        return high_band_loss(y_pred, y_true, self.scale, self.log)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "log": self.log}
