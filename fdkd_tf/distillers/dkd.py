"""``dkd``: decoupled knowledge distillation (Zhao et al., CVPR 2022, "Decoupled
Knowledge Distillation"), one of the paper's logit baselines.

DKD's loss weight is warmed up linearly over the first ``warmup_epochs`` epochs,
as in the original: at epoch ``e`` (counted from 1) both TCKD and NCKD are
multiplied by ``min(e / warmup_epochs, 1)``. The distiller learns the epoch from
Keras itself: `fit` adds a callback that writes the epoch index Keras reports
(``initial_epoch`` included, so a resumed run continues the ramp) into a
non-trainable variable that the train step reads. The optimizer's iteration
counter alone would not do, because the distiller does not know the steps per
epoch (a constant learning rate carries none, and a dataset's cardinality can be
unknown). Outside `fit` (a bare `evaluate`, `compute_terms`) the epoch is the last
one set, 0 for a new distiller.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
from keras import ops

from fdkd_tf.distillers.base import Distiller
from fdkd_tf.losses import nckd_loss, tckd_loss
from fdkd_tf.settings import check, non_negative, positive, weight


@dataclass
class DKDConfig:
    """DKD (Zhao et al., 2022): ``alpha * TCKD + beta * NCKD`` at temperature T.

    ``warmup_epochs``: both weights ramp up as ``min(epoch / warmup_epochs, 1)``
    (epochs counted from 1), as in the original; 0 switches the warm-up off.
    """

    alpha: float = weight(1.0)
    beta: float = weight(8.0)
    temperature: float = positive(4.0)
    warmup_epochs: int = field(default=20, metadata=check(non_negative, "a non-negative integer"))
    ce_weight: float = weight(1.0)


class EpochCounter(keras.callbacks.Callback):
    """Writes the index of the epoch that begins (from 0) into ``variable``."""

    def __init__(self, variable):
        super().__init__()
        self.variable = variable

    def on_epoch_begin(self, epoch, logs=None):
        self.variable.assign(float(epoch))


def warmup_factor(epoch, warmup_epochs: int):
    """DKD's linear warm-up ``min((epoch + 1) / warmup_epochs, 1)``; 1 when 0.

    Args:
        epoch: 0-based epoch index (a scalar tensor or number).
        warmup_epochs: epochs of the ramp; 0 disables it.

    Returns:
        A float32 scalar in ``(0, 1]``.
    """
    if warmup_epochs <= 0:
        return ops.ones((), "float32")
    return ops.minimum((ops.cast(epoch, "float32") + 1.0) / float(warmup_epochs), 1.0)


@keras.saving.register_keras_serializable(package="fdkd_tf")
class DecoupledDistillation(Distiller):
    """``ce_weight * CE + w(e) * (alpha * TCKD + beta * NCKD)`` (config ``distill.dkd``).

    ``w(e)`` is the warm-up factor (see the module docstring). The logged ``tckd``
    and ``nckd`` include it (they are what enters the loss, before ``alpha`` and
    ``beta``); ``warmup`` logs ``w(e)`` itself and is not added to the loss.
    """

    method = "dkd"
    settings_class = DKDConfig

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.epoch = keras.Variable(0.0, dtype="float32", trainable=False, name="dkd_epoch")

    def build_modules(self, direction):
        """No layers; checks that ``direction`` classifies whole samples."""
        self.require_sample_logits(direction, "dkd", "DKD splits each sample's class probabilities at its one label")
        return {}

    def term_names(self):
        return ("ce", "tckd", "nckd", "warmup")

    def fit(self, *args, callbacks=None, **kwargs):
        """`keras.Model.fit` with the epoch counter the warm-up reads."""
        callbacks = list(callbacks or []) + [EpochCounter(self.epoch)]
        return super().fit(*args, callbacks=callbacks, **kwargs)

    def loss_terms(self, modules, student_out, teacher_out, labels):
        settings = self.settings
        student_logits, teacher_logits = student_out["logits"], teacher_out["logits"]
        factor = warmup_factor(self.epoch, settings.warmup_epochs)
        terms = self.cross_entropy_term(labels, student_out, settings.ce_weight)
        tckd = tckd_loss(student_logits, teacher_logits, labels, settings.temperature)
        terms["tckd"] = (settings.alpha, factor * tckd)
        nckd = nckd_loss(student_logits, teacher_logits, labels, settings.temperature)
        terms["nckd"] = (settings.beta, factor * nckd)
        terms["warmup"] = (0.0, ops.broadcast_to(factor, ops.shape(tckd)))
        return terms, {}
