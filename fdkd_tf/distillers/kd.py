"""``kd``: Hinton logit distillation (Hinton, Vinyals and Dean, 2015)."""

from __future__ import annotations

from dataclasses import dataclass

import keras

from fdkd_tf.distillers.base import Distiller
from fdkd_tf.losses import kd_loss
from fdkd_tf.settings import positive, weight


@dataclass
class KDConfig:
    """Hinton et al. (2015) logit distillation."""

    temperature: float = positive(4.0)
    kd_weight: float = weight(1.0)
    ce_weight: float = weight(1.0)


@keras.saving.register_keras_serializable(package="fdkd_tf")
class LogitDistillation(Distiller):
    """``ce_weight * CE + kd_weight * T^2 KL(p_t^T || p_s^T)`` (config ``distill.kd``)."""

    method = "kd"
    settings_class = KDConfig

    def term_names(self):
        return ("ce", "kd")

    def loss_terms(self, modules, student_out, teacher_out, labels):
        settings = self.settings
        terms = self.cross_entropy_term(labels, student_out, settings.ce_weight)
        terms["kd"] = (
            settings.kd_weight,
            kd_loss(student_out["logits"], teacher_out["logits"], settings.temperature),
        )
        return terms, {}
