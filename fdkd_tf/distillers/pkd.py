"""``pkd``: Pearson-correlation feature distillation (Cao et al., NeurIPS 2022, "PKD:
General Distillation Framework for Object Detectors via Pearson Correlation
Coefficient"), one of the paper's feature baselines.

    L = ce_weight * CE(student) + pkd_weight * (1 - r(W s, t))

with ``s``, ``t`` the pooled pre-ReLU features, ``W`` the learned projection when
their sizes differ (``distill.projection``) and ``r`` the Pearson correlation of
each channel over the batch, as the authors' loss computes it (`fdkd_tf.losses.pkd_loss`;
global-batch statistics under `tf.distribute`, so R replicas equal one device). The standardization makes the loss blind
to the scale and offset of either feature, the property that PKD credits for
working across heterogeneous teacher/student pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import keras

from fdkd_tf.distillers.base import Distiller
from fdkd_tf.losses import pkd_loss
from fdkd_tf.settings import weight


@dataclass
class PKDConfig:
    """PKD (Cao et al., 2022): 1 - Pearson correlation of (projected) pooled features.

    ``pkd_weight`` 6 is the original's weight for two-stage detectors (10 for
    one-stage ones). ``statistics``: ``batch`` standardises each channel over the
    batch (the authors' loss), ``sample`` each sample on its own (a variant).
    """

    pkd_weight: float = weight(6.0)
    ce_weight: float = weight(1.0)
    statistics: Literal["batch", "sample"] = "batch"


@keras.saving.register_keras_serializable(package="fdkd_tf")
class PearsonDistillation(Distiller):
    """``ce_weight * CE + pkd_weight * (1 - Pearson(W s, t))`` (config ``distill.pkd``)."""

    method = "pkd"
    settings_class = PKDConfig

    uses_projection = True

    def term_names(self):
        return ("ce", "pkd")

    def loss_terms(self, modules, student_out, teacher_out, labels):
        settings = self.settings
        terms = self.cross_entropy_term(labels, student_out, settings.ce_weight)
        student_features = self.project(modules, student_out["features"])  # (batch, teacher_dim)
        terms["pkd"] = (settings.pkd_weight, pkd_loss(student_features, teacher_out["features"], statistics=settings.statistics))
        return terms, {}
