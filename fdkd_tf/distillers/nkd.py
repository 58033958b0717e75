"""``nkd``: normalized knowledge distillation (Yang et al., ICCV 2023, "From
Knowledge Distillation to Self-Knowledge Distillation: A Unified Approach with
Normalized Loss and Customized Soft Labels"), one of the paper's logit baselines."""

from __future__ import annotations

from dataclasses import dataclass

import keras

from fdkd_tf.distillers.base import Distiller
from fdkd_tf.losses import nkd_non_target_loss, nkd_target_loss
from fdkd_tf.settings import positive, weight


@dataclass
class NKDConfig:
    """NKD (Yang et al., 2023): teacher target probability + normalized non-target CE."""

    temperature: float = positive(1.0)  # lambda
    gamma: float = weight(1.5)
    nkd_weight: float = weight(1.0)
    ce_weight: float = weight(1.0)


@keras.saving.register_keras_serializable(package="fdkd_tf")
class NormalizedDistillation(Distiller):
    """``ce_weight * CE + nkd_weight * (L_target + gamma * L_non_target)`` (config
    ``distill.nkd``).

    ``target`` is ``-T_t log S_t`` (teacher's target probability as soft label,
    temperature 1); ``non_target`` the cross-entropy between the normalized
    non-target distributions at temperature ``lambda``, already scaled by
    ``lambda^2`` (`fdkd_tf.losses.nkd`). The logged ``non_target`` is before
    ``gamma``; neither term is 0 for a student equal to its teacher.
    """

    method = "nkd"
    settings_class = NKDConfig

    def build_modules(self, direction):
        """No layers; checks that ``direction`` classifies whole samples."""
        self.require_sample_logits(direction, "nkd", "NKD splits each sample's class probabilities at its one label")
        return {}

    def term_names(self):
        return ("ce", "target", "non_target")

    def loss_terms(self, modules, student_out, teacher_out, labels):
        settings = self.settings
        student_logits, teacher_logits = student_out["logits"], teacher_out["logits"]
        terms = self.cross_entropy_term(labels, student_out, settings.ce_weight)
        terms["target"] = (settings.nkd_weight, nkd_target_loss(student_logits, teacher_logits, labels))
        terms["non_target"] = (
            settings.nkd_weight * settings.gamma,
            nkd_non_target_loss(student_logits, teacher_logits, labels, settings.temperature),
        )
        return terms, {}
