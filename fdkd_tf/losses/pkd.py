"""PKD feature loss (Cao et al., NeurIPS 2022, "PKD: General Distillation Framework
for Object Detectors via Pearson Correlation Coefficient")."""

from __future__ import annotations

from keras import ops

from fdkd_tf.losses.reduction import global_sum, per_sample_mean

STATISTICS = ("batch", "sample")


def standardize_over_batch(features, epsilon: float):
    """Each channel to zero mean, unit sample standard deviation over batch and positions.

    What the official loss (OpenMMLab mmrazor, ``PKDLoss.norm``) does to an
    ``(N, C, H, W)`` map: channel ``c``'s ``N * H * W`` values are centred and divided
    by their standard deviation plus ``epsilon``, with the unbiased (n - 1) variance of
    ``torch.Tensor.std``, its default there. A pooled ``(batch, D)`` feature is the
    map with one position. Under a multi-replica `tf.distribute` context the sums run
    over the global batch (`global_sum`), so R replicas standardise exactly as one
    device with the whole batch (the original, under PyTorch DDP, takes each GPU's
    own statistics). A single value (n = 1) standardises to 0.
    """
    rank = len(features.shape)
    axes = tuple(range(rank - 1))  # every axis but the channel
    local_count = ops.cast(ops.prod(ops.shape(features)[:-1]), "float32")
    count = global_sum(local_count)
    mean = global_sum(ops.sum(features, axis=axes, keepdims=True)) / count
    squares = global_sum(ops.sum(ops.square(features - mean), axis=axes, keepdims=True))
    variance = squares / ops.maximum(count - 1.0, 1.0)
    return (features - mean) / (ops.sqrt(variance) + epsilon)


def standardize_per_sample(features, epsilon: float):
    """Each sample to zero mean, unit population variance: over its ``D`` entries
    (pooled), or over its positions, channel by channel (map). Independent of the batch."""
    rank = len(features.shape)
    axes = (1,) if rank == 2 else tuple(range(1, rank - 1))
    mean = ops.mean(features, axis=axes, keepdims=True)
    variance = ops.mean(ops.square(features - ops.stop_gradient(mean)), axis=axes, keepdims=True)
    return (features - mean) / (ops.sqrt(variance) + epsilon)


def pkd_loss(student_features, teacher_features, epsilon: float = 1e-6, statistics: str = "batch"):
    """``MSE(z(s), z(t)) / 2`` on standardized features, as one value per sample.

    PKD standardizes student and teacher features to zero mean and unit variance and
    takes half their mean squared error, ``1 - r`` with ``r`` the Pearson correlation:
    the student imitates the teacher's *relative* activation pattern and is free in
    magnitude and offset, which matters when two networks (here two modalities)
    differ in scale.

    ``statistics="batch"`` (default) is the authors' loss (mmrazor ``pkd_loss.py``):
    per-channel statistics over the (global) batch and positions
    (`standardize_over_batch`), and the mean of the squared differences over every
    element of the batch, returned per sample (each sample's mean), so the batch
    mean of the result is exactly the original loss (on one device and on R
    replicas, whose means the distillers average). ``"sample"`` is a variant that
    standardizes each sample on its own (`standardize_per_sample`), so a sample's
    loss does not depend on its batch; not the authors'.

    Args:
        student_features: ``(batch, D)`` or ``(batch, ..., C)``, already mapped to
            the teacher's size.
        teacher_features: same shape; gradient stopped.
        epsilon: added to the standard deviation (1e-6 as in the original); a
            constant feature standardizes to zeros.
        statistics: ``"batch"`` or ``"sample"``.

    Returns:
        ``(batch,)`` float32; their mean is the loss, in ``[0, 2]`` (at most
        ``2 (n - 1) / n`` with the unbiased variance of ``batch``), and zero when the
        student feature is a positive affine map of the teacher's (per channel for
        ``batch``, per sample for ``sample``).

    Example:
        >>> import numpy as np
        >>> x = np.array([[1.0, 2.0], [2.0, 5.0], [4.0, 3.0]], "float32")
        >>> float(np.mean(pkd_loss(3.0 * x + 1.0, x))) < 1e-6
        True
    """
    if statistics not in STATISTICS:
        raise ValueError(f"pkd_loss: statistics must be one of {', '.join(STATISTICS)}, got {statistics!r}")
    student_features = ops.cast(student_features, "float32")
    teacher_features = ops.stop_gradient(ops.cast(teacher_features, "float32"))
    if len(student_features.shape) < 2:
        raise ValueError(f"pkd_loss needs (batch, ...) features, got shape {student_features.shape}")
    standardize = standardize_over_batch if statistics == "batch" else standardize_per_sample
    difference = standardize(student_features, epsilon) - standardize(teacher_features, epsilon)
    # Every sample holds the same number of elements, so the batch mean of these
    # per-sample means is the mean over all elements of the batch, the original's.
    return per_sample_mean(ops.square(difference)) / 2.0
