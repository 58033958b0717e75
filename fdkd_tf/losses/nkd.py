"""NKD: normalized knowledge distillation (Yang, Zeng, Li, Yang, Yuan and Li, ICCV
2023, "From Knowledge Distillation to Self-Knowledge Distillation: A Unified
Approach with Normalized Loss and Customized Soft Labels").

The paper splits KD into a target part and a non-target part and observes that the
non-target part is scaled down by ``1 - S_t`` (the student's non-target mass),
which shrinks as the student learns. NKD uses the teacher's target probability as a
soft target and *normalizes* the non-target distributions so they sum to one:

    L_NKD = -T_t log S_t - gamma * lambda^2 * sum_{i != t} N(T_i^lambda) log N(S_i^lambda)

with ``T``, ``S`` the teacher and student probabilities, ``t`` the label,
``N(p_i) = p_i / sum_{j != t} p_j`` and ``lambda`` the temperature of the
non-target part. The student also keeps its cross-entropy. Defaults,
from the paper and its public code: ``lambda = 1``, ``gamma = 1.5``.
"""

from __future__ import annotations

from keras import ops

#: Replaces the target logit so a softmax over all classes is the softmax over the
#: non-target classes (exp underflows to exactly 0 in float32).
_EXCLUDED_LOGIT = -1e9


def non_target_log_probs(logits, labels, temperature: float = 1.0):
    """Log of the normalized non-target distribution ``log N(p_i^T)``.

    ``N(p_i) = p_i / sum_{j != t} p_j`` equals a softmax over the non-target logits
    alone, computed that way so it stays finite when ``p_t`` is close to 1.

    Args:
        logits: ``(batch, classes)`` float32.
        labels: ``(batch,)`` integer labels.
        temperature: divides the logits first.

    Returns:
        ``(log_probs, is_target)``: ``(batch, classes)`` log-probabilities (about
        ``-1e9`` at the label, whose probability is exactly 0) and the boolean
        one-hot mask of the labels.
    """
    is_target = ops.cast(ops.one_hot(ops.cast(labels, "int32"), ops.shape(logits)[-1]), "bool")
    masked = ops.where(is_target, ops.cast(_EXCLUDED_LOGIT, logits.dtype), logits / temperature)
    return ops.log_softmax(masked, axis=-1), is_target


def nkd_target_loss(student_logits, teacher_logits, labels):
    """Per-sample target term ``-T_t log S_t`` at temperature 1 (first term).

    The teacher's target probability replaces the one-hot label of cross-entropy.

    Args:
        student_logits: ``(batch, classes)``.
        teacher_logits: ``(batch, classes)``; no gradient.
        labels: ``(batch,)`` integer labels.

    Returns:
        ``(batch,)`` float32 losses (>= 0).
    """
    student_logits = ops.cast(student_logits, "float32")
    teacher_logits = ops.stop_gradient(ops.cast(teacher_logits, "float32"))
    labels = ops.expand_dims(ops.cast(labels, "int32"), -1)  # (batch, 1)
    student_target_log_prob = ops.take_along_axis(ops.log_softmax(student_logits, -1), labels, axis=-1)[:, 0]
    teacher_target_prob = ops.take_along_axis(ops.softmax(teacher_logits, -1), labels, axis=-1)[:, 0]
    return -teacher_target_prob * student_target_log_prob


def nkd_non_target_loss(student_logits, teacher_logits, labels, temperature: float = 1.0):
    """Per-sample normalized non-target term ``-lambda^2 sum_{i!=t} N(T_i) log N(S_i)``.

    A cross-entropy between the two normalized non-target distributions at
    temperature ``lambda`` (second term, without ``gamma``). Its minimum over
    the student, reached when ``N(S) = N(T)``, is ``lambda^2`` times the entropy of
    ``N(T)``, not 0. With two classes it is 0.

    Args:
        student_logits: ``(batch, classes)``.
        teacher_logits: ``(batch, classes)``; no gradient.
        labels: ``(batch,)`` integer labels.
        temperature: ``lambda > 0``.

    Returns:
        ``(batch,)`` float32 losses (>= 0).
    """
    student_log_probs, is_target = non_target_log_probs(ops.cast(student_logits, "float32"), labels, temperature)
    teacher_logits = ops.stop_gradient(ops.cast(teacher_logits, "float32"))
    teacher_log_probs, _ = non_target_log_probs(teacher_logits, labels, temperature)
    teacher_probs = ops.exp(teacher_log_probs)  # exactly 0 at the label
    cross = ops.where(is_target, 0.0, teacher_probs * student_log_probs)
    return -(temperature**2) * ops.sum(cross, axis=-1)


def nkd_loss(student_logits, teacher_logits, labels, temperature: float = 1.0, gamma: float = 1.5):
    """Per-sample NKD loss: target term + ``gamma`` * non-target term.

    Args:
        student_logits: ``(batch, classes)``.
        teacher_logits: ``(batch, classes)``; no gradient.
        labels: ``(batch,)`` integer labels.
        temperature: ``lambda`` of the non-target term (1 in the paper).
        gamma: weight of the non-target term (1.5 in the paper).

    Returns:
        ``(batch,)`` float32 losses.

    Example:
        >>> import numpy as np
        >>> logits = np.array([[2.0, 0.0, -1.0]], "float32")
        >>> tuple(nkd_loss(logits, logits, np.array([0])).shape)
        (1,)
    """
    return nkd_target_loss(student_logits, teacher_logits, labels) + gamma * nkd_non_target_loss(
        student_logits, teacher_logits, labels, temperature
    )
