"""OFD feature loss (Heo et al., ICCV 2019, "A Comprehensive Overhaul of Feature
Distillation"): margin ReLU on the teacher and the partial L2 distance."""

from __future__ import annotations

import tensorflow as tf


def margin_relu(teacher_features, margin):
    """The teacher transform ``sigma_m(t) = max(t, m)``.

    ``m < 0`` is, per channel, the expectation of the teacher's negative
    pre-ReLU responses: negative values keep only that mean, so the student is
    not asked to copy the exact (uninformative) magnitude of suppressed responses.

    Args:
        teacher_features: ``(batch, ..., C)`` pre-ReLU teacher features.
        margin: ``(C,)`` per-channel margins, broadcast over the last axis.

    Returns:
        Tensor shaped like ``teacher_features``.
    """
    return tf.maximum(tf.cast(teacher_features, tf.float32), tf.cast(margin, tf.float32))


def partial_l2(student_features, target_features):
    """Per-sample partial L2 distance ``d_p(T, S)`` of OFD, summed over elements.

    ``d_p = sum_i (T_i - S_i)^2`` except at positions where ``S_i <= T_i <= 0``:
    there the teacher's response is suppressed by the ReLU and a student that
    is at least as negative already gives the same post-ReLU output.

    Args:
        student_features: ``(batch, ..., C)`` regressed student features.
        target_features: same shape, the margin-ReLU'd teacher; gradient stopped.

    Returns:
        ``(batch,)`` float32 distances.
    """
    student_features = tf.cast(student_features, tf.float32)
    target_features = tf.stop_gradient(tf.cast(target_features, tf.float32))
    keep = tf.logical_or(student_features > target_features, target_features > 0.0)
    squared = tf.square(student_features - target_features) * tf.cast(keep, tf.float32)
    return tf.reduce_sum(tf.reshape(squared, [tf.shape(squared)[0], -1]), axis=-1)


def ofd_loss(student_features, teacher_features, margin):
    """Per-sample OFD distillation loss ``d_p(sigma_m(t), r(s))``.

    Summed over feature elements, as in the original (whose training script
    then divides by the batch size, our per-sample mean, and by 1000, our
    default ``distill.ofd.ofd_weight`` of 1e-3).

    Args:
        student_features: ``(batch, ..., C)`` student features after the regressor.
        teacher_features: ``(batch, ..., C)`` pre-ReLU teacher features.
        margin: ``(C,)`` per-channel margins (<= 0).

    Returns:
        ``(batch,)`` float32 losses; zero when the student equals the margin-ReLU'd
        teacher.

    Example:
        >>> t = tf.constant([[1.0, -2.0]])
        >>> float(ofd_loss(tf.constant([[1.0, -3.0]]), t, tf.constant([-1.0, -1.0]))[0])
        0.0
    """
    return partial_l2(student_features, margin_relu(tf.stop_gradient(teacher_features), margin))


def negative_response_statistics(teacher_features):
    """Per-channel sum and count of the negative responses in a batch.

    Accumulated over the training data, they give the margin of `margin_relu`
    (see `margin_from_statistics`).

    Args:
        teacher_features: ``(batch, ..., C)`` pre-ReLU teacher features.

    Returns:
        ``(negative_sum, negative_count)``, each ``(C,)`` float32.
    """
    teacher_features = tf.cast(teacher_features, tf.float32)
    channels = teacher_features.shape[-1]
    flat = tf.reshape(teacher_features, [-1, channels])  # (samples * positions, C)
    negative = tf.cast(flat < 0.0, tf.float32)
    return tf.reduce_sum(flat * negative, axis=0), tf.reduce_sum(negative, axis=0)


def margin_from_statistics(negative_sum, negative_count):
    """The margin ``m = E[t | t < 0]`` per channel, from accumulated statistics.

    Channels with no negative response seen get ``m = 0``: the margin ReLU then
    never changes them (their responses are all >= 0), and any later negative
    response is treated as a plain ReLU would.

    Args:
        negative_sum: ``(C,)`` sum of the negative responses.
        negative_count: ``(C,)`` number of negative responses.

    Returns:
        ``(C,)`` float32 margins, all ``<= 0``.
    """
    return tf.math.divide_no_nan(tf.cast(negative_sum, tf.float32), tf.cast(negative_count, tf.float32))
