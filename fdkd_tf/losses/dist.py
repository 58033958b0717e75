"""DIST: relation-based logit distillation (Huang, You, Wang, Qian and Xu, NeurIPS
2022, "Knowledge Distillation from A Stronger Teacher").

DIST matches *relations* between predictions instead of the predictions
themselves: with ``Y = softmax(Z / tau)`` of shape ``(batch, classes)`` and the
distance ``d(u, v) = 1 - pearson(u, v)``,

    L_inter = tau^2 / B * sum_i d(Y_s[i, :], Y_t[i, :])    (rows: one sample's classes)
    L_intra = tau^2 / C * sum_j d(Y_s[:, j], Y_t[:, j])    (columns: one class over the batch)
    L_DIST  = beta * L_inter + gamma * L_intra

with beta = gamma = tau = 1 by default, the values of the C2KD code whose
settings the FD-CMKD paper follows. Pearson correlation is invariant to shifting
and scaling, so the student only has to preserve the teacher's relative
preferences, not its exact probabilities, which the DIST paper argues suits a
teacher much stronger than the student (here: a teacher of another modality).
"""

from __future__ import annotations

from keras import ops

#: Added to the product of norms, as the DIST code does: a constant vector (a
#: class column of a batch of one, a uniform prediction) has correlation 0.
PEARSON_EPS = 1e-8


def _safe_norm(values, axis):
    """L2 norm along ``axis`` whose gradient is 0 (not NaN) at the zero vector."""
    return ops.sqrt(ops.maximum(ops.sum(ops.square(values), axis=axis), 1e-30))


def pearson_correlation(first, second, axis: int = -1, eps: float = PEARSON_EPS):
    """Pearson correlation of ``first`` and ``second`` along ``axis``.

    ``sum(a * b) / (|a| |b| + eps)`` with ``a``, ``b`` centred along ``axis``; a
    constant vector gives 0.

    Args:
        first: float tensor.
        second: float tensor of the same shape.
        axis: the axis the vectors lie along.
        eps: added to the product of the norms.

    Returns:
        The correlations, ``axis`` reduced.
    """
    first = first - ops.mean(first, axis=axis, keepdims=True)
    second = second - ops.mean(second, axis=axis, keepdims=True)
    covariance = ops.sum(first * second, axis=axis)
    return covariance / (_safe_norm(first, axis) * _safe_norm(second, axis) + eps)


def _probabilities(student_logits, teacher_logits, tau):
    student_probs = ops.softmax(ops.cast(student_logits, "float32") / tau, axis=-1)
    teacher_probs = ops.softmax(ops.stop_gradient(ops.cast(teacher_logits, "float32")) / tau, axis=-1)
    return student_probs, teacher_probs  # (batch, classes) each


def dist_inter_loss(student_logits, teacher_logits, tau: float = 1.0):
    """Per-sample inter-class relation loss ``tau^2 * (1 - pearson(Y_s[i], Y_t[i]))``.

    Its batch mean is DIST's ``L_inter``. The teacher side carries no
    gradient.

    Args:
        student_logits: ``(batch, classes)``.
        teacher_logits: ``(batch, classes)``.
        tau: softmax temperature ``> 0``.

    Returns:
        ``(batch,)`` float32 losses in ``[0, 2 tau^2]``; 0 where the two
        predictions are equal (or shifted/scaled copies of each other).
    """
    student_probs, teacher_probs = _probabilities(student_logits, teacher_logits, tau)
    return tau**2 * (1.0 - pearson_correlation(student_probs, teacher_probs, axis=-1))


def dist_intra_loss(student_logits, teacher_logits, tau: float = 1.0):
    """DIST's intra-class relation loss ``L_intra``, broadcast to every sample.

    ``L_intra = tau^2 / C * sum_j (1 - pearson(Y_s[:, j], Y_t[:, j]))`` compares,
    class by class, how the predicted probability of that class varies *across the
    batch*; it has no per-sample form. So that the distiller's ``(batch,)``
    contract holds, the batch value is returned for every sample: the batch mean is
    ``L_intra`` exactly, and so is its gradient.

    Under a ``tf.distribute`` strategy each replica sees only its share of the
    global batch, so the columns, and hence this term, are computed per replica
    (``global_batch / replicas`` samples), not over the global batch: a run on R
    replicas is not the same as one on a single device, unlike every per-sample
    term. A batch of one has constant columns, whose correlation is taken as 0, so
    the term is the constant ``tau^2`` there and gives no gradient.

    Args:
        student_logits: ``(batch, classes)``.
        teacher_logits: ``(batch, classes)``.
        tau: softmax temperature ``> 0``.

    Returns:
        ``(batch,)`` float32, every entry the batch's ``L_intra``.
    """
    student_probs, teacher_probs = _probabilities(student_logits, teacher_logits, tau)
    per_class = 1.0 - pearson_correlation(student_probs, teacher_probs, axis=0)  # (classes,)
    batch_value = tau**2 * ops.mean(per_class)
    return ops.broadcast_to(batch_value, (ops.shape(student_probs)[0],))


def dist_loss(student_logits, teacher_logits, beta: float = 1.0, gamma: float = 1.0, tau: float = 1.0):
    """DIST's ``beta * L_inter + gamma * L_intra`` as a ``(batch,)`` vector (Eq. 10).

    The inter-class part is per sample; the intra-class part is the batch value on
    every sample (see `dist_intra_loss`, also for what that means per replica).

    Args:
        student_logits: ``(batch, classes)``.
        teacher_logits: ``(batch, classes)``.
        beta: weight of the inter-class relation.
        gamma: weight of the intra-class relation.
        tau: softmax temperature ``> 0``.

    Returns:
        ``(batch,)`` float32 losses whose mean is the batch's DIST loss.

    Example:
        >>> import numpy as np
        >>> logits = np.random.default_rng(0).normal(size=(8, 5)).astype("float32")
        >>> float(np.max(dist_loss(logits, logits))) < 1e-4
        True
    """
    return beta * dist_inter_loss(student_logits, teacher_logits, tau) + gamma * dist_intra_loss(
        student_logits, teacher_logits, tau
    )
