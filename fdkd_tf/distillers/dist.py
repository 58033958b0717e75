"""``dist``: DIST, relation-based logit distillation (Huang et al., NeurIPS 2022,
"Knowledge Distillation from A Stronger Teacher"), one of the paper's logit
baselines (Tables 2-3)."""

from __future__ import annotations

from dataclasses import dataclass

import keras

from fdkd_tf.distillers.base import Distiller
from fdkd_tf.losses import dist_inter_loss, dist_intra_loss
from fdkd_tf.settings import positive, weight


@dataclass
class DISTConfig:
    """DIST (Huang et al., 2022): Pearson relations between predictions.

    ``beta`` weighs the inter-class (per sample) relation, ``gamma`` the
    intra-class (per class over the batch; per replica under tf.distribute) one.
    """

    beta: float = weight(1.0)
    gamma: float = weight(1.0)
    tau: float = positive(1.0)
    ce_weight: float = weight(1.0)


@keras.saving.register_keras_serializable(package="fdkd_tf")
class RelationDistillation(Distiller):
    """``ce_weight * CE + beta * L_inter + gamma * L_intra`` (config ``distill.dist``).

    Terms ``inter`` and ``intra`` are DIST's Pearson-correlation distances at
    temperature ``tau`` (each already carries ``tau^2``). ``intra`` relates the
    samples of the batch, so under ``tf.distribute`` it is computed over each
    replica's share of the batch, not the global batch (see
    `fdkd_tf.losses.dist_intra_loss`); ``ce`` and ``inter`` are per-sample and
    replica-independent.
    """

    method = "dist"
    settings_class = DISTConfig

    def build_modules(self, direction):
        """No layers; checks that ``direction`` classifies whole samples."""
        self.require_sample_logits(direction, "dist", "DIST relates class-probability vectors of whole samples")
        return {}

    def term_names(self):
        return ("ce", "inter", "intra")

    def loss_terms(self, modules, student_out, teacher_out, labels):
        settings = self.settings
        student_logits, teacher_logits = student_out["logits"], teacher_out["logits"]
        terms = self.cross_entropy_term(labels, student_out, settings.ce_weight)
        terms["inter"] = (settings.beta, dist_inter_loss(student_logits, teacher_logits, settings.tau))
        terms["intra"] = (settings.gamma, dist_intra_loss(student_logits, teacher_logits, settings.tau))
        return terms, {}
