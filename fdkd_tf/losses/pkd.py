"""PKD feature loss (Cao et al., NeurIPS 2022, "PKD: General Distillation Framework
for Object Detectors via Pearson Correlation Coefficient")."""

from __future__ import annotations

from keras import ops

from fdkd_tf.losses.reduction import per_sample_mean


def _standardize_per_channel(features, epsilon: float):
    """Zero mean, unit (population) variance per sample and channel.

    A pooled vector ``(batch, D)`` is standardized over its ``D`` entries; a map
    ``(batch, ..., C)`` over its positions, channel by channel.
    """
    rank = len(features.shape)
    axes = (1,) if rank == 2 else tuple(range(1, rank - 1))
    # The variance is taken around the gradient-stopped mean, as TensorFlow's
    # `nn.moments` does (same value; the gradient is unchanged since the
    # deviations sum to 0).
    mean = ops.mean(features, axis=axes, keepdims=True)
    variance = ops.mean(ops.square(features - ops.stop_gradient(mean)), axis=axes, keepdims=True)
    return (features - mean) / (ops.sqrt(variance) + epsilon)


def pkd_loss(student_features, teacher_features, epsilon: float = 1e-6):
    """Per-sample ``MSE(z(s), z(t)) / 2 = 1 - Pearson(s, t)`` on standardized features.

    PKD standardizes student and teacher features to zero mean and unit
    variance and takes half their mean squared error, which is
    ``1 - r`` with ``r`` the Pearson correlation: the student imitates the
    teacher's *relative* activation pattern and is free in magnitude and offset,
    which matters when two networks (here two modalities) differ in scale. The
    original pools the statistics of each FPN channel over batch and positions;
    here they are per sample (over the ``D`` entries of a pooled feature, or over
    the positions of each channel of a map), so the loss of a sample does not
    depend on the rest of the batch and a step on several replicas equals one
    step on one device.

    Args:
        student_features: ``(batch, D)`` or ``(batch, ..., C)``, already mapped to
            the teacher's size.
        teacher_features: same shape; gradient stopped.
        epsilon: added to the standard deviation (1e-6 as in the original); a
            constant feature standardizes to zeros.

    Returns:
        ``(batch,)`` float32 losses in ``[0, 2]``; zero when the student feature
        is a positive affine map of the teacher's.

    Example:
        >>> import numpy as np
        >>> x = np.array([[1.0, 2.0, 4.0]], "float32")
        >>> float(pkd_loss(3.0 * x + 1.0, x)[0]) < 1e-6
        True
    """
    student_features = ops.cast(student_features, "float32")
    teacher_features = ops.stop_gradient(ops.cast(teacher_features, "float32"))
    if len(student_features.shape) < 2:
        raise ValueError(f"pkd_loss needs (batch, ...) features, got shape {student_features.shape}")
    difference = _standardize_per_channel(student_features, epsilon) - _standardize_per_channel(teacher_features, epsilon)
    return per_sample_mean(ops.square(difference)) / 2.0
