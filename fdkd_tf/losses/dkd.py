"""DKD: decoupled knowledge distillation (Zhao, Cui, Song, Qiu and Liang, CVPR
2022, "Decoupled Knowledge Distillation").

DKD rewrites the KD loss as ``KD = TCKD + (1 - p_t^T) * NCKD``, with

- TCKD = ``KL(b^T || b^S)``, ``b = [p_t, 1 - p_t]``: the binary target vs.
  non-target distribution (target-class knowledge);
- NCKD = ``KL(p_hat^T || p_hat^S)``, ``p_hat`` the distribution over the
  non-target classes alone (non-target-class knowledge),

all at temperature ``T``. The factor ``1 - p_t^T`` suppresses NCKD exactly where
the teacher is confident, so DKD weights the two parts freely:
``DKD = alpha * TCKD + beta * NCKD``, both scaled by ``T^2`` as KD is.
Defaults of the paper's CIFAR-100 setting and of the C2KD code: alpha 1, beta 8,
T 4.
"""

from __future__ import annotations

from keras import ops

from fdkd_tf.losses.nkd import non_target_log_probs


def _binary_log_probs(logits, is_target):
    """``log [p_t, 1 - p_t]`` from logits, stable when ``p_t`` is near 0 or 1.

    ``log(1 - p_t)`` is the log-sum-exp of the non-target logits minus that of all
    logits, so no ``log(0)`` is taken.
    """
    log_normalizer = ops.logsumexp(logits, axis=-1)
    target_logit = ops.sum(ops.where(is_target, logits, 0.0), axis=-1)
    non_target = ops.logsumexp(ops.where(is_target, -1e9, logits), axis=-1)
    return ops.stack([target_logit - log_normalizer, non_target - log_normalizer], axis=-1)  # (batch, 2)


def _kl(teacher_log_probs, student_log_probs):
    """``sum_i p_i^T (log p_i^T - log p_i^S)`` over the last axis."""
    return ops.sum(ops.exp(teacher_log_probs) * (teacher_log_probs - student_log_probs), axis=-1)


def tckd_loss(student_logits, teacher_logits, labels, temperature: float = 4.0):
    """Per-sample target-class KD ``T^2 KL(b^T || b^S)``.

    Args:
        student_logits: ``(batch, classes)``.
        teacher_logits: ``(batch, classes)``; no gradient.
        labels: ``(batch,)`` integer labels.
        temperature: ``T > 0``.

    Returns:
        ``(batch,)`` float32 losses; 0 when the two target probabilities are equal.
    """
    student_logits = ops.cast(student_logits, "float32") / temperature
    teacher_logits = ops.stop_gradient(ops.cast(teacher_logits, "float32")) / temperature
    is_target = ops.cast(ops.one_hot(ops.cast(labels, "int32"), ops.shape(student_logits)[-1]), "bool")
    teacher_binary = _binary_log_probs(teacher_logits, is_target)  # (batch, 2)
    student_binary = _binary_log_probs(student_logits, is_target)
    return temperature**2 * _kl(teacher_binary, student_binary)


def nckd_loss(student_logits, teacher_logits, labels, temperature: float = 4.0):
    """Per-sample non-target-class KD ``T^2 KL(p_hat^T || p_hat^S)``.

    Args:
        student_logits: ``(batch, classes)``.
        teacher_logits: ``(batch, classes)``; no gradient.
        labels: ``(batch,)`` integer labels.
        temperature: ``T > 0``.

    Returns:
        ``(batch,)`` float32 losses; 0 when the non-target distributions are equal
        (always with two classes).
    """
    student_log_probs, is_target = non_target_log_probs(ops.cast(student_logits, "float32"), labels, temperature)
    teacher_logits = ops.stop_gradient(ops.cast(teacher_logits, "float32"))
    teacher_log_probs, _ = non_target_log_probs(teacher_logits, labels, temperature)
    # At the label both log-probabilities are about -1e9 and p_hat^T is exactly 0.
    gap = ops.where(is_target, 0.0, teacher_log_probs - student_log_probs)
    return temperature**2 * ops.sum(ops.exp(teacher_log_probs) * gap, axis=-1)


def dkd_loss(student_logits, teacher_logits, labels, alpha: float = 1.0, beta: float = 8.0, temperature: float = 4.0):
    """Per-sample ``alpha * TCKD + beta * NCKD``.

    Args:
        student_logits: ``(batch, classes)``.
        teacher_logits: ``(batch, classes)``; no gradient.
        labels: ``(batch,)`` integer labels.
        alpha: weight of TCKD.
        beta: weight of NCKD.
        temperature: ``T > 0``.

    Returns:
        ``(batch,)`` float32 losses; 0 for identical logits.

    Example:
        >>> import numpy as np
        >>> logits = np.array([[2.0, 0.0, -1.0]], "float32")
        >>> float(dkd_loss(logits, logits, np.array([0]))[0])
        0.0
    """
    return alpha * tckd_loss(student_logits, teacher_logits, labels, temperature) + beta * nckd_loss(
        student_logits, teacher_logits, labels, temperature
    )
