"""``none``: the student alone with cross-entropy (the paper's "w/o KD" row).

Also trains the teachers in stage 1: a teacher is a unimodal model trained this way.
"""

from __future__ import annotations

import keras

from fdkd_tf.distillers.base import Distiller


@keras.saving.register_keras_serializable(package="fdkd_tf")
class NoDistillation(Distiller):
    """Cross-entropy on the student's own head; no teacher is needed."""

    method = "none"

    uses_teacher = False

    def term_names(self):
        return ("ce",)

    def loss_terms(self, modules, student_out, teacher_out, labels):
        ce_weight = getattr(self.settings, "ce_weight", 1.0)
        return self.cross_entropy_term(labels, student_out, ce_weight), {}
