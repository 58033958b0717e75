"""OFD feature loss (Heo et al., ICCV 2019, "A Comprehensive Overhaul of Feature
Distillation"): margin ReLU on the teacher and the partial L2 distance."""

from __future__ import annotations

from keras import ops

from fdkd_tf.losses.reduction import divide_no_nan


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
    return ops.maximum(ops.cast(teacher_features, "float32"), ops.cast(margin, "float32"))


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
    student_features = ops.cast(student_features, "float32")
    target_features = ops.stop_gradient(ops.cast(target_features, "float32"))
    keep = ops.logical_or(student_features > target_features, target_features > 0.0)
    squared = ops.square(student_features - target_features) * ops.cast(keep, "float32")
    return ops.sum(ops.reshape(squared, (ops.shape(squared)[0], -1)), axis=-1)


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
        >>> import numpy as np
        >>> t = np.array([[1.0, -2.0]], "float32")
        >>> float(ofd_loss(np.array([[1.0, -3.0]], "float32"), t, np.array([-1.0, -1.0], "float32"))[0])
        0.0
    """
    return partial_l2(student_features, margin_relu(ops.stop_gradient(teacher_features), margin))


def negative_response_statistics(teacher_features):
    """Per-channel sum and count of the negative responses in a batch.

    Accumulated over the training data, they give the margin of `margin_relu`
    (see `margin_from_statistics`).

    Args:
        teacher_features: ``(batch, ..., C)`` pre-ReLU teacher features.

    Returns:
        ``(negative_sum, negative_count)``, each ``(C,)`` float32.
    """
    teacher_features = ops.cast(teacher_features, "float32")
    channels = teacher_features.shape[-1]
    flat = ops.reshape(teacher_features, (-1, channels))  # (samples * positions, C)
    negative = ops.cast(flat < 0.0, "float32")
    return ops.sum(flat * negative, axis=0), ops.sum(negative, axis=0)


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
    return divide_no_nan(ops.cast(negative_sum, "float32"), ops.cast(negative_count, "float32"))

