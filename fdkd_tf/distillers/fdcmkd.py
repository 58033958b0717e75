"""``fdcmkd``: frequency-decoupled cross-modal distillation (the paper, Eq. 1-11).

Per direction, with ``s`` the (projected) student feature and ``t`` the frozen
teacher feature (both pooled, pre-ReLU):

    L = ce_weight   * CE(head(s_raw))                              student's own head
      + task_weight * [CE(task_low(s_low)) + CE(task_high(s_high))]  L_task bands
      + align_weight * [CE(Phi_low(s_low)) + CE(Phi_low(t_low))
                      + CE(Phi_high(s_high)) + CE(Phi_high(t_high))]  L_align, Eq. 10
      + lambda1 * L_low(s_low, t_low) + lambda2 * L_high(s_high, t_high)   Eq. 8-9

Phi_low / Phi_high are shared by student and teacher bands; only they learn from
the teacher terms (the teacher is frozen). Table 4's switches:

- ``freq`` off: no decoupling; one MSE on whole features (weight lambda1, term
  ``feat``), one shared classifier when ``align`` is on, no band task heads.
- ``align`` off: no shared classifiers.
- ``scale`` off: bands compared without standardization (Eq. 4-5 instead of 8-9).
- ``log`` off: the high band uses plain MSE.
With all four off this is exactly the ``feat`` baseline (Table 4's first row).

Segmentation: with dense decoder features ``(batch, h, w, C)`` (DeepLabV3+) every
pixel's channel vector is one signal: decoupling, standardisation and the band
losses act on the channel axis at every pixel, the heads are 1x1 classifiers on
every pixel, and their logits are upsampled to the label map for the CE terms
and the ``low_miou`` / ``high_miou`` metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras

from fdkd_tf.distillers.base import Distiller
from fdkd_tf.layers import FrequencyDecoupling, standardize
from fdkd_tf.losses import feature_mse, high_band_loss, low_band_loss
from fdkd_tf.models import ClassificationHead
from fdkd_tf.settings import check, fraction, weight


@dataclass
class FDCMKDConfig:
    """FD-CMKD (paper Eq. 11) weights, band split and Table 4 ablation switches."""

    lambda1: float = weight(1.0)
    lambda2: float = weight(1.0)
    align_weight: float = weight(1.0)
    task_weight: float = weight(1.0)
    ce_weight: float = weight(1.0)
    cutoff: float = field(default=0.5, metadata=check(fraction, "in (0, 1)"))
    dc_in_low: bool = False
    freq: bool = True
    align: bool = True
    scale: bool = True
    log: bool = True


def _head(num_classes: int, dim: int, name: str):
    head = ClassificationHead(num_classes, name=name)
    head.build((None, dim))
    return head


@keras.saving.register_keras_serializable(package="fdkd_tf")
class FrequencyDecoupledDistillation(Distiller):
    """FD-CMKD with the heads of the reference code (config ``distill.fdcmkd``)."""

    method = "fdcmkd"
    settings_class = FDCMKDConfig

    uses_projection = True

    @property
    def extra_accuracy_heads(self):
        return ("low", "high") if self.settings.freq else ()

    def term_names(self):
        settings = self.settings
        names = ["ce"]
        if settings.freq:
            names += ["task_low", "task_high", "low", "high"]
            if settings.align:
                names += ["align_low_s", "align_low_t", "align_high_s", "align_high_t"]
        else:
            names += ["feat"]
            if settings.align:
                names += ["align_s", "align_t"]
        return tuple(names)

    def build_modules(self, direction):
        settings = self.settings
        dim = int(direction.teacher.output["features"].shape[-1])
        prefix = direction.name
        modules = {"decoupling": FrequencyDecoupling(settings.cutoff, settings.dc_in_low, name=f"{prefix}_decoupling")}
        if settings.freq:
            modules["task_low"] = _head(self.num_classes, dim, f"{prefix}_task_low")
            modules["task_high"] = _head(self.num_classes, dim, f"{prefix}_task_high")
            if settings.align:
                modules["align_low"] = _head(self.num_classes, dim, f"{prefix}_align_low")
                modules["align_high"] = _head(self.num_classes, dim, f"{prefix}_align_high")
        elif settings.align:
            modules["align"] = _head(self.num_classes, dim, f"{prefix}_align")
        return modules

    def loss_terms(self, modules, student_out, teacher_out, labels):
        settings = self.settings
        terms = self.cross_entropy_term(labels, student_out, settings.ce_weight)
        student_features = self.project(modules, student_out["features"])  # (batch, teacher_dim)
        teacher_features = teacher_out["features"]
        if not settings.freq:
            compared = (standardize(student_features), standardize(teacher_features)) if settings.scale else (student_features, teacher_features)
            terms["feat"] = (settings.lambda1, feature_mse(*compared))
            if settings.align:
                terms["align_s"] = (settings.align_weight, self.task_cross_entropy(labels, modules["align"](student_features)))
                terms["align_t"] = (settings.align_weight, self.task_cross_entropy(labels, modules["align"](teacher_features)))
            return terms, {}

        student_low, student_high = modules["decoupling"](student_features)
        teacher_low, teacher_high = modules["decoupling"](teacher_features)
        low_logits = modules["task_low"](student_low)
        high_logits = modules["task_high"](student_high)
        terms["task_low"] = (settings.task_weight, self.task_cross_entropy(labels, low_logits))
        terms["task_high"] = (settings.task_weight, self.task_cross_entropy(labels, high_logits))
        terms["low"] = (settings.lambda1, low_band_loss(student_low, teacher_low, settings.scale))
        terms["high"] = (settings.lambda2, high_band_loss(student_high, teacher_high, settings.scale, settings.log))
        if settings.align:
            for band, student_band, teacher_band in (("low", student_low, teacher_low), ("high", student_high, teacher_high)):
                shared = modules[f"align_{band}"]
                terms[f"align_{band}_s"] = (settings.align_weight, self.task_cross_entropy(labels, shared(student_band)))
                terms[f"align_{band}_t"] = (settings.align_weight, self.task_cross_entropy(labels, shared(teacher_band)))
        return terms, {"low": low_logits, "high": high_logits}
