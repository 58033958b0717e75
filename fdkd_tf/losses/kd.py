"""Hinton logit distillation (Hinton, Vinyals and Dean, 2015, "Distilling the
Knowledge in a Neural Network")."""

from __future__ import annotations

from keras import ops


def kd_loss(student_logits, teacher_logits, temperature: float = 4.0):
    """Per-sample ``T^2 * KL(softmax(t / T) || softmax(s / T))``.

    The ``T^2`` factor keeps the gradient scale independent of the temperature,
    as in the original paper. The teacher side carries no gradient.

    Args:
        student_logits: ``(batch, classes)``.
        teacher_logits: ``(batch, classes)``.
        temperature: softening temperature ``T > 0``.

    Returns:
        ``(batch,)`` float32 losses; zero when the logits are equal.
    """
    student_logits = ops.cast(student_logits, "float32") / temperature
    teacher_logits = ops.stop_gradient(ops.cast(teacher_logits, "float32")) / temperature
    teacher_log_probs = ops.log_softmax(teacher_logits, axis=-1)
    student_log_probs = ops.log_softmax(student_logits, axis=-1)
    kl = ops.sum(ops.exp(teacher_log_probs) * (teacher_log_probs - student_log_probs), axis=-1)
    return kl * temperature**2
