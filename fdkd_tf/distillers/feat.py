"""``feat``: FitNet-style MSE on pooled features (Romero et al., 2015), the
paper's "Feat" baseline and the first row of its Table 4."""

from __future__ import annotations

from dataclasses import dataclass

import keras

from fdkd_tf.distillers.base import Distiller
from fdkd_tf.losses import feature_mse
from fdkd_tf.settings import weight


@dataclass
class FeatConfig:
    """FitNet-style MSE between (projected) student and teacher pooled features."""

    feat_weight: float = weight(1.0)
    ce_weight: float = weight(1.0)


@keras.saving.register_keras_serializable(package="fdkd_tf")
class FeatureDistillation(Distiller):
    """``ce_weight * CE + feat_weight * MSE(W s, t)``; ``W`` is the learned
    projection when student and teacher feature sizes differ (config
    ``distill.feat``, ``distill.projection``)."""

    method = "feat"
    settings_class = FeatConfig

    uses_projection = True

    def term_names(self):
        return ("ce", "feat")

    def loss_terms(self, modules, student_out, teacher_out, labels):
        settings = self.settings
        terms = self.cross_entropy_term(labels, student_out, settings.ce_weight)
        student_features = self.project(modules, student_out["features"])
        terms["feat"] = (settings.feat_weight, feature_mse(student_features, teacher_out["features"]))
        return terms, {}
