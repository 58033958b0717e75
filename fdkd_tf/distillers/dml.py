"""``dml``: deep mutual learning (Zhang, Xiang, Hospedales and Lu, CVPR 2018, "Deep
Mutual Learning"), one of the paper's logit baselines.

The two networks teach each other: each is trained with its own cross-entropy plus
the KL divergence from the other's prediction to its own,

    L_student = CE(p_s) + KL(p_t || p_s)        L_teacher = CE(p_t) + KL(p_s || p_t)

each KL with the other side detached, so every model only learns from its own two
terms. Here the "teacher" is the other modality's network, initialised from its
stage-1 weights (trained in stage 1 or loaded from ``teacher.checkpoint``) and
trained on (``trains_teacher``), in training mode, by the same optimizer as the
student.

Differences from the original, on purpose: the two models are updated in the same
step from the same forward pass (the original updates one network, recomputes the
predictions, then updates the other), and the teacher starts pre-trained rather
than from scratch.

Metrics: ``ce``/``kl`` are the student's terms, ``teacher_ce``/``teacher_kl`` the
teacher's, and ``teacher_acc`` (``val_teacher_acc``) the co-trained teacher's
accuracy. Checkpoint selection, as for every method, uses the student's own head
(``val_acc``); ``metrics.json``'s ``teacher`` entry is the stage-1 teacher, before
mutual learning. The co-trained teacher's weights are saved only inside the
distiller's ``last.e<epoch>.weights.h5``.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from fdkd_tf.distillers.base import Distiller
from fdkd_tf.losses import cross_entropy, kd_loss
from fdkd_tf.settings import positive, weight


@dataclass
class DMLConfig:
    """DML (Zhang et al., 2018): student and teacher learn from each other.

    Each side gets ``ce_weight * CE + kl_weight * T^2 KL(other || own)``.
    """

    ce_weight: float = weight(1.0)
    kl_weight: float = weight(1.0)
    temperature: float = positive(1.0)


@keras.saving.register_keras_serializable(package="fdkd_tf")
class MutualLearning(Distiller):
    """Student and teacher learn from each other (config ``distill.dml``).

    ``kd_loss(own, other, T)`` is ``T^2 KL(softmax(other / T) || softmax(own / T))``
    with ``other`` detached; at the default ``T = 1`` it is DML's KL exactly.
    """

    method = "dml"
    settings_class = DMLConfig

    trains_teacher = True
    extra_accuracy_heads = ("teacher",)

    def build_modules(self, direction):
        """No layers; checks that ``direction`` classifies whole samples."""
        self.require_sample_logits(direction, "dml", "DML is implemented for one class prediction per sample")
        return {}

    def term_names(self):
        return ("ce", "kl", "teacher_ce", "teacher_kl")

    def loss_terms(self, modules, student_out, teacher_out, labels):
        settings = self.settings
        student_logits, teacher_logits = student_out["logits"], teacher_out["logits"]
        terms = self.cross_entropy_term(labels, student_out, settings.ce_weight)
        terms["kl"] = (settings.kl_weight, kd_loss(student_logits, teacher_logits, settings.temperature))
        terms["teacher_ce"] = (settings.ce_weight, cross_entropy(labels, teacher_logits))
        terms["teacher_kl"] = (settings.kl_weight, kd_loss(teacher_logits, student_logits, settings.temperature))
        return terms, {"teacher": teacher_logits}
